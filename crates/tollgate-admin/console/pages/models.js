// Models: the names clients send, with their targets, fallbacks, prices and cache
// (/admin/v1/models).

import { resourcePage, rateLimitFields, rateLimitText } from '../lib/resource.js';
import { h, usd } from '../lib/dom.js';

export const fields = [
  { name: 'name', label: 'Name (what clients send)', required: true, placeholder: 'gpt-4o-mini' },
  { name: 'targets', label: 'Targets', type: 'json', required: true, emptyAs: [], help: 'A list of {"provider", "model", "weight"} (a target may carry its own "timeouts").', placeholder: '[{"provider": "openai", "model": "gpt-4o-mini", "weight": 1}]' },
  { name: 'fallbacks', label: 'Fallbacks', type: 'list', help: 'Other model names, tried in order when every target fails.' },
  { name: 'strategy', label: 'Strategy', type: 'select', options: ['weighted', 'latency'] },
  { name: 'price.input_per_mtok', label: 'Input price (USD / million tokens)', type: 'number' },
  { name: 'price.output_per_mtok', label: 'Output price (USD / million tokens)', type: 'number' },
  { name: 'price.cache_read_per_mtok', label: 'Cache-read price (USD / Mtok)', type: 'number' },
  { name: 'price.cache_write_per_mtok', label: 'Cache-write price (USD / Mtok)', type: 'number' },
  { name: 'max_output_tokens', label: 'Max output tokens', type: 'number', help: 'Reserved against budgets when a request sets no max_tokens.' },
  { name: 'cache.ttl_seconds', label: 'Cache TTL (seconds)', type: 'number', help: 'Leave empty for no response cache.' },
  { name: 'cache.scope', label: 'Cache scope', type: 'select', options: ['consumer', 'shared'] },
  { name: 'cache.charge_hits', label: 'Charge cache hits', type: 'bool' },
  { name: 'retries', label: 'Retries', type: 'json', rows: 2, placeholder: '{"attempts": 2, "backoff_ms": 100}' },
  { name: 'timeouts', label: 'Timeouts', type: 'json', rows: 2, placeholder: '{"connect_ms": 2000, "first_byte_ms": 30000}' },
  ...rateLimitFields(),
  { name: 'log_bodies', label: 'Keep request and response bodies in call records', type: 'checkbox' },
];

const targetText = (t) => `${t.provider}/${t.model}${t.weight && t.weight !== 1 ? ` ×${t.weight}` : ''}`;

export async function render(view, ctx) {
  await resourcePage(view, ctx, {
    title: 'Models',
    what: 'model',
    base: '/admin/v1/models',
    fields,
    columns: [
      { label: 'Targets', get: (r) => h('span', {}, (r.targets || []).map((t) => h('div', {}, h('code', {}, targetText(t))))) },
      { label: 'Fallbacks', get: (r) => r.fallbacks },
      { label: 'Price in / out', get: (r) => (r.price ? `${usd(r.price.input_per_mtok)} / ${usd(r.price.output_per_mtok)}` : '—') },
      { label: 'Cache', get: (r) => (r.cache ? `${r.cache.ttl_seconds}s, ${r.cache.scope || 'consumer'}` : 'off') },
      { label: 'Rate limit', get: (r) => rateLimitText(r.rate_limit) },
    ],
  });
}
