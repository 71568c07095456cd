// Traces search: the read API's span filters (service, span name, status, duration range,
// attributes, time range) -> the matching spans grouped by trace, as a table and a
// duration-over-time scatter; a click on a dot or row opens the trace.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { request, qs, parseAttrFilters } from '../api.js';
import { navigate, urlWith, Link } from '../router.jsx';
import { rangeMs, fmtTime, fmtDuration, parseDuration, nsToMs, tzLabel } from '../time.js';
import { TimeRange, Err, Scatter, Chart, serviceColor, bucketSeries } from '../components.jsx';

export function useServices() {
  const [services, setServices] = useState([]);
  useEffect(() => {
    request('/api/services').then((r) => setServices([...new Set(r.services.map((s) => s.service_name))].sort()), () => {});
  }, []);
  return services;
}

const SORTS = { recent: (a, b) => b.start - a.start, longest: (a, b) => b.duration - a.duration, shortest: (a, b) => a.duration - b.duration, errors: (a, b) => b.errors - a.errors || b.start - a.start };

export function TracesPage({ params }) {
  const services = useServices();
  const [form, setForm] = useState(params);
  const [state, setState] = useState({ loading: false });
  useEffect(() => setForm(params), [JSON.stringify(params)]);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const submit = (extra = {}) => navigate(urlWith('/traces', { ...form, ...extra, run: '1' }));

  useEffect(() => {
    if (!params.run) return undefined;
    const ctl = new AbortController();
    const [from, to] = rangeMs(params.from, params.to);
    const limit = Math.min(10000, Number(params.limit) || 200);
    const filters = parseAttrFilters(params.attrs);
    const min = parseDuration(params.min); const max = parseDuration(params.max);
    if (min != null) filters.push(['duration_ms', '>=', String(min)]);
    if (max != null) filters.push(['duration_ms', '<=', String(max)]);
    const p = {
      time_ms_from: from, time_ms_to: to, max_rows: limit,
      service_name: params.service, status_code: params.status,
      select: 'trace_id,span_id,parent_span_id,name,service_name,start_time_unix_nano,duration_ms,status_code',
    };
    if (params.name) p.name_like = params.name;
    if (params.root === '1') p.parent_span_id = '';
    setState({ loading: true });
    request('/api/spans' + qs(p, filters), { signal: ctl.signal }).then((r) => {
      const byTrace = new Map();
      for (const s of r.rows) {
        let t = byTrace.get(s.trace_id);
        if (!t) { t = { id: s.trace_id, spans: [], services: new Set(), errors: 0 }; byTrace.set(s.trace_id, t); }
        t.spans.push(s); t.services.add(s.service_name);
        if (String(s.status_code).toLowerCase().includes('error')) t.errors++;
      }
      const traces = [...byTrace.values()].map((t) => {
        const top = t.spans.reduce((a, b) => (a.duration_ms >= b.duration_ms ? a : b));
        return { ...t, top, start: nsToMs(top.start_time_unix_nano), duration: top.duration_ms, services: [...t.services] };
      });
      setState({ loading: false, traces, truncated: r.next_cursor != null || r.truncated, rows: r.count, limit, scan: r.scan });
    }, (error) => { if (error.name !== 'AbortError') setState({ loading: false, error }); });
    return () => ctl.abort();
  }, [JSON.stringify(params)]);

  // Matching spans over time, errors stacked on the rest (/api/counts): the shape of the whole
  // match, not only the traces under the limit. Drag across it to narrow the time range.
  const [hist, setHist] = useState(null);
  useEffect(() => {
    if (!params.run) return undefined;
    const ctl = new AbortController();
    const [from, to] = rangeMs(params.from, params.to);
    const filters = parseAttrFilters(params.attrs);
    const min = parseDuration(params.min); const max = parseDuration(params.max);
    if (min != null) filters.push(['duration_ms', '>=', String(min)]);
    if (max != null) filters.push(['duration_ms', '<=', String(max)]);
    const p = { table: 'spans', group_by: 'status', buckets: 80, time_ms_from: from, time_ms_to: to, service_name: params.service, status_code: params.status };
    if (params.name) p.name_like = params.name;
    if (params.root === '1') p.parent_span_id = '';
    request('/api/counts' + qs(p, filters), { signal: ctl.signal }).then(setHist, () => setHist(null));
    return () => ctl.abort();
  }, [JSON.stringify(params)]);
  const histData = useMemo(() => (hist && hist.buckets ? bucketSeries(hist, ['ERROR', 'OK', 'UNSET']) : null), [hist]);
  const histSeries = useMemo(() => [{ label: 'error', stroke: '#ef4444' }, { label: 'ok', stroke: '#3b82f6' }, { label: 'unset', stroke: '#9ca3af' }], []);

  const sort = params.sort || 'recent';
  const traces = useMemo(() => (state.traces ? [...state.traces].sort(SORTS[sort] || SORTS.recent) : []), [state.traces, sort]);
  const maxDur = Math.max(1e-9, ...traces.map((t) => t.duration));
  const points = useMemo(() => traces.map((t) => ({ x: t.start, y: t.duration, error: t.errors > 0, size: t.spans.length, id: t.id, label: `${t.top.service_name}: ${t.top.name} — ${fmtDuration(t.duration)}` })), [traces]);

  return (
    <div class="page">
      <form class="filters" id="trace-search" onSubmit={(e) => { e.preventDefault(); submit(); }}>
        <label>Service<select name="service" value={form.service || ''} onChange={set('service')}>
          <option value="">all services</option>{services.map((s) => <option value={s}>{s}</option>)}</select></label>
        <label>Span name<input name="name" placeholder="contains, or LIKE with %" value={form.name || ''} onInput={set('name')} /></label>
        <label>Status<select name="status" value={form.status || ''} onChange={set('status')}>
          <option value="">any</option><option value="error">error</option><option value="ok">ok</option><option value="unset">unset</option></select></label>
        <label>Min duration<input name="min" size="7" placeholder="100ms" value={form.min || ''} onInput={set('min')} /></label>
        <label>Max duration<input name="max" size="7" placeholder="1.2s" value={form.max || ''} onInput={set('max')} /></label>
        <label class="grow">Attributes<input name="attrs" placeholder='http.route=/cart http.response.status_code>=500 resource.k8s.pod.name=x' value={form.attrs || ''} onInput={set('attrs')} /></label>
        <label>Time<TimeRange from={form.from} to={form.to} onChange={(f, t) => setForm({ ...form, from: f, to: t })} /></label>
        <label>Limit<input name="limit" size="5" value={form.limit || '200'} onInput={set('limit')} /></label>
        <label class="check"><input type="checkbox" name="root" checked={form.root === '1'} onChange={(e) => setForm({ ...form, root: e.target.checked ? '1' : '' })} />root spans only</label>
        <button type="submit" class="primary">Search</button>
      </form>
      <Err error={state.error} />
      {!params.run && <p class="muted">Pick filters and search. Every search is a link: copy the address to share it.</p>}
      {state.loading && <p class="muted">Searching…</p>}
      {state.traces && (
        <>
          <div class="summary" id="trace-summary">
            {traces.length} traces from {state.rows} matching spans
            {state.truncated && <span class="warn"> — the limit ({state.limit}) cut the results: narrow the filters or raise the limit</span>}
            <span class="muted"> · scanned {state.scan?.rows_scanned} rows in {state.scan?.elapsed_ms?.toFixed?.(1)} ms</span>
          </div>
          {histData && <div class="hist" id="span-histogram"><Chart data={histData} series={histSeries} bars stacked height={90}
            onSelect={(a, b) => navigate(urlWith('/traces', { ...params, from: String(a), to: String(b) }))} />
            <div class="muted">{hist.total} matching spans in the range{hist.sampled ? ' (counted from the newest 2,000,000)' : ''}</div></div>}
          <Scatter points={points} onPick={(p) => navigate('/trace/' + p.id)} />
          <table class="grid" id="trace-results">
            <thead><tr>
              <th>Trace</th><th>Services</th>
              <th><a href="#" onClick={(e) => { e.preventDefault(); navigate(urlWith('/traces', { ...params, sort: sort === 'longest' ? 'shortest' : 'longest' })); }}>Duration {sort === 'longest' ? '▼' : sort === 'shortest' ? '▲' : ''}</a></th>
              <th>Spans matched</th>
              <th><a href="#" onClick={(e) => { e.preventDefault(); navigate(urlWith('/traces', { ...params, sort: sort === 'errors' ? 'recent' : 'errors' })); }}>Errors {sort === 'errors' ? '▼' : ''}</a></th>
              <th><a href="#" onClick={(e) => { e.preventDefault(); navigate(urlWith('/traces', { ...params, sort: 'recent' })); }}>Start ({tzLabel()}) {sort === 'recent' ? '▼' : ''}</a></th>
            </tr></thead>
            <tbody>
              {traces.map((t) => (
                <tr class={t.errors ? 'has-error' : ''} onClick={() => navigate('/trace/' + t.id)}>
                  <td><Link href={'/trace/' + t.id} class="trace-link">{t.top.service_name}: {t.top.name}</Link> <span class="mono muted">{t.id.slice(0, 7)}</span></td>
                  <td>{t.services.map((s) => <span class="pill" style={{ borderColor: serviceColor(s) }}>{s}</span>)}</td>
                  <td><div class="durbar"><div style={{ width: (100 * t.duration) / maxDur + '%' }} /></div>{fmtDuration(t.duration)}</td>
                  <td>{t.spans.length}</td>
                  <td>{t.errors ? <span class="err-count">{t.errors}</span> : ''}</td>
                  <td>{fmtTime(t.start)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}
