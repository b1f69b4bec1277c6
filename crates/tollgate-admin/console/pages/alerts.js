// Alerts (GET /admin/v1/alerts): the webhook channels (declared under `alerts:` in
// the config file) and the recent deliveries with their outcome.

import { get, query } from '../lib/api.js';
import * as ui from '../lib/ui.js';
import { h, time, append } from '../lib/dom.js';

const statusKind = { delivered: 'ok', pending: 'warn', failed: 'bad' };

export async function render(view, ctx) {
  const a = await get(`/admin/v1/alerts${query({ limit: ctx.query.limit })}`);
  append(view, 
    ui.header('Alerts'),
    ui.section('Channels',
      h('p', { class: 'muted' }, 'Webhooks receiving budget thresholds (50/80/100%), low credits and dead provider keys. Declared under alerts: in the config file.'),
      ui.table([
        { label: 'Name', get: (c) => h('strong', {}, c.name) },
        { label: 'Webhook', get: (c) => h('code', {}, `${c.webhook_origin}/…`) },
        { label: 'Signed', get: (c) => (c.signed ? ui.pill('signed', 'ok') : ui.pill('unsigned', 'warn')) },
      ], a.channels, { empty: 'No alert channel is configured.' })),
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
    ], a.deliveries, { empty: 'No alert has been raised yet.' })),
  );
}
