// Metrics: pick an instrument (and service) from /api/metrics/instruments; sums and gauges are
// line charts of /api/metrics/series (one line per group-by value); histograms and exponential
// histograms become percentile lines (p50/p90/p99) computed from their buckets
// (/api/metrics/hist). Charts share the cursor and the page's time range; drag to zoom.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { request, qs, parseAttrFilters } from '../api.js';
import { navigate, urlWith } from '../router.jsx';
import { rangeMs, nsToMs } from '../time.js';
import { TimeRange, Err, Chart, serviceColor } from '../components.jsx';

const LINE_COLORS = ['#3b82f6', '#10b981', '#f59e0b', '#ef4444', '#8b5cf6', '#ec4899', '#14b8a6', '#f97316', '#6366f1', '#84cc16'];
const HIST_TYPES = new Set(['histogram', 'exponentialhistogram', 'exponential_histogram', 'exp_histogram']);

// Bucket upper bounds and counts of one histogram row (explicit or exponential).
function bucketsOf(r) {
  try {
    if (r.bounds_json != null) {
      const bounds = (typeof r.bounds_json === 'string' ? JSON.parse(r.bounds_json) : r.bounds_json).map((b) => (typeof b === 'object' ? Number(b.$double) : b));
      const counts = (typeof r.counts_json === 'string' ? JSON.parse(r.counts_json) : r.counts_json).map(Number);
      return counts.map((c, i) => [i < bounds.length ? bounds[i] : (r.max ?? bounds[bounds.length - 1] ?? 0), c]);
    }
    if (r.exp_positive_json != null) {
      const pos = typeof r.exp_positive_json === 'string' ? JSON.parse(r.exp_positive_json) : r.exp_positive_json;
      const base = 2 ** (2 ** -Number(r.exp_scale || 0));
      const out = [[Number(r.exp_zero_threshold || 0), Number(r.exp_zero_count || 0)]];
      (pos.counts || pos.bucket_counts || []).forEach((c, i) => out.push([base ** (Number(pos.offset || 0) + i + 1), Number(c)]));
      return out;
    }
  } catch { /* malformed: no buckets */ }
  return [];
}
function quantile(buckets, q) {
  const total = buckets.reduce((a, [, c]) => a + c, 0);
  if (!total) return null;
  let acc = 0;
  for (const [ub, c] of buckets) { acc += c; if (acc >= q * total) return ub; }
  return buckets[buckets.length - 1][0];
}

export function MetricsPage({ params }) {
  const [form, setForm] = useState(params);
  const [instruments, setInstruments] = useState(null);
  const [chart, setChart] = useState({});
  useEffect(() => setForm(params), [JSON.stringify(params)]);
  const [from, to] = useMemo(() => rangeMs(params.from, params.to), [params.from, params.to]);

  useEffect(() => {
    request('/api/metrics/instruments' + qs({ time_ms_from: from, time_ms_to: to })).then((r) => setInstruments(r.instruments), (error) => setInstruments({ error }));
  }, [from, to]);

  const inst = Array.isArray(instruments) ? instruments.find((i) => i.instrument_name === params.instrument) : null;
  const isHist = inst && HIST_TYPES.has(String(inst.instrument_type).toLowerCase());

  useEffect(() => {
    if (!params.instrument || !inst) return undefined;
    const ctl = new AbortController();
    setChart({ loading: true });
    const base = { instrument_name: params.instrument, service_name: params.service, time_ms_from: from, time_ms_to: to };
    const attrs = parseAttrFilters(params.attrs);
    if (isHist) {
      request('/api/metrics/hist' + qs({ ...base, order: 'asc', max_rows: 10000 }, attrs), { signal: ctl.signal }).then((r) => {
        const rows = r.rows.map((row) => [nsToMs(row.time_unix_nano) / 1e3, bucketsOf(row)]).filter(([, b]) => b.length);
        const xs = rows.map(([t]) => t);
        const data = [xs, ...[0.5, 0.9, 0.99].map((q) => rows.map(([, b]) => quantile(b, q)))];
        setChart({ data, series: ['p50', 'p90', 'p99'].map((l, i) => ({ label: l, stroke: LINE_COLORS[i] })), count: rows.length });
      }, (error) => { if (error.name !== 'AbortError') setChart({ error }); });
    } else {
      request('/api/metrics/series' + qs({ ...base, group_by: params.group, agg: params.agg, buckets: 120 }, attrs), { signal: ctl.signal }).then((r) => {
        const xs = r.times.map((t) => t / 1e3);
        const data = [xs, ...r.series.map((s) => s.values)];
        setChart({ data, series: r.series.map((s, i) => ({ label: s.key || params.instrument, stroke: params.group === 'service_name' ? serviceColor(s.key) : LINE_COLORS[i % LINE_COLORS.length] })), count: r.points, agg: r.agg, step: r.step_ms });
      }, (error) => { if (error.name !== 'AbortError') setChart({ error }); });
    }
    return () => ctl.abort();
  }, [JSON.stringify(params), inst && inst.instrument_name, from, to]);

  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const go = (f) => navigate(urlWith('/charts', f));
  const list = Array.isArray(instruments) ? instruments : [];
  return (
    <div class="page">
      <form class="filters" id="metric-form" onSubmit={(e) => { e.preventDefault(); go(form); }}>
        <label>Instrument<select name="instrument" value={form.instrument || ''} onChange={(e) => go({ ...form, instrument: e.target.value })}>
          <option value="">pick an instrument…</option>
          {list.map((i) => <option value={i.instrument_name}>{i.instrument_name} ({i.instrument_type}{i.unit ? ', ' + i.unit : ''})</option>)}
        </select></label>
        <label>Service<select name="service" value={form.service || ''} onChange={(e) => go({ ...form, service: e.target.value })}>
          <option value="">all</option>{(inst ? inst.services : []).map((s) => <option value={s}>{s}</option>)}</select></label>
        {!isHist && <label>Group by<input name="group" list="group-keys" placeholder="service_name or attr.key" value={form.group || ''} onInput={set('group')} />
          <datalist id="group-keys"><option value="service_name" />{(inst ? inst.attr_keys || [] : []).map((k) => <option value={'attr.' + k} />)}</datalist></label>}
        {!isHist && <label>Aggregate<select name="agg" value={form.agg || ''} onChange={(e) => go({ ...form, agg: e.target.value })}>
          <option value="">default</option>{['avg', 'sum', 'min', 'max', 'last', 'rate'].map((a) => <option value={a}>{a}</option>)}</select></label>}
        <label class="grow">Attributes<input name="attrs" value={form.attrs || ''} onInput={set('attrs')} placeholder="http.route=/cart" /></label>
        <label>Time<TimeRange from={form.from} to={form.to} onChange={(f, t) => go({ ...form, from: f, to: t })} /></label>
        <button type="submit" class="primary">Show</button>
      </form>
      {instruments && instruments.error && <Err error={instruments.error} />}
      {Array.isArray(instruments) && !instruments.length && <p class="muted">No metric points in this time range.</p>}
      {!params.instrument && list.length > 0 && (
        <table class="grid" id="instrument-list"><thead><tr><th>Instrument</th><th>Type</th><th>Unit</th><th>Services</th><th>Points</th></tr></thead><tbody>
          {list.map((i) => <tr onClick={() => go({ ...form, instrument: i.instrument_name })}><td><a href={urlWith('/charts', { ...params, instrument: i.instrument_name })}>{i.instrument_name}</a></td><td>{i.instrument_type}</td><td>{i.unit}</td><td>{i.services.join(', ')}</td><td>{i.points}</td></tr>)}
        </tbody></table>
      )}
      <Err error={chart.error} />
      {chart.data && (
        <div class="metric-chart">
          <h2>{params.instrument} <span class="muted">{isHist ? 'percentiles from buckets' : `${chart.agg} per ${Math.round(chart.step / 1000)} s`} · {chart.count} points</span></h2>
          <Chart id="metric-chart" data={chart.data} series={chart.series} height={320} yLabel={inst && inst.unit}
            onSelect={(a, b) => go({ ...params, from: String(a), to: String(b) })} />
        </div>
      )}
    </div>
  );
}
