// Alerts (/admin/v1/alerts): the webhook channels (from the config file's alerts:
// or made here) and the recent deliveries with their outcome. A channel's webhook
// and secret go in and never come out (the URL's path can hold a token): only the
// webhook's origin is shown, so editing asks for the webhook again, and an empty
// secret keeps the stored one.

import { query } from '../lib/api.js';
import * as ui from '../lib/ui.js';
import { h, time } from '../lib/dom.js';
import { resourcePage } from '../lib/resource.js';

export const BASE = '/admin/v1/alerts';

const statusKind = { delivered: 'ok', pending: 'warn', failed: 'bad' };

export const fields = [
  { name: 'name', label: 'Name', required: true },
  { name: 'webhook', label: 'Webhook URL', required: true, placeholder: 'https://hooks.example.com/…', help: 'http(s). Never shown again: only its origin is.' },
  { name: 'secret', label: 'Signing secret', secret: true, help: 'Deliveries carry x-tollgate-signature: sha256=HMAC of the body. Optional.' },
];

const editFields = [
  { ...fields[1], help: 'The stored URL is never shown: enter it again.' },
  { ...fields[2], help: 'Leave empty to keep the stored secret.' },
];

const deliveries = (a) =>
  ui.section('Recent deliveries', ui.table([
    { label: 'At', get: (d) => time(d.created_at) },
    { label: 'Type', get: (d) => d.type },
    { label: 'Scope', get: (d) => d.scope },
    { label: 'Threshold', get: (d) => (d.threshold_percent == null ? '—' : `${d.threshold_percent}%`) },
    { label: 'Channel', get: (d) => d.channel },
    { label: 'Status', get: (d) => ui.pill(d.status, statusKind[d.status]) },
    { label: 'Attempts', get: (d) => String(d.attempts) },
    { label: 'Last error', get: (d) => d.last_error },
    { label: 'Body', get: (d) => h('details', {}, h('summary', {}, 'payload'), h('pre', { class: 'doc' }, JSON.stringify(d.payload, null, 2))) },
  ], a.deliveries, { empty: 'No alert has been raised yet.' }));

export async function render(view, ctx) {
  await resourcePage(view, ctx, {
    title: 'Alerts',
    what: 'alert channel',
    base: BASE,
    listUrl: `${BASE}${query({ limit: ctx.query.limit })}`,
    rows: (a) => a.channels,
    fields,
    editFields: [fields[0], ...editFields],
    strip: ['source', 'created_at', 'updated_at', 'webhook_origin', 'signed'],
    intro: 'Webhooks receiving budget thresholds (50/80/100%), low credits and dead provider keys. Declared under alerts: in the config file, or made here.',
    columns: [
      { label: 'Webhook', get: (c) => h('code', {}, `${c.webhook_origin}/…`) },
      { label: 'Signed', get: (c) => (c.signed ? ui.pill('signed', 'ok') : ui.pill('unsigned', 'warn')) },
      { label: 'Source', get: (c) => c.source },
    ],
    after: deliveries,
  });
}
