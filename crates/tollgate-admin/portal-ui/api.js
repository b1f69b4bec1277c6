// The portal API client: every page goes through `api()`, which sends the session
// cookie (same origin), the CSRF header on writes, and turns the OpenAI-style error
// envelope into an ApiError carrying its message and the offending field.

const BASE = "/portal/v1";

export class ApiError extends Error {
  constructor(status, envelope) {
    const err = (envelope && envelope.error) || {};
    super(err.message || `The portal API answered ${status}`);
    this.status = status;
    this.code = err.code || null;
    this.param = err.param || null;
  }
}

/** Listeners told when the session is gone (a 401 on any call). */
const signedOut = new Set();
export function onSignedOut(fn) {
  signedOut.add(fn);
}

/**
 * The session's CSRF token (from the login answer, kept with the names shown in the
 * header): writes made with the session cookie must carry it as `x-csrf-token`, which
 * another site cannot read and so cannot forge.
 */
let csrf = null;
export function setCsrfToken(token) {
  csrf = typeof token === "string" && token ? token : null;
}

/**
 * Calls the portal API. `body` (an object) is sent as JSON. Answers the parsed JSON
 * (null for 204); throws ApiError for an error status.
 */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  const res = await fetch(BASE + path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!res.ok) {
    const e = new ApiError(res.status, json);
    if (res.status === 401 && path !== "/login") signedOut.forEach((fn) => fn(e));
    throw e;
  }
  return json;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
export const del = (path) => api("DELETE", path);
