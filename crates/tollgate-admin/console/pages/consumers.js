// Consumers (/admin/v1/consumers) and, on a consumer's own page (#/consumers/NAME),
// its keys (a new key is shown once, with a copy button), its service credentials
// (basic, JWT, HMAC), its usage and its credits.

import { api, get, seg } from '../lib/api.js';
import * as ui from '../lib/ui.js';
import { h, time, usd, show, append } from '../lib/dom.js';
import { resourcePage, rateLimitFields, budgetFields, rateLimitText, budgetText } from '../lib/resource.js';
import { creditsPanel } from './limits.js';

export function consumerFields(teams = []) {
  return [
    { name: 'name', label: 'Name', required: true },
    { name: 'team', label: 'Team', type: 'select', options: teams, none: 'no team' },
    { name: 'models', label: 'Allowed models', type: 'list', help: 'Comma-separated; empty means every model.' },
    ...budgetFields(),
    ...rateLimitFields(),
    { name: 'credits_usd', label: 'Initial credits (USD)', type: 'number', help: 'A prepaid balance; top up later from the consumer’s page.' },
    { name: 'log_bodies', label: 'Keep request and response bodies in call records', type: 'checkbox' },
  ];
}

export const keyFields = [
  { name: 'name', label: 'Key name', placeholder: 'ci' },
  { name: 'expires_at', label: 'Expires at (RFC 3339)', placeholder: '2027-01-01T00:00:00Z', help: 'Empty: never.' },
  { name: 'models', label: 'Models', type: 'list', help: 'Empty: whatever the consumer may use.' },
  ...rateLimitFields(),
  ...budgetFields(),
];

/** Opens "new key" for a consumer; shows the key once, then calls done(created). */
export function newKey(consumer, done) {
  return ui.formDialog(`New key for ${consumer}`, keyFields, {
    submitLabel: 'Create key',
    submit: (body) => api('POST', `/admin/v1/consumers/${seg(consumer)}/keys`, body),
    done: (created) => {
      const d = ui.dialog('Key created', ui.secretOnce(`Key ${created.prefix}…`, created.key), ui.button('Done', () => {
        d.close();
        if (done) done(created);
      }, 'primary done'));
    },
  });
}

export async function render(view, ctx) {
  if (ctx.params[0]) return detail(view, ctx, ctx.params[0]);
  const teams = (await get('/admin/v1/teams')).map((t) => t.name);
  await resourcePage(view, ctx, {
    title: 'Consumers & keys',
    what: 'consumer',
    base: '/admin/v1/consumers',
    fields: consumerFields(teams),
    link: (r) => ctx.href('consumers', r.name),
    created: (r) => ctx.navigate('consumers', r.name),
    columns: [
      { label: 'Team', get: (r) => r.team },
      { label: 'Models', get: (r) => r.models || 'all' },
      { label: 'Budget', get: (r) => budgetText(r.budget) },
      { label: 'Rate limit', get: (r) => rateLimitText(r.rate_limit) },
    ],
  });
  return undefined;
}

async function detail(view, ctx, name) {
  const c = await get(`/admin/v1/consumers/${seg(name)}`);
  append(view, 
    ui.header(`Consumer ${c.name}`, h('a', { href: ctx.href('consumers') }, '← all consumers')),
    h('dl', { class: 'kv section' },
      h('dt', {}, 'Team'), h('dd', {}, show(c.team)),
      h('dt', {}, 'Models'), h('dd', {}, c.models ? c.models.join(', ') : 'all'),
      h('dt', {}, 'Budget'), h('dd', {}, budgetText(c.budget)),
      h('dt', {}, 'Rate limit'), h('dd', {}, rateLimitText(c.rate_limit))),
    ui.tabs([
      { label: 'Keys', render: (el) => keys(el, ctx, name) },
      { label: 'Credentials', render: (el) => credentials(el, ctx, name) },
      { label: 'Usage', render: (el) => usage(el, name) },
      { label: 'Credits', render: (el) => creditsPanel(el, ctx, name) },
    ]),
  );
}

async function keys(el, ctx, name) {
  const list = await get(`/admin/v1/consumers/${seg(name)}/keys`);
  const revoke = async (k) => {
    if (!(await ui.confirm(`Revoke key ${k.prefix}…? Requests with it fail at once.`, 'Revoke'))) return;
    if ((await ui.act(() => api('DELETE', `/admin/v1/keys/${seg(k.id)}`), 'Key revoked')) !== undefined) ctx.refresh();
  };
  append(el, 
    ctx.canWrite ? h('div', { class: 'page-header' }, h('span', { class: 'muted' }, 'Keys are stored hashed: only their prefix is shown.'), ui.button('New key', () => newKey(name, () => ctx.refresh()), 'primary new-key')) : null,
    ui.table([
      { label: 'Prefix', get: (k) => h('code', {}, `${k.prefix}…`) },
      { label: 'Name', get: (k) => k.name },
      { label: 'Models', get: (k) => k.models || 'all' },
      { label: 'Expires', get: (k) => time(k.expires_at) },
      { label: 'State', get: (k) => (k.revoked_at ? ui.pill('revoked', 'bad') : ui.pill('active', 'ok')) },
      { label: 'Created', get: (k) => time(k.created_at) },
      { label: '', class: 'actions', get: (k) => (ctx.canWrite && !k.revoked_at ? ui.button('Revoke', () => revoke(k), 'small danger revoke') : '') },
    ], list, { empty: 'No keys yet.', key: (k) => k.id }),
  );
}

const credentialFields = [
  { name: 'type', label: 'Type', type: 'select', required: true, options: ['basic', 'jwt', 'hmac'] },
  { name: 'username', label: 'Username (basic)' },
  { name: 'password', label: 'Password (basic)', type: 'password' },
  { name: 'issuer', label: 'Issuer (JWT)' },
  { name: 'algorithm', label: 'Algorithm (JWT)', type: 'select', options: ['HS256', 'RS256', 'ES256'] },
  { name: 'secret', label: 'Secret (JWT HS256)', type: 'password' },
  { name: 'public_key', label: 'Public key PEM (JWT RS256 / ES256)', type: 'textarea' },
  { name: 'access_key', label: 'Access key (HMAC)' },
  { name: 'secret_key', label: 'Secret key (HMAC)', type: 'password' },
];

async function credentials(el, ctx, name) {
  const list = await get(`/admin/v1/consumers/${seg(name)}/credentials`);
  const remove = async (c) => {
    if (!(await ui.confirm(`Delete this ${c.type} credential?`))) return;
    if ((await ui.act(() => api('DELETE', `/admin/v1/consumers/${seg(name)}/credentials/${seg(c.id)}`), 'Credential deleted')) !== undefined) ctx.refresh();
  };
  append(el, 
    h('p', { class: 'muted' }, 'Credentials for REST services that accept basic, JWT or HMAC authentication. Secrets are never shown again.'),
    ctx.canWrite ? ui.button('New credential', () => ui.formDialog('New credential', credentialFields, {
      submitLabel: 'Create',
      submit: (body) => api('POST', `/admin/v1/consumers/${seg(name)}/credentials`, body),
      done: () => ctx.refresh(),
    }), 'primary new-credential') : null,
    ui.table([
      { label: 'Type', get: (c) => c.type },
      { label: 'Identity', get: (c) => c.username || c.issuer || c.access_key },
      { label: 'Created', get: (c) => time(c.created_at) },
      { label: '', class: 'actions', get: (c) => (ctx.canWrite ? ui.button('Delete', () => remove(c), 'small danger') : '') },
    ], list, { empty: 'No credentials.' }),
  );
}

async function usage(el, name) {
  const u = await get(`/admin/v1/consumers/${seg(name)}/usage`);
  append(el, 
    h('div', { class: 'cards' },
      card(String(u.requests), `requests this ${u.period || 'period'}`),
      card(String(u.tokens.input), 'input tokens'),
      card(String(u.tokens.output), 'output tokens'),
      card(usd(u.cost_usd), 'cost'),
      card(u.credits_usd == null ? '—' : usd(u.credits_usd), 'credits left')),
    u.budget ? ui.section('Budget', h('p', {}, `${u.budget.scope}: ${usd(u.budget.used_usd ?? 0)} of ${usd(u.budget.limit_usd)} (${u.budget.period}), resets ${time(u.budget.resets_at)}`)) : null,
    ui.section('Usage document', h('pre', { class: 'doc' }, JSON.stringify(u, null, 2))),
  );
}

export const card = (n, l) => h('div', { class: 'card' }, h('div', { class: 'n' }, n), h('div', { class: 'l' }, l));
