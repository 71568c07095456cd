// Time ranges as they appear in URLs: `now-1h`, `now`, an ISO date-time or epoch milliseconds.
// Display follows the local/UTC switch (localStorage 'otlake.tz'), labelled on every timestamp.
const UNITS = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };
export const PRESETS = [['5m', 'now-5m'], ['15m', 'now-15m'], ['1h', 'now-1h'], ['6h', 'now-6h'], ['24h', 'now-24h'], ['7d', 'now-7d'], ['30d', 'now-30d']];

export function parseTime(s, now = Date.now()) {
  if (s === undefined || s === null || s === '') return null;
  s = String(s).trim();
  if (s === 'now') return now;
  const rel = /^now-(\d+(?:\.\d+)?)([smhdw])$/.exec(s);
  if (rel) return now - Number(rel[1]) * UNITS[rel[2]];
  if (/^\d{10,}$/.test(s)) return Number(s);
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t;
}

export function rangeMs(from, to, now = Date.now()) {
  const f = parseTime(from || 'now-1h', now);
  const t = parseTime(to || 'now', now);
  return [f ?? now - 3600e3, t ?? now];
}

export function tzMode() { try { return localStorage.getItem('otlake.tz') || 'local'; } catch { return 'local'; } }
export function setTzMode(m) { try { localStorage.setItem('otlake.tz', m); } catch { /* ignore */ } }

const pad = (n, w = 2) => String(n).padStart(w, '0');
export function fmtTime(ms, { date = true, millis = true } = {}) {
  if (ms == null || Number.isNaN(ms)) return '';
  const d = new Date(ms);
  const utc = tzMode() === 'utc';
  const Y = utc ? d.getUTCFullYear() : d.getFullYear();
  const M = (utc ? d.getUTCMonth() : d.getMonth()) + 1;
  const D = utc ? d.getUTCDate() : d.getDate();
  const h = utc ? d.getUTCHours() : d.getHours();
  const m = utc ? d.getUTCMinutes() : d.getMinutes();
  const s = utc ? d.getUTCSeconds() : d.getSeconds();
  const ms3 = d.getUTCMilliseconds();
  let out = (date ? `${Y}-${pad(M)}-${pad(D)} ` : '') + `${pad(h)}:${pad(m)}:${pad(s)}`;
  if (millis) out += '.' + pad(ms3, 3);
  return out;
}
export function tzLabel() { return tzMode() === 'utc' ? 'UTC' : 'local'; }

export function fmtDuration(ms) {
  if (ms == null || Number.isNaN(ms)) return '';
  if (ms === 0) return '0 ms';
  if (ms < 1) return (ms * 1000).toFixed(ms < 0.01 ? 2 : 0) + ' µs';
  if (ms < 1000) return (ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0)) + ' ms';
  if (ms < 60000) return (ms / 1000).toFixed(2) + ' s';
  return (ms / 60000).toFixed(1) + ' min';
}

// "1.2s", "100ms", "500us", "2m" or a bare number of milliseconds -> milliseconds.
export function parseDuration(s) {
  if (!s) return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s|m|min|h)?\s*$/.exec(s);
  if (!m) return null;
  const v = Number(m[1]);
  const f = { us: 1e-3, 'µs': 1e-3, ms: 1, s: 1e3, m: 60e3, min: 60e3, h: 3600e3 }[m[2] || 'ms'];
  return v * f;
}

export function fmtBytes(n) {
  if (n == null) return '';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0; let v = n;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(1) : String(v)) + ' ' + u[i];
}
export const nsToMs = (ns) => (ns == null ? null : Number(ns) / 1e6);
