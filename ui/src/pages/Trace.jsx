// Trace view: the waterfall. Rows are virtualised (fixed height; only the rows in view plus a
// buffer are in the DOM), so a 10,000-span trace scrolls like a 10-span one. Bars sit on the
// trace's time axis (zoomable from the minimap), coloured by service; errors are marked (● own
// error, ○ an error below a collapsed or visible descendant); the critical path is drawn under the
// bars; events are ticks on their bar. Subtrees collapse; a span's details open in a side panel;
// find-in-trace highlights matches with next/previous and a matches-only mode. ?span= and ?find=
// keep the selection and search in the URL.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { request, attrsOf, qs } from '../api.js';
import { navigate, urlWith, Link } from '../router.jsx';
import { fmtTime, fmtDuration, nsToMs, tzLabel } from '../time.js';
import { Err, KV, Copy, serviceColor as hashColor, PALETTE } from '../components.jsx';

const ROW = 24;
const BUFFER = 30;

const isError = (s) => String(s.status_code || '').toLowerCase().includes('error');

function buildModel(answer) {
  const spans = answer.spans.map((r) => ({
    id: r.span_id, parent: r.parent_span_id || '', name: r.name, service: r.service_name || '',
    kind: r.kind, start: nsToMs(r.start_time_unix_nano), end: nsToMs(r.end_time_unix_nano),
    dur: r.duration_ms, status: r.status_code, statusMessage: r.status_message, error: isError(r),
    row: r, events: r.events || [], links: r.links || [], children: [], depth: 0, critical: false, errBelow: false,
  }));
  const byId = new Map(spans.map((s) => [s.id, s]));
  const roots = [];
  for (const s of spans) {
    const p = s.parent && byId.get(s.parent);
    if (p && p !== s) p.children.push(s); else roots.push(s);
  }
  const byStart = (a, b) => a.start - b.start;
  roots.sort(byStart);
  let t0 = Infinity; let t1 = -Infinity;
  for (const s of spans) { s.children.sort(byStart); t0 = Math.min(t0, s.start); t1 = Math.max(t1, s.end); }
  // Depth-first order (iterative: deep traces must not overflow the stack), depth, errors below.
  const order = [];
  const stack = roots.slice().reverse().map((s) => [s, 0]);
  while (stack.length) {
    const [s, d] = stack.pop();
    s.depth = d; order.push(s);
    for (let i = s.children.length - 1; i >= 0; i--) stack.push([s.children[i], d + 1]);
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const s = order[i];
    const p = byId.get(s.parent);
    if (p && (s.error || s.errBelow)) p.errBelow = true;
  }
  // Critical path: from each root, the child that finishes last before the current cutoff is on
  // the path; its start becomes the next cutoff (the path is what the parent waited on).
  const mark = (root) => {
    const work = [[root, root.end]];
    while (work.length) {
      const [s, cutoff0] = work.pop();
      s.critical = true;
      let cutoff = Math.min(cutoff0, s.end);
      const kids = s.children.slice().sort((a, b) => b.end - a.end);
      for (const c of kids) {
        if (c.end <= cutoff + 1e-9 && c.start >= s.start - 1e-9) { work.push([c, c.end]); cutoff = c.start; }
      }
    }
  };
  roots.forEach(mark);
  const services = [...new Set(spans.map((s) => s.service))];
  traceColors = new Map(services.map((sv, i) => [sv, i < PALETTE.length ? PALETTE[i] : hashColor(sv)]));
  const maxDepth = order.reduce((m, s) => Math.max(m, s.depth), 0);
  return { spans, byId, roots, order, t0, t1, services, maxDepth, errors: spans.filter((s) => s.error).length };
}

function matches(s, term) {
  if (!term) return false;
  const eq = /^([^=]+)=(.*)$/.exec(term);
  const attrs = { ...attrsOf(s.row, 'span'), ...attrsOf(s.row, 'resource') };
  if (eq) {
    const [, k, v] = eq;
    if (k === 'service' || k === 'service.name') return s.service === v;
    if (k === 'name') return s.name === v;
    return k in attrs && String(typeof attrs[k] === 'object' ? JSON.stringify(attrs[k]) : attrs[k]) === v;
  }
  const t = term.toLowerCase();
  if (s.name.toLowerCase().includes(t) || s.service.toLowerCase().includes(t) || s.id.includes(t)) return true;
  for (const [k, v] of Object.entries(attrs)) if (k.toLowerCase().includes(t) || String(typeof v === 'object' ? JSON.stringify(v) : v).toLowerCase().includes(t)) return true;
  return s.events.some((e) => String(e.name).toLowerCase().includes(t));
}

// Services of one trace get distinct colours (palette order); beyond the palette, a hash.
let traceColors = new Map();
function serviceColor(name) { return traceColors.get(name) || hashColor(name); }

export function TracePage({ id, params }) {
  const [state, setState] = useState({ loading: true });
  const [collapsed, setCollapsed] = useState(() => new Set());
  const [scrollTop, setScrollTop] = useState(0);
  const [viewH, setViewH] = useState(600);
  const [view, setView] = useState([0, 1]);  // zoom window, fractions of the trace
  const [onlyMatches, setOnlyMatches] = useState(false);
  const [find, setFind] = useState(params.find || '');
  const [cursor, setCursor] = useState(-1);
  const scroller = useRef(null);
  const selected = params.span || '';

  useEffect(() => {
    const ctl = new AbortController();
    setState({ loading: true });
    const t = performance.now();
    request('/api/traces/' + encodeURIComponent(id), { signal: ctl.signal }).then((answer) => {
      const model = buildModel(answer);
      setState({ model, fetchedMs: performance.now() - t });
      window.__otlakeTraceTiming = { fetchAndModelMs: performance.now() - t, spans: model.spans.length };
    }, (error) => { if (error.name !== 'AbortError') setState({ error }); });
    return () => ctl.abort();
  }, [id]);

  useEffect(() => {
    const el = scroller.current;
    if (!el) return undefined;
    const ro = new ResizeObserver(() => setViewH(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, [state.model]);

  const model = state.model;
  const term = (params.find || '').trim();
  const matchSet = useMemo(() => {
    if (!model || !term) return null;
    return new Set(model.order.filter((s) => matches(s, term)).map((s) => s.id));
  }, [model, term]);

  const rows = useMemo(() => {
    if (!model) return [];
    if (onlyMatches && matchSet) return model.order.filter((s) => matchSet.has(s.id));
    const out = [];
    let skipDepth = -1;
    for (const s of model.order) {
      if (skipDepth >= 0) { if (s.depth > skipDepth) continue; skipDepth = -1; }
      out.push(s);
      if (collapsed.has(s.id) && s.children.length) skipDepth = s.depth;
    }
    return out;
  }, [model, collapsed, onlyMatches, matchSet]);

  const matchList = useMemo(() => (matchSet ? model.order.filter((s) => matchSet.has(s.id)) : []), [model, matchSet]);

  const setParam = (k, v) => navigate(urlWith('/trace/' + id, { ...params, [k]: v }), { replace: true });
  const select = (sid) => setParam('span', sid === selected ? '' : sid);
  const toggle = (s) => { const n = new Set(collapsed); n.has(s.id) ? n.delete(s.id) : n.add(s.id); setCollapsed(n); };
  const scrollToSpan = (sid) => {
    // Expand the ancestors of a span, then scroll it into view.
    const n = new Set(collapsed);
    let p = model.byId.get(model.byId.get(sid)?.parent);
    while (p) { n.delete(p.id); p = model.byId.get(p.parent); }
    setCollapsed(n);
    setTimeout(() => {
      const idx = (onlyMatches && matchSet ? model.order.filter((s) => matchSet.has(s.id)) : null)?.findIndex((s) => s.id === sid);
      const list = idx != null && idx >= 0 ? idx : rowsIndexAfterExpand(model, n, sid);
      if (scroller.current) scroller.current.scrollTop = Math.max(0, list * ROW - viewH / 3);
    }, 0);
  };
  const step = (d) => {
    if (!matchList.length) return;
    const c = (cursor + d + matchList.length) % matchList.length;
    setCursor(c);
    setParam('span', matchList[c].id);
    scrollToSpan(matchList[c].id);
  };

  if (state.error) return <div class="page"><Err error={state.error} /><p><Link href="/traces">Back to search</Link></p></div>;
  if (!model) return <div class="page"><p class="muted">Loading trace {id}…</p></div>;

  const [v0, v1] = view;
  const span0 = model.t0 + v0 * (model.t1 - model.t0);
  const total = Math.max(1e-6, (v1 - v0) * (model.t1 - model.t0));
  const pos = (t) => ((t - span0) / total) * 100;
  const first = Math.max(0, Math.floor(scrollTop / ROW) - BUFFER);
  const last = Math.min(rows.length, Math.ceil((scrollTop + viewH) / ROW) + BUFFER);
  const sel = selected && model.byId.get(selected);
  const root = model.roots[0];
  const ticks = [0, 0.25, 0.5, 0.75, 1];

  return (
    <div class="page trace-page">
      <div class="trace-head">
        <h1>{root ? `${root.service}: ${root.name}` : id}</h1>
        <div class="facts">
          <span>Trace <span class="mono" id="trace-id">{id.slice(0, 7)}</span><Copy text={id} /></span>
          <span>Start {fmtTime(model.t0)} {tzLabel()}</span>
          <span>Duration {fmtDuration(model.t1 - model.t0)}</span>
          <span>Services {model.services.length}</span>
          <span>Depth {model.maxDepth + 1}</span>
          <span id="span-count">Spans {model.spans.length}</span>
          {model.errors > 0 && <span class="err-count">{model.errors} errors</span>}
          <Link href={urlWith('/logs', { trace: id, from: String(Math.floor(model.t0 - 60000)), to: String(Math.ceil(model.t1 + 60000)), run: '1' })}>Logs of this trace</Link>
          <a href={'/api/traces/' + id + '?format=otlp'} target="_blank" rel="noreferrer">OTLP JSON</a>
        </div>
        <div class="services">{model.services.map((s) => <span class="pill" style={{ borderColor: serviceColor(s) }}><i style={{ background: serviceColor(s) }} />{s}</span>)}</div>
      </div>
      <Minimap model={model} view={view} setView={setView} />
      <div class="trace-tools">
        <form onSubmit={(e) => { e.preventDefault(); setCursor(-1); setParam('find', find); }}>
          <input name="find" placeholder="find in trace: text, or key=value" value={find} onInput={(e) => setFind(e.target.value)} />
        </form>
        {matchSet && <span id="match-count">{matchSet.size} matches</span>}
        <button onClick={() => step(-1)} disabled={!matchList.length} title="previous match">↑</button>
        <button onClick={() => step(1)} disabled={!matchList.length} title="next match">↓</button>
        <label class="check"><input type="checkbox" checked={onlyMatches} onChange={(e) => setOnlyMatches(e.target.checked)} disabled={!matchSet} />matches only</label>
        <span class="spacer" />
        <button onClick={() => setCollapsed(new Set(model.spans.filter((s) => s.children.length && s.depth >= 1).map((s) => s.id)))}>Collapse all</button>
        <button onClick={() => setCollapsed(new Set())}>Expand all</button>
        {(v0 > 0 || v1 < 1) && <button onClick={() => setView([0, 1])}>Reset zoom</button>}
      </div>
      <div class="waterfall-wrap">
        <div class="waterfall">
          <div class="wf-header">
            <div class="wf-label">Service: operation</div>
            <div class="wf-axis">{ticks.map((f) => <span style={{ left: f * 100 + '%' }}>{fmtDuration(span0 - model.t0 + f * total)}</span>)}</div>
          </div>
          <div class="wf-body" ref={scroller} id="waterfall" onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}>
            <div style={{ height: rows.length * ROW + 'px', position: 'relative' }}>
              {rows.slice(first, last).map((s, i) => {
                const left = pos(s.start); const width = Math.max(0.15, pos(s.end) - left);
                const color = serviceColor(s.service);
                const cls = ['wf-row', s.id === selected ? 'selected' : '', matchSet && matchSet.has(s.id) ? 'match' : '', s.error ? 'has-err' : ''].join(' ');
                return (
                  <div class={cls} data-span-id={s.id} style={{ top: (first + i) * ROW + 'px' }} onClick={() => select(s.id)}>
                    <div class="wf-label" style={{ paddingLeft: Math.min(s.depth, 40) * 12 + 4 + 'px' }}>
                      {s.children.length
                        ? <button class="tw" onClick={(e) => { e.stopPropagation(); toggle(s); }} title={collapsed.has(s.id) ? 'expand' : 'collapse'}>{collapsed.has(s.id) ? '▸' : '▾'}</button>
                        : <span class="tw" />}
                      <i class="svc" style={{ background: color }} />
                      {s.error ? <span class="err-mark" title="error">●</span> : s.errBelow ? <span class="err-mark hollow" title="an error below">○</span> : null}
                      <span class="svc-name">{s.service}</span> <span class="op">{s.name}</span>
                      {collapsed.has(s.id) && <span class="muted"> (+{countBelow(s)})</span>}
                    </div>
                    <div class="wf-track">
                      <div class={'bar' + (s.critical ? ' critical' : '') + (s.error ? ' error' : '')} style={{ left: left + '%', width: width + '%', background: color }}>
                        {s.events.map((e) => { const t = nsToMs(e.time_unix_nano); const w = pos(s.end) - left || 1; return <i class="ev" title={e.name} style={{ left: ((pos(t) - left) / w) * 100 + '%' }} />; })}
                      </div>
                      {left + width <= 85
                        ? <span class="dur" style={{ left: left + width + '%' }}>{fmtDuration(s.dur)}</span>
                        : width > 8
                          ? <span class="dur inside" style={{ right: Math.max(0, 100 - left - width) + '%' }}>{fmtDuration(s.dur)}</span>
                          : <span class="dur before" style={{ right: 100 - left + '%' }}>{fmtDuration(s.dur)}</span>}
                    </div>
                  </div>
                );
              })}
            </div>
          </div>
        </div>
        {sel && <SpanPanel s={sel} model={model} onClose={() => setParam('span', '')} />}
      </div>
    </div>
  );
}

function countBelow(s) {
  let n = 0; const st = [...s.children];
  while (st.length) { const c = st.pop(); n++; st.push(...c.children); }
  return n;
}

function rowsIndexAfterExpand(model, collapsed, sid) {
  let i = 0; let skip = -1;
  for (const s of model.order) {
    if (skip >= 0) { if (s.depth > skip) continue; skip = -1; }
    if (s.id === sid) return i;
    i++;
    if (collapsed.has(s.id) && s.children.length) skip = s.depth;
  }
  return 0;
}

// An overview of every span; drag across it to zoom the waterfall to that window.
function Minimap({ model, view, setView }) {
  const ref = useRef(null);
  const [drag, setDrag] = useState(null);
  useEffect(() => {
    const c = ref.current; if (!c) return;
    const dpr = window.devicePixelRatio || 1; const w = c.clientWidth; const h = 48;
    c.width = w * dpr; c.height = h * dpr;
    const g = c.getContext('2d'); g.scale(dpr, dpr);
    const n = model.order.length; const rowH = Math.max(h / n, 0.05);
    const T = model.t1 - model.t0 || 1;
    model.order.forEach((s, i) => {
      g.fillStyle = s.error ? '#ef4444' : serviceColor(s.service);
      g.fillRect(((s.start - model.t0) / T) * w, (i * h) / n, Math.max(1, ((s.end - s.start) / T) * w), Math.max(1, rowH));
    });
  }, [model]);
  const frac = (e) => { const b = ref.current.getBoundingClientRect(); return Math.min(1, Math.max(0, (e.clientX - b.left) / b.width)); };
  return (
    <div class="minimap" onMouseDown={(e) => setDrag([frac(e), frac(e)])}
      onMouseMove={(e) => drag && setDrag([drag[0], frac(e)])}
      onMouseUp={() => { if (drag && Math.abs(drag[1] - drag[0]) > 0.005) setView([Math.min(...drag), Math.max(...drag)]); setDrag(null); }}>
      <canvas ref={ref} />
      <div class="mm-window" style={{ left: view[0] * 100 + '%', width: (view[1] - view[0]) * 100 + '%' }} />
      {drag && <div class="mm-drag" style={{ left: Math.min(...drag) * 100 + '%', width: Math.abs(drag[1] - drag[0]) * 100 + '%' }} />}
    </div>
  );
}

function SpanPanel({ s, model, onClose }) {
  const [linkState, setLinkState] = useState({});
  useEffect(() => {
    // A link is clickable when its trace exists in the lake (any time: time_ms_from=0).
    setLinkState({});
    for (const l of s.links) {
      if (!l.linked_trace_id || linkState[l.linked_trace_id] !== undefined) continue;
      request('/api/spans' + qs({ trace_id: l.linked_trace_id, time_ms_from: 0, max_rows: 1, select: 'span_id' }))
        .then((r) => setLinkState((st) => ({ ...st, [l.linked_trace_id]: r.count > 0 })), () => setLinkState((st) => ({ ...st, [l.linked_trace_id]: false })));
    }
  }, [s.id]);
  return (
    <aside class="span-panel" id="span-panel">
      <div class="panel-head">
        <h2>{s.name}</h2>
        <button class="ghost" onClick={onClose} title="close">✕</button>
      </div>
      <table class="kv"><tbody>
        <tr><th>service</th><td><span class="pill" style={{ borderColor: serviceColor(s.service) }}>{s.service}</span></td></tr>
        <tr><th>span id</th><td class="mono">{s.id} <Copy text={s.id} /> <Copy text={location.origin + '/trace/' + model.order[0]?.row.trace_id + '?span=' + s.id} label="link" /></td></tr>
        <tr><th>parent</th><td class="mono">{s.parent || '(root)'}</td></tr>
        <tr><th>kind</th><td>{s.kind}</td></tr>
        <tr><th>start</th><td>{fmtTime(s.start)} {tzLabel()} (+{fmtDuration(s.start - model.t0)})</td></tr>
        <tr><th>duration</th><td>{fmtDuration(s.dur)}{s.critical ? ' · on the critical path' : ''}</td></tr>
        <tr><th>status</th><td class={s.error ? 'err-text' : ''}>{s.status}{s.statusMessage ? ': ' + s.statusMessage : ''}</td></tr>
      </tbody></table>
      <h3>Attributes</h3>
      <div id="span-attributes"><KV obj={attrsOf(s.row, 'span')} /></div>
      <h3>Resource</h3>
      <KV obj={attrsOf(s.row, 'resource')} />
      {Object.keys(attrsOf(s.row, 'scope')).length > 0 && <><h3>Scope</h3><KV obj={attrsOf(s.row, 'scope')} /></>}
      <h3>Events ({s.events.length})</h3>
      {s.events.map((e) => (
        <div class="event"><b>{e.name}</b> <span class="muted">+{fmtDuration(nsToMs(e.time_unix_nano) - s.start)}</span><KV obj={attrsOf(e, 'event')} empty="" /></div>
      ))}
      <h3>Links ({s.links.length})</h3>
      {s.links.map((l) => (
        <div class="event mono">
          {linkState[l.linked_trace_id]
            ? <Link href={'/trace/' + l.linked_trace_id + '?span=' + l.linked_span_id}>{l.linked_trace_id} / {l.linked_span_id}</Link>
            : <span title={linkState[l.linked_trace_id] === false ? 'not in this lake' : 'checking…'}>{l.linked_trace_id} / {l.linked_span_id}</span>}
          <KV obj={attrsOf(l, 'link')} empty="" />
        </div>
      ))}
    </aside>
  );
}
