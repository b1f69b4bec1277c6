// Home: on a fresh install (no provider yet) the first-run path: add a provider, a
// model, a consumer and its key, then call the gateway (curl and the OpenAI SDK).
// Otherwise an overview with the same snippets.

import { api, get } from '../lib/api.js';
import * as ui from '../lib/ui.js';
import { h, replace, append } from '../lib/dom.js';
import { KINDS, addProvider } from './providers.js';
import { fields as modelFields } from './models.js';
import { consumerFields, newKey, card } from './consumers.js';

/** The curl and OpenAI-SDK snippets for a model and key. */
export function snippets(gatewayUrl, model, key) {
  const base = `${gatewayUrl}/v1`;
  const curl = `curl ${base}/chat/completions \\
  -H "Authorization: Bearer ${key}" \\
  -H "Content-Type: application/json" \\
  -d '{"model": "${model}", "messages": [{"role": "user", "content": "Hello!"}]}'`;
  const python = `from openai import OpenAI

client = OpenAI(base_url="${base}", api_key="${key}")
reply = client.chat.completions.create(
    model="${model}",
    messages=[{"role": "user", "content": "Hello!"}],
)
print(reply.choices[0].message.content)`;
  return h('div', { class: 'snippets' }, h('h3', {}, 'curl'), ui.codeBlock(curl), h('h3', {}, 'OpenAI SDK (Python)'), ui.codeBlock(python));
}

export async function render(view, ctx) {
  const [providers, models, consumers, services] = await Promise.all([
    get('/admin/v1/providers'),
    get('/admin/v1/models'),
    get('/admin/v1/consumers'),
    get('/admin/v1/services'),
  ]);
  append(view, ui.header('Home'));
  if (providers.length === 0 || models.length === 0 || consumers.length === 0) {
    append(view, setup(ctx, providers, models, consumers));
    return;
  }
  let pending = null;
  try {
    pending = (await get('/admin/v1/subscriptions?status=pending')).data.length;
  } catch {
    pending = null;
  }
  append(view, 
    h('div', { class: 'cards' },
      link(ctx, 'providers', card(String(providers.length), 'providers')),
      link(ctx, 'models', card(String(models.length), 'models')),
      link(ctx, 'consumers', card(String(consumers.length), 'consumers')),
      link(ctx, 'services', card(String(services.length), 'services')),
      pending === null ? null : link(ctx, 'subscriptions', card(String(pending), 'subscriptions to approve'))),
    ui.section('Call the gateway', h('p', { class: 'muted' }, `Gateway: ${ctx.gatewayUrl}. Use a consumer key (create one on a consumer’s page).`), snippets(ctx.gatewayUrl, models[0].name, 'YOUR_KEY')),
  );
}

const link = (ctx, page, el) => h('a', { href: ctx.href(page) }, el);

/** The first-run steps; each done step is ticked, the first open one has its button. */
function setup(ctx, providers, models, consumers) {
  const steps = h('ol', { class: 'steps' });
  const out = h('div', { class: 'setup' });
  const result = h('div', { class: 'setup-result' });
  const again = () => ctx.refresh();
  const writer = ctx.canWrite;
  const step = (done, title, text, action) => h('li', { class: done ? 'done' : '' }, h('strong', {}, title), h('div', { class: 'muted' }, text), !done && writer ? action : null);
  const kindButtons = h('div', { class: 'actions kind-buttons' }, KINDS.map((k) => ui.button(k.label, () => addProvider(k.value, again), 'small', { dataset: undefined, 'data-kind': k.value })));
  append(steps, 
    step(providers.length > 0, 'Add a provider', 'Connect an upstream account: its kind, base URL and API keys.', kindButtons),
    step(models.length > 0, 'Add a model', 'The name clients send, and the provider models it goes to.', providers.length > 0 ? ui.button('Add a model', () => ui.formDialog('New model', modelFields, {
      initial: { targets: [{ provider: providers[0].name, model: '', weight: 1 }] },
      submitLabel: 'Create',
      submit: (body) => api('POST', '/admin/v1/models', body),
      done: again,
    }), 'primary add-model') : null),
    step(consumers.length > 0, 'Add a consumer and its key', 'An application that calls the gateway, and the key it sends.', models.length > 0 ? ui.button('Add a consumer', () => ui.formDialog('New consumer', consumerFields(), {
      submitLabel: 'Create',
      submit: (body) => api('POST', '/admin/v1/consumers', body),
      done: (c) => newKey(c.name, (k) => {
        replace(result, ui.section('Call the gateway', snippets(ctx.gatewayUrl, models[0].name, k.key)), ui.button('Continue', again, 'primary'));
      }),
    }), 'primary add-consumer') : null),
    h('li', {}, h('strong', {}, 'Call the gateway'), h('div', { class: 'muted' }, `Point any OpenAI or Anthropic SDK at ${ctx.gatewayUrl}.`), snippets(ctx.gatewayUrl, models[0] ? models[0].name : 'MODEL', 'YOUR_KEY')),
  );
  append(out, 
    ui.notice('info', 'Welcome to Tollgate. Four steps to a first request through the gateway:'),
    writer ? null : ui.notice('warn', `The ${ctx.role} role cannot change anything; ask an operator to set up.`),
    steps,
    result,
  );
  return out;
}
