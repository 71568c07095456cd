// Logs: search (service, severity >=, body contains, trace id, attributes, time range), newest
// first with paging by the API's cursor, severity colours, a severity-stacked histogram of counts
// over time (/api/counts; drag across it to zoom the range), and live tail (/api/logs/tail,
// server-sent events read through fetch so the API key header can be sent).
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { request, qs, parseAttrFilters, attrsOf, authHeaders } from '../api.js';
import { navigate, urlWith, Link } from '../router.jsx';
import { rangeMs, fmtTime, nsToMs, tzLabel } from '../time.js';
import { TimeRange, Err, KV, Chart, severityClass, SEVERITIES, SEV_COLORS, bucketSeries } from '../components.jsx';
import { useServices } from './Traces.jsx';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'unknown'];
const PAGE = 100;

function logFilters(params) {
  const p = { service_name: params.service, severity_ge: params.sev, trace_id: params.trace };
  if (params.q) p.body_like = params.q;
  return [p, parseAttrFilters(params.attrs)];
}

// Attributes with "filter for" (=) and "filter out" (!=) buttons that extend the search.
function FilterKV({ obj, prefix, onFilter }) {
  const entries = Object.entries(obj || {});
  if (!entries.length) return <div class="muted">(none)</div>;
  return (
    <table class="kv"><tbody>
      {entries.map(([k, v]) => {
        const text = typeof v === 'object' ? JSON.stringify(v) : String(v);
        return (
          <tr><th>{k}</th><td>{text}
            {onFilter && typeof v !== 'object' && <span class="filter-btns">
              <button class="copy" title={`only ${k}=${text}`} onClick={(e) => { e.stopPropagation(); onFilter(prefix + k, '=', text); }}>+</button>
              <button class="copy" title={`without ${k}=${text}`} onClick={(e) => { e.stopPropagation(); onFilter(prefix + k, '!=', text); }}>−</button>
            </span>}
          </td></tr>
        );
      })}
    </tbody></table>
  );
}

function LogRow({ r, fresh, onFilter }) {
  const [open, setOpen] = useState(false);
  const t = nsToMs(r.time_unix_nano || r.observed_time_unix_nano || (r.event_ts && r.event_ts * 1e6));
  const sc = severityClass(r.severity_number);
  return (
    <>
      <tr class={'log ' + sc + (fresh ? ' fresh' : '')} onClick={() => setOpen(!open)}>
        <td class="ts">{fmtTime(t)}</td>
        <td><span class={'sev ' + sc}>{r.severity_text || sc.slice(4).toUpperCase()}</span></td>
        <td class="svc">{r.service_name}</td>
        <td class="body">{typeof r.body === 'string' ? r.body : JSON.stringify(r.body)}</td>
        <td class="mono">{r.trace_id ? <Link href={'/trace/' + r.trace_id + (r.span_id ? '?span=' + r.span_id : '')} class="trace-link" onClick={(e) => e.stopPropagation()}>{r.trace_id.slice(0, 8)}</Link> : ''}</td>
      </tr>
      {open && (
        <tr class="log-detail"><td colSpan="5">
          <div class="cols">
            <div><h3>Attributes</h3><FilterKV obj={attrsOf(r, 'log')} prefix="" onFilter={onFilter} /></div>
            <div><h3>Resource</h3><FilterKV obj={attrsOf(r, 'resource')} prefix="resource." onFilter={onFilter} /></div>
            <div><h3>Record</h3><KV obj={{ trace_id: r.trace_id, span_id: r.span_id, severity_number: r.severity_number, scope: r.scope_name, project: r.project_id }} /></div>
          </div>
        </td></tr>
      )}
    </>
  );
}

export function LogsPage({ params }) {
  const services = useServices();
  const [form, setForm] = useState(params);
  const [list, setList] = useState({});
  const [hist, setHist] = useState(null);
  const [cursors, setCursors] = useState([]);
  useEffect(() => setForm(params), [JSON.stringify(params)]);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const live = params.live === '1';
  const key = JSON.stringify({ ...params, live: undefined });

  useEffect(() => { setCursors([]); }, [key]);
  const cursor = cursors[cursors.length - 1];

  useEffect(() => {
    if (!params.run || live) return undefined;
    const ctl = new AbortController();
    const [from, to] = rangeMs(params.from, params.to);
    const [p, attrs] = logFilters(params);
    setList((l) => ({ ...l, loading: true, error: null }));
    request('/api/logs' + qs({ ...p, time_ms_from: from, time_ms_to: to, max_rows: PAGE, cursor }, attrs), { signal: ctl.signal })
      .then((r) => setList({ rows: r.rows, next: r.next_cursor, scan: r.scan }), (error) => { if (error.name !== 'AbortError') setList({ error }); });
    return () => ctl.abort();
  }, [key, cursor, live]);

  useEffect(() => {
    if (!params.run) return undefined;
    const ctl = new AbortController();
    const [from, to] = rangeMs(params.from, params.to);
    const [p, attrs] = logFilters(params);
    request('/api/counts' + qs({ table: 'logs', group_by: 'severity', buckets: 80, ...p, time_ms_from: from, time_ms_to: to }, attrs), { signal: ctl.signal })
      .then((r) => setHist(r), (error) => { if (error.name !== 'AbortError') setHist({ error }); });
    return () => ctl.abort();
  }, [key]);

  const addFilter = (k, op, v) => {
    const term = `${k}${op}${/[\s"]/.test(v) ? '"' + v.replace(/"/g, '') + '"' : v}`;
    navigate(urlWith('/logs', { ...params, attrs: ((params.attrs || '') + ' ' + term).trim(), run: '1' }));
  };
  const histData = useMemo(() => (hist && hist.buckets ? bucketSeries(hist, LEVELS) : null), [hist]);
  const histSeries = useMemo(() => LEVELS.map((l) => ({ label: l, stroke: SEV_COLORS[l] })), []);

  return (
    <div class="page">
      <form class="filters" id="log-search" onSubmit={(e) => { e.preventDefault(); navigate(urlWith('/logs', { ...form, run: '1' })); }}>
        <label>Service<select name="service" value={form.service || ''} onChange={set('service')}>
          <option value="">all services</option>{services.map((s) => <option value={s}>{s}</option>)}</select></label>
        <label>Severity ≥<select name="sev" value={form.sev || ''} onChange={set('sev')}>{SEVERITIES.map(([v, l]) => <option value={v}>{l}</option>)}</select></label>
        <label class="grow">Body contains<input name="q" value={form.q || ''} onInput={set('q')} placeholder="timeout" /></label>
        <label>Trace id<input name="trace" size="20" value={form.trace || ''} onInput={set('trace')} /></label>
        <label class="grow">Attributes<input name="attrs" value={form.attrs || ''} onInput={set('attrs')} placeholder="http.route=/cart" /></label>
        <label>Time<TimeRange from={form.from} to={form.to} onChange={(f, t) => setForm({ ...form, from: f, to: t })} /></label>
        <button type="submit" class="primary">Search</button>
        <button type="button" id="live-toggle" class={live ? 'live on' : 'live'} onClick={() => navigate(urlWith('/logs', { ...form, run: '1', live: live ? '' : '1' }))}>{live ? '■ Stop live tail' : '▶ Live tail'}</button>
      </form>
      {params.run && histData && (
        <div class="hist" id="log-histogram">
          <Chart data={histData} series={histSeries} bars stacked height={120}
            onSelect={(a, b) => navigate(urlWith('/logs', { ...params, from: String(a), to: String(b) }))} />
          {hist.sampled && <div class="muted">counts from the first {hist.total} matching rows only (cap reached)</div>}
        </div>
      )}
      {hist && hist.error && <Err error={hist.error} />}
      {live ? <LiveTail params={params} /> : (
        <>
          <Err error={list.error} />
          {!params.run && <p class="muted">Pick filters and search, or start the live tail.</p>}
          {list.rows && (
            <>
              <div class="summary">{list.rows.length} logs{cursors.length ? ` (page ${cursors.length + 1})` : ''}, newest first · times {tzLabel()}
                <span class="pager">
                  <button disabled={!cursors.length} onClick={() => setCursors(cursors.slice(0, -1))}>← Newer</button>
                  <button id="older" disabled={!list.next} onClick={() => setCursors([...cursors, list.next])}>Older →</button>
                </span>
              </div>
              <table class="grid logs" id="log-results"><tbody>{list.rows.map((r) => <LogRow r={r} onFilter={addFilter} />)}</tbody></table>
            </>
          )}
        </>
      )}
    </div>
  );
}

// Reads `text/event-stream` from fetch (EventSource cannot send an Authorization header).
async function readEvents(res, onEvent, signal) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  while (!signal.aborted) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i); buf = buf.slice(i + 2);
      let event = 'message'; const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) onEvent(event, data.join('\n'));
    }
  }
}

function LiveTail({ params }) {
  const [rows, setRows] = useState([]);
  const [status, setStatus] = useState('connecting');
  const [paused, setPaused] = useState(false);
  const pausedRef = useRef(false);
  const held = useRef([]);
  pausedRef.current = paused;
  useEffect(() => {
    const ctl = new AbortController();
    const [p, attrs] = logFilters(params);
    setRows([]);
    (async () => {
      try {
        const res = await fetch('/api/logs/tail' + qs(p, attrs), { headers: { ...authHeaders(), Accept: 'text/event-stream' }, signal: ctl.signal });
        if (!res.ok) { const t = await res.text(); setStatus('error: ' + (t ? (JSON.parse(t).error || t) : res.status)); return; }
        setStatus('connected');
        await readEvents(res, (event, data) => {
          if (event === 'log') {
            const r = JSON.parse(data);
            if (pausedRef.current) { held.current.push(r); return; }
            setRows((old) => [r, ...old].slice(0, 1000));
          } else if (event === 'dropped' || event === 'error') {
            setStatus(event + ': ' + data);
          }
        }, ctl.signal);
        setStatus((s) => (s.startsWith('dropped') || s.startsWith('error') ? s : 'disconnected'));
      } catch (e) { if (e.name !== 'AbortError') setStatus('disconnected: ' + e.message); }
    })();
    return () => ctl.abort();
  }, [JSON.stringify(params)]);
  return (
    <>
      <div class="summary" id="tail-status">
        <span class={'dot ' + (status === 'connected' ? 'ok' : 'bad')} /> Live tail {status} · {rows.length} received, newest on top · times {tzLabel()}
        <span class="pager">
          <button onClick={() => { if (paused) { setRows((old) => [...held.current.reverse(), ...old].slice(0, 1000)); held.current = []; } setPaused(!paused); }}>{paused ? `Resume (${held.current.length} held)` : 'Pause'}</button>
          <button onClick={() => setRows([])}>Clear</button>
        </span>
      </div>
      <table class="grid logs" id="tail-results"><tbody>{rows.map((r, i) => <LogRow r={r} fresh={i < 3} />)}</tbody></table>
    </>
  );
}
