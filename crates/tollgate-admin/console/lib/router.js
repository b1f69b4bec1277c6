// A hash router: `#/services/weather?tab=releases` is page `services` with params
// ['weather'] and query {tab: 'releases'}. Hash routes need nothing from the server
// (the page is always `/`) and survive a reload.

/** The current route: {page, params, query}. */
export function current() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, qs = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { page: parts[0] || 'home', params: parts.slice(1), query: Object.fromEntries(new URLSearchParams(qs)) };
}

/** A link target for a page and params: href('services', 'weather'). */
export function href(page, ...params) {
  return `#/${[page, ...params.map((p) => encodeURIComponent(p))].join('/')}`;
}

/** Goes to a route (adds a history entry). */
export function navigate(page, ...params) {
  location.hash = href(page, ...params);
}

/** Calls fn on every route change. */
export function onRoute(fn) {
  window.addEventListener('hashchange', () => fn(current()));
}
