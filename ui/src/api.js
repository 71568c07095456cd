// The one way the UI talks to otlake: the public HTTP API (docs/http-api.md), same origin.
// The API key (with `otlake start --auth required`) is entered once and kept in sessionStorage,
// sent as `Authorization: Bearer`. A 401 asks for it (onNeedKey). At most two requests run at a
// time (the server runs one query per CPU and answers 503 + Retry-After beyond that, which is
// honoured by waiting and asking again, up to a few times).
const KEY = 'otlake.key';
let needKeyListener = null;
export function onNeedKey(fn) { needKeyListener = fn; }
export function getKey() { try { return sessionStorage.getItem(KEY) || ''; } catch { return ''; } }
export function setKey(k) { try { k ? sessionStorage.setItem(KEY, k) : sessionStorage.removeItem(KEY); } catch { /* private mode */ } }
export function authHeaders() {
  const k = getKey();
  return k ? { Authorization: 'Bearer ' + k } : {};
}

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

const MAX_IN_FLIGHT = 2;
let inFlight = 0;
const waiting = [];
function acquire() {
  if (inFlight < MAX_IN_FLIGHT) { inFlight++; return Promise.resolve(); }
  return new Promise((r) => waiting.push(r));
}
function release() {
  const next = waiting.shift();
  if (next) next(); else inFlight--;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function request(path, { method = 'GET', body, signal, raw = false, noPrompt = false } = {}) {
  for (let attempt = 0; ; attempt++) {
    await acquire();
    let res;
    try {
      res = await fetch(path, {
        method, signal,
        headers: { ...authHeaders(), ...(body ? { 'Content-Type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    } finally { release(); }
    if (res.status === 401 && !noPrompt) {
      if (needKeyListener) needKeyListener(true);
      throw new ApiError(401, 'an API key is needed (this server runs with --auth required)');
    }
    if (res.status === 503 && attempt < 5 && res.headers.get('Retry-After')) {
      await sleep(Math.min(5, Number(res.headers.get('Retry-After')) || 1) * 300 * (attempt + 1));
      continue;
    }
    if (raw) return res;
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    if (!res.ok) throw new ApiError(res.status, (json && (json.error || json.message)) || text || res.statusText);
    return json;
  }
}

// Builds a query string from [key, op, value] triples and plain {key: value} pairs. The read API
// writes comparisons into the parameter itself (`duration_ms>=250`, `attr.k!=v`).
export function qs(params, filters = []) {
  const parts = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(v));
  }
  for (const [k, op, v] of filters) {
    if (op === '=') parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(v));
    else if (op === '!=' || op === '>=' || op === '<=') parts.push(encodeURIComponent(k + op[0]) + '=' + encodeURIComponent(v));
    else parts.push(encodeURIComponent(k + op + v));  // > and <: no '=' in the piece
  }
  return parts.length ? '?' + parts.join('&') : '';
}

// Parses "http.route=/cart status>=500 resource.k8s.pod.name=x -k=v" into filter triples.
// Keys without a prefix are span/log/point attributes (attr.<key>); `resource.` and `scope.`
// keys stay; quotes allow spaces: k="a b".
export function parseAttrFilters(text) {
  const out = [];
  const re = /\s*([^\s=!<>]+)\s*(!=|>=|<=|=|>|<)\s*("([^"]*)"|\S*)/g;
  let m;
  while ((m = re.exec(text || ''))) {
    let key = m[1];
    if (!/^(attr|resource|scope)\./.test(key)) key = 'attr.' + key;
    out.push([key, m[2], m[4] !== undefined ? m[4] : m[3]]);
  }
  return out;
}

// An attribute column of a row: `span_attrs` (map) or, in older lakes, `span_attrs_json`.
export function attrsOf(row, prefix) {
  const v = row[prefix + '_attrs'] ?? row[prefix + '_attrs_json'];
  if (v == null) return {};
  if (typeof v === 'string') { try { return JSON.parse(v); } catch { return { value: v }; } }
  if (Array.isArray(v)) return Object.fromEntries(v.map((e) => Array.isArray(e) ? e : [e.key, e.value]));
  return v;
}
