// Prompt-APIs (/admin/v1/prompt-apis): a model and a prompt template with
// {{variables}}, served as a REST endpoint on the gateway; with lifecycle buttons.

import { get } from '../lib/api.js';
import { h } from '../lib/dom.js';
import { resourcePage } from '../lib/resource.js';
import { lifecycleButtons, lifecyclePill } from './services.js';

export async function render(view, ctx) {
  const models = (await get('/admin/v1/models')).map((m) => m.name);
  await resourcePage(view, ctx, {
    title: 'Prompt-APIs',
    what: 'prompt-API',
    base: '/admin/v1/prompt-apis',
    intro: 'POST {"variables": {...}} to the path on the gateway; limits, budgets and failover of the model apply.',
    fields: [
      { name: 'name', label: 'Name', required: true },
      { name: 'path', label: 'Path (on the gateway)', required: true, placeholder: '/prompt/summarize' },
      { name: 'model', label: 'Model', type: 'select', required: true, options: models },
      { name: 'messages', label: 'Messages', type: 'json', rows: 6, emptyAs: [], placeholder: '[{"role": "system", "content": "Summarize in {{language}}."}, {"role": "user", "content": "{{text}}"}]' },
      { name: 'variables', label: 'Variables', type: 'json', rows: 3, placeholder: '[{"name": "text", "required": true}, {"name": "language", "default": "English"}]' },
      { name: 'max_tokens', label: 'Max tokens', type: 'number', required: true, default: 300 },
      { name: 'temperature', label: 'Temperature', type: 'number' },
      { name: 'description', label: 'Description', type: 'textarea', rows: 2 },
      { name: 'subscription.approval', label: 'Subscription', type: 'select', options: ['auto', 'manual'], none: 'not needed' },
      { name: 'lifecycle', label: 'Lifecycle (on create)', type: 'select', options: ['draft', 'published'], none: 'published' },
      { name: 'sunset_at', label: 'Sunset at (RFC 3339)' },
    ],
    columns: [
      { label: 'Path', get: (r) => h('code', {}, `POST ${r.path}`) },
      { label: 'Model', get: (r) => r.model },
      { label: 'Variables', get: (r) => (r.variables || []).map((v) => `${v.name}${v.required ? '*' : ''}`) },
      { label: 'Lifecycle', get: (r) => h('span', {}, lifecyclePill(r.lifecycle), ' ', lifecycleButtons(ctx, '/admin/v1/prompt-apis', r)) },
    ],
  });
}
