// The admin API client every page uses: same-origin fetch with the session cookie,
// the session's CSRF token on every write, and the API's error envelope turned into
// an ApiError carrying `param` (the field to blame) for forms to show.

let csrf = null;
const signedOutHandlers = [];

/** An error answer of the admin API: status, message, code and the offending param. */
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || null;
    this.type = e.type || null;
    this.param = e.param || null;
  }
}

/** The CSRF token to send on writes (from the login answer or GET /admin/v1/session). */
export function setCsrf(token) {
  csrf = token || null;
}

/** Called when the API says the session is missing or expired (401). */
export function onSignedOut(fn) {
  signedOutHandlers.push(fn);
}

/**
 * Calls the API: api('GET', '/admin/v1/teams'), api('POST', path, body).
 * A body that is a string is sent as is with opts.contentType (OpenAPI import);
 * anything else as JSON. Answers the parsed JSON (null for 204), or the Response
 * itself with opts.raw (error answers too with opts.rawErrors: the playground shows
 * the gateway's own errors). Throws ApiError on an error status.
 */
export async function api(method, path, body, opts = {}) {
  const headers = { accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin' };
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['x-csrf-token'] = csrf;
  if (body !== undefined) {
    if (typeof body === 'string') {
      headers['content-type'] = opts.contentType || 'application/json';
      init.body = body;
    } else {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
  }
  const res = await fetch(path, init);
  if (opts.raw && (res.ok || opts.rawErrors)) return res;
  const text = await res.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = { error: { message: text.slice(0, 300) } };
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, json);
    if (res.status === 401 && !opts.noSignOut) signedOutHandlers.forEach((fn) => fn(err));
    throw err;
  }
  return json;
}

/** GET shorthand. */
export const get = (path, opts) => api('GET', path, undefined, opts);

/** Path segment encoding for names and ids taken from the API. */
export const seg = (s) => encodeURIComponent(String(s));

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}
