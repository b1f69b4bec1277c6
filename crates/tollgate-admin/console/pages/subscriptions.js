// Subscriptions of consumers to services and prompt-APIs (/admin/v1/subscriptions):
// approve or reject pending ones, revoke approved ones.

import { api, get, seg, query } from '../lib/api.js';
import * as ui from '../lib/ui.js';
import { h, time, append } from '../lib/dom.js';

const STATES = ['pending', 'approved', 'rejected', 'revoked'];
const kind = { pending: 'warn', approved: 'ok', rejected: 'bad', revoked: 'bad' };

export async function render(view, ctx) {
  const status = ctx.query.status ?? 'pending';
  const cursor = ctx.query.cursor;
  const page = await get(`/admin/v1/subscriptions${query({ status, cursor })}`);
  const filter = h('select', { name: 'status', onchange: (e) => { location.hash = `#/subscriptions?status=${e.target.value}`; } },
    h('option', { value: '' }, 'all'), STATES.map((s) => h('option', { value: s }, s)));
  filter.value = status;
  const action = async (s, verb) => {
    if (verb === 'revoke' && !(await ui.confirm(`Revoke ${s.consumer}’s subscription to ${s.service}? Its calls fail at once.`, 'Revoke'))) return;
    const call = verb === 'revoke' ? () => api('DELETE', `/admin/v1/subscriptions/${seg(s.id)}`) : () => api('POST', `/admin/v1/subscriptions/${seg(s.id)}/${verb}`);
    if ((await ui.act(call, `Subscription ${verb === 'approve' ? 'approved' : verb === 'reject' ? 'rejected' : 'revoked'}`)) !== undefined) ctx.refresh();
  };
  const create = () => ui.formDialog('New subscription', [
    { name: 'consumer', label: 'Consumer', required: true },
    { name: 'service', label: 'Service or prompt-API', required: true },
  ], { submitLabel: 'Subscribe', submit: (b) => api('POST', '/admin/v1/subscriptions', b), done: () => ctx.refresh() });
  append(view, 
    ui.header('Subscriptions', h('label', { class: 'muted' }, 'Status ', filter), ctx.canWrite ? ui.button('New subscription', create, 'primary new') : null),
    ui.table([
      { label: 'Consumer', get: (s) => h('a', { href: ctx.href('consumers', s.consumer) }, s.consumer) },
      { label: 'Service / prompt-API', get: (s) => s.service },
      { label: 'Status', get: (s) => ui.pill(s.status, kind[s.status]) },
      { label: 'Requested', get: (s) => time(s.created_at) },
      { label: 'Updated', get: (s) => time(s.updated_at) },
      {
        label: '',
        class: 'actions',
        get: (s) => (ctx.canWrite ? h('span', {},
          s.status === 'pending' ? [ui.button('Approve', () => action(s, 'approve'), 'small primary approve'), ui.button('Reject', () => action(s, 'reject'), 'small danger reject')] : null,
          s.status === 'approved' ? ui.button('Revoke', () => action(s, 'revoke'), 'small danger revoke') : null) : ''),
      },
    ], page.data, { empty: status ? `No ${status} subscriptions.` : 'No subscriptions.', key: (s) => s.id }),
    page.next_cursor ? h('p', {}, h('a', { href: `#/subscriptions?status=${status}&cursor=${encodeURIComponent(page.next_cursor)}` }, 'Older →')) : null,
  );
}
