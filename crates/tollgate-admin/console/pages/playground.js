// The playground: pick a model, give a consumer key (typed, or made here for a
// consumer), send a chat — streamed — through the gateway, and see the answer as it
// comes, then its tokens, cost, latency and explain trail from the call record.
//
// The chat goes through POST /admin/v1/playground/chat, which relays it to this
// node's gateway listener with the key: the same origin for the browser (no CORS, the
// console's strict CSP unchanged), and exactly what a client's request goes through.

import { api, get, query, seg } from '../lib/api.js';
import * as ui from '../lib/ui.js';
import { h, append, replace, usd, show } from '../lib/dom.js';
import { explainView } from './calls.js';

const list = (x) => (Array.isArray(x) ? x : (x && x.data) || []);

/** Reads an SSE stream of chat chunks, calling onText with each piece of content. */
async function readStream(res, onText) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let usage = null;
  let error = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '[DONE]') continue;
      let chunk;
      try {
        chunk = JSON.parse(data);
      } catch {
        continue;
      }
      if (chunk.error) error = chunk.error.message || 'The stream ended with an error';
      const piece = chunk.choices && chunk.choices[0] && chunk.choices[0].delta && chunk.choices[0].delta.content;
      if (piece) onText(piece);
      if (chunk.usage) usage = chunk.usage;
    }
  }
  return { usage, error };
}

/**
 * The call record of a request, once the gateway has written it: looked for in the
 * recent calls (a list is a 200 even while the record is on its way, where asking
 * for the id would be a 404 each time).
 */
async function recordOf(requestId, since) {
  const from = new Date(since.getTime() - 5000).toISOString();
  for (let i = 0; i < 40; i += 1) {
    const page = await get(`/admin/v1/calls${query({ from, limit: 100 })}`);
    if (page.data.some((r) => r.request_id === requestId)) {
      const [record, explain] = await Promise.all([
        get(`/admin/v1/calls/${seg(requestId)}`),
        get(`/admin/v1/calls/${seg(requestId)}/explain`),
      ]);
      return { record, explain };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return null;
}

function stat(label, value, cls) {
  return h('div', { class: cls }, h('strong', {}, value), h('span', { class: 'muted' }, label));
}

export async function render(view, ctx) {
  const [models, consumers] = await Promise.all([get('/admin/v1/models'), get('/admin/v1/consumers')]);
  const modelSel = h('select', { id: 'pg-model', name: 'model' }, list(models).map((m) => h('option', { value: m.name }, m.name)));
  const keyInput = h('input', { id: 'pg-key', name: 'key', type: 'password', autocomplete: 'off', placeholder: 'a consumer key (tg-…)' });
  const consumerSel = h('select', { id: 'pg-consumer' }, list(consumers).map((c) => h('option', { value: c.name }, c.name)));
  const keyNote = h('div');
  const system = h('textarea', { id: 'pg-system', rows: 2, placeholder: 'optional' });
  const message = h('textarea', { id: 'pg-message', rows: 5 }, 'Say hello in one sentence.');
  const stream = h('input', { id: 'pg-stream', type: 'checkbox', checked: true });
  const maxTokens = h('input', { id: 'pg-max-tokens', type: 'number', min: 1, placeholder: 'model default' });
  const send = h('button', { type: 'submit', class: 'primary', id: 'pg-send' }, 'Send');
  const status = h('div');
  const answer = h('div', { class: 'answer', id: 'pg-answer' });
  const facts = h('div', { class: 'stats-row', id: 'pg-facts' });
  const explain = h('div', { id: 'pg-explain' });

  const makeKey = ui.button('Create a key', async () => {
    const created = await ui.act(() => api('POST', `/admin/v1/consumers/${seg(consumerSel.value)}/keys`, { name: 'playground' }), 'Key created');
    if (!created) return;
    keyInput.value = created.key;
    replace(keyNote, ui.secretOnce(`Key for ${created.consumer}`, created.key));
  }, 'new-key');

  const form = h('form', {
    class: 'form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      replace(status);
      replace(answer);
      replace(facts);
      replace(explain);
      if (!keyInput.value.trim()) {
        replace(status, ui.notice('error', 'Give a consumer key, or create one.'));
        return;
      }
      const messages = [];
      if (system.value.trim()) messages.push({ role: 'system', content: system.value });
      messages.push({ role: 'user', content: message.value });
      const request = { model: modelSel.value, messages, stream: stream.checked };
      if (stream.checked) request.stream_options = { include_usage: true };
      if (maxTokens.value) request.max_tokens = Number(maxTokens.value);
      send.disabled = true;
      const started = new Date();
      try {
        const res = await api('POST', '/admin/v1/playground/chat', { key: keyInput.value.trim(), request }, { raw: true, rawErrors: true, noSignOut: true });
        const requestId = res.headers.get('x-request-id');
        let outcome = { usage: null, error: null };
        if (!res.ok) {
          const body = await res.json().catch(() => ({}));
          outcome.error = `${res.status}: ${(body.error && body.error.message) || 'error'}${body.error && body.error.code ? ` (${body.error.code})` : ''}`;
        } else if ((res.headers.get('content-type') || '').startsWith('text/event-stream')) {
          outcome = await readStream(res, (piece) => answer.append(piece));
        } else {
          const body = await res.json();
          answer.append(show(body.choices && body.choices[0] && body.choices[0].message && body.choices[0].message.content));
          outcome.usage = body.usage || null;
        }
        if (outcome.error) replace(status, ui.notice('error', outcome.error));
        if (!requestId) return;
        append(facts, stat('request', h('a', { href: `#/calls/${encodeURIComponent(requestId)}` }, requestId)));
        const found = await recordOf(requestId, started);
        if (!found) {
          append(facts, stat('record', 'not written yet: see the call log'));
          return;
        }
        const r = found.record;
        append(facts,
          stat('status', String(r.status)),
          stat('tokens in / out', `${r.tokens.input} / ${r.tokens.output}`, 'pg-tokens'),
          stat('cost', usd(r.cost_usd), 'pg-cost'),
          stat('latency', `${r.latency_ms} ms`),
          r.ttft_ms === null || r.ttft_ms === undefined ? null : stat('first token', `${r.ttft_ms} ms`),
          stat('provider', `${show(r.provider)} / ${show(r.target_model)}`));
        replace(explain, h('h2', {}, 'Explain'), explainView(found.explain));
      } catch (e) {
        replace(status, ui.errorNotice(e));
      } finally {
        send.disabled = false;
      }
    },
  },
  h('div', { class: 'field' }, h('label', { for: 'pg-model' }, 'Model'), modelSel),
  h('div', { class: 'field' }, h('label', { for: 'pg-key' }, 'Consumer key'), keyInput),
  ctx.canWrite && list(consumers).length
    ? h('div', { class: 'field' }, h('label', { for: 'pg-consumer' }, 'or make one for'), h('div', { class: 'row' }, consumerSel, makeKey))
    : null,
  keyNote,
  h('div', { class: 'field' }, h('label', { for: 'pg-system' }, 'System prompt'), system),
  h('div', { class: 'field' }, h('label', { for: 'pg-message' }, 'Message'), message),
  h('div', { class: 'field check' }, h('label', { for: 'pg-stream' }, 'Stream the answer'), stream),
  h('div', { class: 'field' }, h('label', { for: 'pg-max-tokens' }, 'Max tokens'), maxTokens),
  h('div', { class: 'form-actions' }, send));

  append(view,
    ui.header('Playground'),
    h('p', { class: 'muted' }, 'Sends a chat through the gateway', ctx.gatewayUrl ? [' at ', h('code', {}, ctx.gatewayUrl)] : null,
      ' with a consumer key, as an application would: the key\'s limits, budgets and models apply, and the call is in the call log.'),
    list(models).length ? null : ui.notice('warn', 'No model yet: add a provider and a model first.'),
    h('div', { class: 'playground' },
      form,
      h('div', {}, status, h('h2', {}, 'Answer'), answer, facts, explain)));
}
