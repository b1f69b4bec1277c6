// REST services (/admin/v1/services) and, on #/services/NAME, a service's routes,
// upstream, lifecycle buttons (publish, deprecate, retire), releases with their diff
// against what runs now and a publish button (rollback = publish an older one), and
// its OpenAPI export.

import { api, get, seg } from '../lib/api.js';
import * as ui from '../lib/ui.js';
import { h, time, show, append } from '../lib/dom.js';
import { resourcePage } from '../lib/resource.js';

export const fields = [
  { name: 'name', label: 'Name', required: true },
  { name: 'path_prefix', label: 'Path prefix (on the gateway)', required: true, placeholder: '/svc/weather' },
  { name: 'description', label: 'Description', type: 'textarea', rows: 2 },
  { name: 'upstream.nodes', label: 'Upstream nodes', type: 'json', rows: 3, emptyAs: [], placeholder: '[{"url": "http://10.0.0.5:8000", "weight": 1}]' },
  { name: 'upstream.timeout_ms', label: 'Upstream timeout (ms)', type: 'number' },
  { name: 'routes', label: 'Routes', type: 'json', rows: 6, emptyAs: [], placeholder: '[{"name": "forecast", "methods": ["GET"], "path": "/forecast/{city}"}]' },
  { name: 'auth', label: 'Accepted credentials', type: 'list', placeholder: 'key, basic, jwt, hmac', help: 'Default: key.' },
  { name: 'rate_limit.requests_per_minute', label: 'Requests / minute per consumer', type: 'number' },
  { name: 'subscription.approval', label: 'Subscription', type: 'select', options: ['auto', 'manual'], none: 'not needed' },
  { name: 'lifecycle', label: 'Lifecycle (on create)', type: 'select', options: ['draft', 'published'], none: 'published' },
  { name: 'sunset_at', label: 'Sunset at (RFC 3339)', placeholder: '2027-06-30T00:00:00Z' },
];

const lifecycleKind = { draft: '', published: 'ok', deprecated: 'warn', retired: 'bad' };

/** The lifecycle buttons for the moves the API allows from `state`. */
export function lifecycleButtons(ctx, base, item) {
  if (!ctx.canWrite) return null;
  const moves = {
    draft: ['published'],
    published: ['deprecated', 'retired'],
    deprecated: ['published', 'retired'],
    retired: [],
  }[item.lifecycle || 'published'] || [];
  const label = { published: 'Publish', deprecated: 'Deprecate', retired: 'Retire' };
  const move = async (state) => {
    if (state === 'retired' && !(await ui.confirm(`Retire ${item.name}? Retired is final: its calls get 410.`, 'Retire'))) return;
    if ((await ui.act(() => api('PUT', `${base}/${seg(item.name)}/lifecycle`, { state }), `${item.name} is ${state}`)) !== undefined) ctx.refresh();
  };
  return h('span', { class: 'lifecycle' }, moves.map((s) => ui.button(label[s], () => move(s), `small lifecycle-${s}${s === 'retired' ? ' danger' : ''}`)));
}

export const lifecyclePill = (s) => ui.pill(s || 'published', lifecycleKind[s || 'published']);

export async function render(view, ctx) {
  if (ctx.params[0]) return detail(view, ctx, ctx.params[0]);
  await resourcePage(view, ctx, {
    title: 'Services',
    what: 'service',
    base: '/admin/v1/services',
    fields,
    link: (r) => ctx.href('services', r.name),
    headerActions: () => (ctx.canWrite ? h('a', { href: ctx.href('import') }, 'Import OpenAPI…') : null),
    columns: [
      { label: 'Prefix', get: (r) => h('code', {}, r.path_prefix) },
      { label: 'Routes', get: (r) => String((r.routes || []).length) },
      { label: 'Lifecycle', get: (r) => lifecyclePill(r.lifecycle) },
      { label: 'Subscription', get: (r) => (r.subscription ? r.subscription.approval : 'not needed') },
    ],
  });
  return undefined;
}

const routeColumns = [
  { label: 'Route', get: (r) => r.name },
  { label: 'Methods', get: (r) => r.methods },
  { label: 'Path', get: (r) => h('code', {}, r.path) },
  { label: 'Rewrite', get: (r) => (r.rewrite ? h('code', {}, r.rewrite) : '—') },
];

async function detail(view, ctx, name) {
  const s = await get(`/admin/v1/services/${seg(name)}`);
  append(view, 
    ui.header(`Service ${s.name}`, lifecyclePill(s.lifecycle), lifecycleButtons(ctx, '/admin/v1/services', s), h('a', { href: ctx.href('services') }, '← all services')),
    s.description ? h('p', {}, s.description) : null,
    h('dl', { class: 'kv section' },
      h('dt', {}, 'Gateway prefix'), h('dd', {}, h('code', {}, `${ctx.gatewayUrl}${s.path_prefix}`)),
      h('dt', {}, 'Upstream'), h('dd', {}, (s.upstream.nodes || []).map((n) => `${n.url} ×${n.weight ?? 1}`).join(', ')),
      h('dt', {}, 'Credentials'), h('dd', {}, show(s.auth || ['key'])),
      h('dt', {}, 'Subscription'), h('dd', {}, s.subscription ? s.subscription.approval : 'not needed'),
      h('dt', {}, 'Sunset'), h('dd', {}, time(s.sunset_at)),
      h('dt', {}, 'OpenAPI'), h('dd', {}, h('a', { href: `/admin/v1/services/${seg(s.name)}/openapi.json`, target: '_blank', rel: 'noopener' }, 'openapi.json'))),
    ui.tabs([
      { label: 'Routes', render: (el) => append(el, ui.table(routeColumns, s.routes, { empty: 'No routes.' })) },
      { label: 'Releases', render: (el) => releases(el, ctx, s) },
    ]),
  );
}

async function releases(el, ctx, s) {
  const base = `/admin/v1/services/${seg(s.name)}/releases`;
  const list = await get(base);
  const diffBox = h('div', { class: 'diff' });
  const showDiff = async (r) => {
    const d = await get(`${base}/${seg(r.version)}/diff`);
    const rows = [
      ...d.added.map((x) => ({ change: 'added now', route: x.name, detail: `${x.methods.join(',')} ${x.path}`, cls: 'diff-added' })),
      ...d.removed.map((x) => ({ change: 'not running now', route: x.name, detail: `${x.methods.join(',')} ${x.path}`, cls: 'diff-removed' })),
      ...d.changed.map((x) => ({ change: 'changed', route: x.route, detail: `${x.before.methods.join(',')} ${x.before.path} → ${x.after.methods.join(',')} ${x.after.path}` })),
    ];
    ui.replace(diffBox, ui.section(`Release ${r.version} against what runs now`,
      d.upstream_changed ? ui.notice('warn', 'The upstream differs.') : h('p', { class: 'muted' }, 'Same upstream.'),
      ui.table([
        { label: 'Change', get: (x) => h('span', { class: x.cls }, x.change) },
        { label: 'Route', get: (x) => x.route },
        { label: 'Methods and path', get: (x) => h('code', {}, x.detail) },
      ], rows, { empty: 'No route differs.' })));
  };
  const publish = async (r) => {
    if (!(await ui.confirm(`Publish release ${r.version}? It replaces the running routes and upstream.`, 'Publish'))) return;
    if ((await ui.act(() => api('POST', `${base}/${seg(r.version)}/publish`), `Release ${r.version} runs now`)) !== undefined) ctx.refresh();
  };
  append(el, 
    ctx.canWrite ? ui.button('New release', () => ui.formDialog('New release', [
      { name: 'version', label: 'Version', required: true, placeholder: '1.2.0' },
      { name: 'notes', label: 'Notes', type: 'textarea', rows: 3 },
    ], { submitLabel: 'Snapshot', submit: (b) => api('POST', base, b), done: () => ctx.refresh() }), 'primary new-release') : null,
    ui.table([
      { label: 'Version', get: (r) => h('strong', {}, r.version) },
      { label: 'Notes', get: (r) => r.notes },
      { label: 'Routes', get: (r) => String(r.routes.length) },
      { label: 'Created', get: (r) => time(r.created_at) },
      { label: '', class: 'actions', get: (r) => h('span', {}, ui.button('Diff', () => showDiff(r), 'small diff'), ctx.canWrite ? ui.button('Publish', () => publish(r), 'small publish') : null) },
    ], list, { empty: 'No releases yet: a release snapshots the routes, upstream and docs.' }),
    diffBox,
  );
}
