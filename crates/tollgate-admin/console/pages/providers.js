// Providers: upstream accounts (/admin/v1/providers), with the live health of each
// of their keys and the circuit breaker of each target (/admin/v1/routing). Keys go
// in and never come out: editing without typing keys keeps the stored ones.

import { api, get } from '../lib/api.js';
import * as ui from '../lib/ui.js';
import { h } from '../lib/dom.js';
import { resourcePage } from '../lib/resource.js';

/** The provider kinds with the base URL their vendor's SDK uses. */
export const KINDS = [
  { value: 'openai', label: 'OpenAI', base_url: 'https://api.openai.com/v1' },
  { value: 'anthropic', label: 'Anthropic', base_url: 'https://api.anthropic.com' },
  { value: 'gemini', label: 'Google Gemini', base_url: 'https://generativelanguage.googleapis.com' },
  { value: 'mistral', label: 'Mistral', base_url: 'https://api.mistral.ai/v1' },
  { value: 'ollama', label: 'Ollama (Llama models)', base_url: 'http://127.0.0.1:11434' },
  { value: 'azure_openai', label: 'Azure OpenAI', base_url: 'https://RESOURCE.openai.azure.com' },
  { value: 'openai_compatible', label: 'OpenAI-compatible (vLLM, OpenRouter, Groq…)', base_url: '' },
];

export function providerFields(kind) {
  const k = KINDS.find((x) => x.value === kind);
  return [
    { name: 'name', label: 'Name', required: true, default: kind ? kind.replace('_openai', '').replace('_compatible', '') : undefined },
    { name: 'kind', label: 'Kind', type: 'select', required: true, options: KINDS.map(({ value, label }) => ({ value, label })), default: kind },
    { name: 'base_url', label: 'Base URL', default: k ? k.base_url : undefined, placeholder: 'https://…', help: 'The base URL the vendor’s own SDK uses.' },
    { name: 'api_version', label: 'API version (Azure only)', placeholder: '2024-10-21' },
    { name: 'api_keys', label: 'API keys', type: 'list', secret: true, help: 'Comma-separated; several keys are balanced and failed over. None for Ollama. When editing, leave empty to keep the stored keys.' },
  ];
}

/** Opens the "new provider" form, preset for a kind; then calls done. */
export function addProvider(kind, done) {
  return ui.formDialog('New provider', providerFields(kind), {
    submitLabel: 'Create',
    submit: (body) => api('POST', '/admin/v1/providers', body),
    done,
  });
}

const keyState = (k) => ui.pill(`#${k.index} ${k.state}`, k.state === 'healthy' ? 'ok' : k.state === 'dead' ? 'bad' : 'warn');
const breakerState = (b) => ui.pill(`${b.target}: ${b.state}`, b.state === 'closed' ? 'ok' : b.state === 'open' ? 'bad' : 'warn');

export async function render(view, ctx) {
  const routing = await get('/admin/v1/routing');
  const health = new Map(routing.providers.map((p) => [p.provider, p]));
  await resourcePage(view, ctx, {
    title: 'Providers',
    what: 'provider',
    base: '/admin/v1/providers',
    fields: providerFields(),
    strip: ['source', 'created_at', 'updated_at', 'api_keys_count'],
    columns: [
      { label: 'Kind', get: (r) => r.kind },
      { label: 'Base URL', get: (r) => h('code', {}, r.base_url || '—') },
      { label: 'Keys', get: (r) => String(r.api_keys_count) },
      {
        label: 'Key health',
        get: (r) => {
          const p = health.get(r.name);
          if (!p || p.keys.length === 0) return h('span', { class: 'muted' }, r.api_keys_count ? 'not used yet' : '—');
          return h('span', {}, p.keys.map(keyState));
        },
      },
      {
        label: 'Circuit breakers',
        get: (r) => {
          const bs = routing.breakers.filter((b) => String(b.target).startsWith(`${r.name}/`));
          return bs.length ? h('span', {}, bs.map(breakerState)) : h('span', { class: 'muted' }, '—');
        },
      },
    ],
  });
}
