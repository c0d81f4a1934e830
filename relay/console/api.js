// The admin API as the page sees it: every call carries the session's bearer
// token, and every error becomes an ApiError with the API's own
// {"error": {"code", "message", "field", "details"}}.

const TOKEN_KEY = 'tern.console.token';
export const PREFIX = '/admin/v1';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `the relay answered ${status}`);
    this.status = status;
    this.code = e.code || 'http_' + status;
    this.field = e.field || '';
    this.details = Array.isArray(e.details) ? e.details : [];
  }
}

// Called with the ApiError when the token is refused (401), so the app can
// show the login form again.
let onUnauthenticated = () => {};
export function setUnauthenticatedHandler(fn) {
  onUnauthenticated = fn;
}

export function authHeaders(extra) {
  return Object.assign({Authorization: 'Bearer ' + token()}, extra || {});
}

// api('GET', '/sources') -> {status, body, etag}. Options: body (sent as
// JSON), ifMatch (an ETag), query (an object; empty values left out),
// signal. Throws ApiError for any status >= 400.
export async function api(method, path, options = {}) {
  const headers = authHeaders();
  let body;
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  if (options.ifMatch) headers['If-Match'] = options.ifMatch;
  const response = await fetch(PREFIX + path + queryString(options.query), {
    method, headers, body, signal: options.signal, cache: 'no-store',
  });
  const text = await response.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (response.status >= 400) {
    const err = new ApiError(response.status, json);
    if (response.status === 401) onUnauthenticated(err);
    throw err;
  }
  return {status: response.status, body: json, etag: response.headers.get('ETag') || ''};
}

export function queryString(query) {
  if (!query) return '';
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

// Every page of a list.
export async function listAll(path) {
  const items = [];
  let cursor = '';
  for (let i = 0; i < 100; i++) {
    const {body} = await api('GET', path, {query: {limit: 500, cursor}});
    items.push(...(body.items || []));
    if (!body.next_cursor) break;
    cursor = body.next_cursor;
  }
  return items;
}

export const enc = encodeURIComponent;
