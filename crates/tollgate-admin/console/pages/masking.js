// Data masking rules (/admin/v1/masking; docs/masking.md).

import * as ui from '../lib/ui.js';
import { resourcePage } from '../lib/resource.js';

export const BASE = '/admin/v1/masking';

export const fields = [
  { name: 'name', label: 'Name', required: true },
  { name: 'applies_to.models', label: 'Models', type: 'list', help: '"*" for all; empty for none. Leave models and services empty to apply everywhere.' },
  { name: 'applies_to.services', label: 'Services', type: 'list' },
  { name: 'direction', label: 'Direction', type: 'select', options: ['request', 'response', 'both'] },
  { name: 'detectors', label: 'Detectors', type: 'list', placeholder: 'email, phone, credit_card, iban, ip_address, api_key' },
  { name: 'keywords', label: 'Keywords', type: 'list' },
  { name: 'regex', label: 'Regular expressions', type: 'json', rows: 2, placeholder: '["EMP-[0-9]{6}"]' },
  { name: 'json_paths', label: 'JSON paths (services)', type: 'list', placeholder: '$.customer.ssn' },
  { name: 'action', label: 'Action', type: 'select', options: ['mask', 'block'] },
];

export async function render(view, ctx) {
  await resourcePage(view, ctx, {
    title: 'Masking',
    what: 'masking rule',
    base: BASE,
    fields,
    intro: 'Rules mask or block sensitive data in prompts sent to providers and in answers.',
    columns: [
      { label: 'Applies to', get: (r) => (r.applies_to ? JSON.stringify(r.applies_to) : 'everything') },
      { label: 'Direction', get: (r) => r.direction || 'both' },
      { label: 'Detectors', get: (r) => r.detectors },
      { label: 'Action', get: (r) => ui.pill(r.action || 'mask', r.action === 'block' ? 'bad' : 'warn') },
    ],
  });
}
