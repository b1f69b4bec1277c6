// Console users and their roles (/admin/v1/users; admins only).

import { time } from '../lib/dom.js';
import { resourcePage } from '../lib/resource.js';

const ROLES = ['admin', 'operator', 'viewer', 'developer'];

export async function render(view, ctx) {
  await resourcePage(view, ctx, {
    title: 'Users',
    what: 'user',
    key: 'username',
    base: '/admin/v1/users',
    intro: 'admin: everything; operator: every resource but users; viewer: read only; developer: the developer portal, bound to one consumer.',
    fields: [
      { name: 'username', label: 'Username', required: true },
      { name: 'password', label: 'Password', type: 'password', required: true, help: 'At least 8 characters.' },
      { name: 'role', label: 'Role', type: 'select', required: true, options: ROLES },
      { name: 'consumer', label: 'Consumer (developers only)' },
    ],
    editFields: [
      { name: 'username', label: 'Username' },
      { name: 'password', label: 'New password', type: 'password', help: 'Leave empty to keep the password. Changing it ends the user’s sessions.' },
      { name: 'role', label: 'Role', type: 'select', required: true, options: ROLES },
      { name: 'consumer', label: 'Consumer (developers only)' },
    ],
    columns: [
      { label: 'Role', get: (u) => u.role },
      { label: 'Consumer', get: (u) => u.consumer },
      { label: 'Created', get: (u) => time(u.created_at) },
    ],
  });
}
