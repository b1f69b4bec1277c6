// Limits, budgets and credits across consumers and teams: what is configured and
// what is used now (each consumer's usage document), and on #/limits/NAME the
// consumer's credit ledger with a top-up form.

import { api, get, seg } from '../lib/api.js';
import * as ui from '../lib/ui.js';
import { h, time, usd, append } from '../lib/dom.js';
import { rateLimitText, budgetText } from '../lib/resource.js';

/** The credit balance, ledger and (for writers) the top-up form of a consumer. */
export async function creditsPanel(el, ctx, name) {
  const credits = await get(`/admin/v1/consumers/${seg(name)}/credits`);
  append(el, 
    h('div', { class: 'cards' }, h('div', { class: 'card' }, h('div', { class: 'n credits-balance' }, usd(credits.balance_usd)), h('div', { class: 'l' }, 'credit balance'))),
    ctx.canWrite ? ui.section('Top up', ui.form([
      { name: 'amount_usd', label: 'Amount (USD)', type: 'number', required: true },
      { name: 'reason', label: 'Reason', required: true, placeholder: 'invoice 2026-11' },
      { name: 'kind', label: 'Kind', type: 'select', options: ['topup', 'refund', 'adjustment'], none: 'topup' },
    ], {
      submitLabel: 'Add credits',
      submit: (body) => api('POST', `/admin/v1/consumers/${seg(name)}/credits`, body),
      done: () => { ui.toast('Credits added'); ctx.refresh(); },
    })) : null,
    ui.section('Ledger', ui.table([
      { label: 'At', get: (e) => time(e.at) },
      { label: 'Kind', get: (e) => e.kind },
      { label: 'Amount', get: (e) => usd(e.amount_usd) },
      { label: 'Reason', get: (e) => e.reason },
      { label: 'By', get: (e) => e.actor },
      { label: 'Request', get: (e) => e.request_id },
    ], credits.entries, { empty: 'No ledger entries.' })),
  );
}

export async function render(view, ctx) {
  if (ctx.params[0]) {
    append(view, ui.header(`Credits of ${ctx.params[0]}`, h('a', { href: ctx.href('limits') }, '← all limits')));
    await creditsPanel(view, ctx, ctx.params[0]);
    return;
  }
  const [consumers, teams] = await Promise.all([get('/admin/v1/consumers'), get('/admin/v1/teams')]);
  // The usage documents of the first 100 consumers, in parallel.
  const usage = await Promise.all(consumers.slice(0, 100).map((c) => get(`/admin/v1/consumers/${seg(c.name)}/usage`).catch(() => null)));
  const byName = new Map(usage.filter(Boolean).map((u) => [u.consumer, u]));
  append(view, 
    ui.header('Limits, budgets, credits'),
    h('p', { class: 'muted' }, 'Edit limits on the consumer, team and model pages; top up credits here.'),
    ui.section('Consumers', ui.table([
      { label: 'Consumer', get: (c) => h('a', { href: ctx.href('consumers', c.name) }, c.name) },
      { label: 'Team', get: (c) => c.team },
      { label: 'Rate limit', get: (c) => rateLimitText(c.rate_limit) },
      { label: 'Budget', get: (c) => budgetText(c.budget) },
      { label: 'Spent this period', get: (c) => { const u = byName.get(c.name); return u ? usd(u.cost_usd) : '—'; } },
      {
        label: 'Budget used',
        get: (c) => {
          const b = byName.get(c.name)?.budget;
          if (!b || !b.limit_usd) return '—';
          const pct = Math.round((100 * (b.used_usd || 0)) / b.limit_usd);
          return ui.pill(`${pct}%`, pct >= 100 ? 'bad' : pct >= 80 ? 'warn' : 'ok');
        },
      },
      { label: 'Credits', get: (c) => { const u = byName.get(c.name); return u && u.credits_usd != null ? usd(u.credits_usd) : '—'; } },
      { label: '', class: 'actions', get: (c) => h('a', { href: ctx.href('limits', c.name), class: 'ledger' }, ctx.canWrite ? 'Ledger & top-up' : 'Ledger') },
    ], consumers, { empty: 'No consumers yet.', key: (c) => c.name })),
    ui.section('Teams', ui.table([
      { label: 'Team', get: (t) => t.name },
      { label: 'Rate limit', get: (t) => rateLimitText(t.rate_limit) },
      { label: 'Budget', get: (t) => budgetText(t.budget) },
    ], teams, { empty: 'No teams yet.' })),
  );
}
