// Shared pieces: the time range picker, a uPlot chart wrapper, the scatter plot of trace
// results, key/value tables and small helpers.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { PRESETS, fmtTime, tzMode, tzLabel } from './time.js';

export function TimeRange({ from, to, onChange }) {
  const [f, setF] = useState(from || 'now-1h');
  const [t, setT] = useState(to || 'now');
  useEffect(() => { setF(from || 'now-1h'); setT(to || 'now'); }, [from, to]);
  return (
    <span class="timerange">
      <select title="Quick range" value={PRESETS.some(([, v]) => v === f) && t === 'now' ? f : ''} onChange={(e) => { if (e.target.value) onChange(e.target.value, 'now'); }}>
        <option value="">custom</option>
        {PRESETS.map(([l, v]) => <option value={v}>last {l}</option>)}
      </select>
      <input name="from" size="12" title="From: now-1h, an ISO time or epoch ms" value={f} onInput={(e) => setF(e.target.value)} onBlur={() => onChange(f, t)} />
      <span>→</span>
      <input name="to" size="12" title="To: now, an ISO time or epoch ms" value={t} onInput={(e) => setT(e.target.value)} onBlur={() => onChange(f, t)} />
    </span>
  );
}

export function Err({ error }) {
  if (!error) return null;
  return <div class="error" role="alert">{String(error.message || error)}</div>;
}

export function KV({ obj, empty = '(none)' }) {
  const entries = Object.entries(obj || {});
  if (!entries.length) return <div class="muted">{empty}</div>;
  return (
    <table class="kv"><tbody>
      {entries.map(([k, v]) => <tr><th>{k}</th><td>{typeof v === 'object' ? JSON.stringify(v) : String(v)}</td></tr>)}
    </tbody></table>
  );
}

export function Copy({ text, label }) {
  const [done, setDone] = useState(false);
  return (
    <button class="copy" title={'Copy ' + text} onClick={(e) => {
      e.stopPropagation();
      navigator.clipboard?.writeText(text).then(() => { setDone(true); setTimeout(() => setDone(false), 1000); }, () => {});
    }}>{done ? 'copied' : (label || 'copy')}</button>
  );
}

// Stable colour per service name.
export const PALETTE = ['#3b82f6', '#10b981', '#f59e0b', '#8b5cf6', '#ec4899', '#14b8a6', '#f97316', '#6366f1', '#84cc16', '#06b6d4', '#a855f7', '#eab308'];
export function serviceColor(name) {
  let h = 0;
  for (let i = 0; i < (name || '').length; i++) h = (h * 31 + name.charCodeAt(i)) | 0;
  return PALETTE[Math.abs(h) % PALETTE.length];
}

// Grafana's level colours: critical purple, error red, warning yellow, info green, debug blue,
// trace light blue, unknown grey.
export function severityClass(n) {
  if (!n) return 'sev-unknown';
  if (n >= 21) return 'sev-fatal';
  if (n >= 17) return 'sev-error';
  if (n >= 13) return 'sev-warn';
  if (n >= 9) return 'sev-info';
  if (n >= 5) return 'sev-debug';
  return 'sev-trace';
}
export const SEVERITIES = [['', 'any'], ['1', 'TRACE'], ['5', 'DEBUG'], ['9', 'INFO'], ['13', 'WARN'], ['17', 'ERROR'], ['21', 'FATAL']];
export const SEV_COLORS = { trace: '#7dd3fc', debug: '#3b82f6', info: '#22c55e', warn: '#eab308', error: '#ef4444', fatal: '#a855f7', unknown: '#9ca3af' };

function themeColor(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

// A uPlot chart that follows its container's width. `data` is uPlot's column format
// ([xs, ys1, ys2, ...], x in seconds), `series` the per-y series options.
export function Chart({ data, series, height = 200, bars = false, stacked = false, onSelect, id, yLabel }) {
  const ref = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return undefined;
    const axisStroke = themeColor('--muted', '#888');
    const grid = themeColor('--grid', 'rgba(128,128,128,0.15)');
    const opts = {
      width: Math.max(200, el.clientWidth), height,
      tzDate: (ts) => (tzMode() === 'utc' ? uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC') : new Date(ts * 1e3)),
      cursor: { sync: { key: 'otlake' }, drag: { x: true, y: false } },
      legend: { show: series.length > 1 || !bars },
      scales: { x: { time: true } },
      axes: [
        { stroke: axisStroke, grid: { stroke: grid }, ticks: { stroke: grid } },
        { stroke: axisStroke, grid: { stroke: grid }, ticks: { stroke: grid }, label: yLabel, size: 60 },
      ],
      series: [{ label: 'time (' + tzLabel() + ')', value: (u, v) => (v == null ? '' : fmtTime(v * 1e3)) }, ...series.map((s) => ({
        ...s,
        ...(bars ? { paths: uPlot.paths.bars({ size: [0.9, 40] }), points: { show: false }, fill: s.stroke } : { width: 1.5, points: { show: data[0].length < 60 } }),
      }))],
      hooks: onSelect ? { setSelect: [(u) => {
        if (u.select.width < 3) return;
        const a = u.posToVal(u.select.left, 'x'); const b = u.posToVal(u.select.left + u.select.width, 'x');
        u.setSelect({ width: 0, height: 0 }, false);
        onSelect(Math.round(a * 1e3), Math.round(b * 1e3));
      }] } : {},
    };
    let d = data;
    if (stacked && bars) {
      // Draw stacked bars: each series holds the running sum of itself and those after it.
      d = [data[0], ...data.slice(1).map((_, i) => data[0].map((__, j) => data.slice(1 + i).reduce((acc, s) => acc + (s[j] || 0), 0)))];
    }
    plot.current = new uPlot(opts, d, el);
    const ro = new ResizeObserver(() => plot.current && plot.current.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => { ro.disconnect(); plot.current.destroy(); plot.current = null; };
  }, [data, series, height, bars, stacked]);
  return <div class="chart" id={id} ref={ref} />;
}

// Trace results: start time (x) against duration (y, log scale), red for errors; a click opens
// the trace. Canvas-drawn, so thousands of dots stay cheap.
export function Scatter({ points, onPick, height = 180 }) {
  const ref = useRef(null);
  const hits = useRef([]);
  const [hover, setHover] = useState(null);
  useEffect(() => {
    const c = ref.current;
    if (!c) return undefined;
    const draw = () => {
      const dpr = window.devicePixelRatio || 1;
      const w = c.clientWidth; const h = height;
      c.width = w * dpr; c.height = h * dpr;
      const g = c.getContext('2d');
      g.scale(dpr, dpr);
      g.clearRect(0, 0, w, h);
      const pad = { l: 60, r: 10, t: 10, b: 22 };
      if (!points.length) return;
      const xs = points.map((p) => p.x); const ys = points.map((p) => Math.max(p.y, 0.001));
      let x0 = Math.min(...xs); let x1 = Math.max(...xs); if (x1 === x0) { x0 -= 1000; x1 += 1000; }
      const ly0 = Math.log10(Math.min(...ys)) - 0.1; const ly1 = Math.log10(Math.max(...ys)) + 0.1;
      const X = (v) => pad.l + ((v - x0) / (x1 - x0)) * (w - pad.l - pad.r);
      const Y = (v) => h - pad.b - ((Math.log10(Math.max(v, 0.001)) - ly0) / (ly1 - ly0 || 1)) * (h - pad.t - pad.b);
      const muted = themeColor('--muted', '#888');
      g.strokeStyle = themeColor('--grid', 'rgba(128,128,128,.2)'); g.fillStyle = muted; g.font = '11px system-ui';
      for (let e = Math.ceil(ly0); e <= ly1; e++) {
        const y = Y(10 ** e); g.beginPath(); g.moveTo(pad.l, y); g.lineTo(w - pad.r, y); g.stroke();
        const v = 10 ** e; g.fillText(v >= 1000 ? v / 1000 + ' s' : v + ' ms', 4, y + 4);
      }
      g.fillText(fmtTime(x0, { date: false, millis: false }), pad.l, h - 6);
      const r = fmtTime(x1, { date: false, millis: false }) + ' ' + tzLabel();
      g.fillText(r, w - pad.r - g.measureText(r).width, h - 6);
      hits.current = [];
      for (const p of points) {
        const px = X(p.x); const py = Y(p.y); const rad = Math.min(9, 3 + Math.sqrt(p.size || 1));
        g.beginPath(); g.arc(px, py, rad, 0, 2 * Math.PI);
        g.fillStyle = p.error ? 'rgba(239,68,68,.8)' : 'rgba(59,130,246,.6)'; g.fill();
        hits.current.push({ px, py, rad, p });
      }
    };
    draw();
    const ro = new ResizeObserver(draw); ro.observe(c);
    return () => ro.disconnect();
  }, [points, height]);
  const find = (e) => {
    const b = ref.current.getBoundingClientRect(); const x = e.clientX - b.left; const y = e.clientY - b.top;
    let best = null; let bd = 1e9;
    for (const h of hits.current) { const d = (h.px - x) ** 2 + (h.py - y) ** 2; if (d < bd && d <= (h.rad + 3) ** 2) { bd = d; best = h; } }
    return best;
  };
  return (
    <div class="scatter-wrap">
      <canvas class="scatter" ref={ref} style={{ height: height + 'px' }} onClick={(e) => { const h = find(e); if (h) onPick(h.p); }}
        onMouseMove={(e) => setHover(find(e))} onMouseLeave={() => setHover(null)} />
      {hover && <div class="tip" style={{ left: hover.px + 8 + 'px', top: hover.py + 8 + 'px' }}>{hover.p.label}</div>}
    </div>
  );
}

// Counts per time bucket (/api/counts) for a histogram above a list.
export function bucketSeries(answer, groups) {
  const xs = answer.buckets.map((b) => b.t / 1e3);
  if (!groups) return [xs, answer.buckets.map((b) => b.count)];
  return [xs, ...groups.map((g) => answer.buckets.map((b) => (b.groups && b.groups[g]) || 0))];
}
