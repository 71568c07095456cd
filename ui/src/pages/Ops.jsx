// Operations: days of the lake (/api/days: phase, local copy, rows/bytes per table, event-time
// range), health (/healthz: ingest rate from successive polls, rejections, WAL, memory budget, ack
// latency, shipping) and S3 ingestion sources (/v3/ingestion-sources, admin key) with retry.
import { useEffect, useRef, useState } from 'preact/hooks';
import { request, getKey, setKey } from '../api.js';
import { fmtTime, fmtBytes, tzLabel } from '../time.js';
import { Err } from '../components.jsx';

const r2 = (n) => (n == null ? '' : Number(n).toFixed(2));
const num = (n) => (n == null ? '' : Number(n).toLocaleString('en-US'));

function Health() {
  const [h, setH] = useState(null);
  const [rate, setRate] = useState(null);
  const prev = useRef(null);
  useEffect(() => {
    let stop = false;
    const poll = () => request('/healthz').then((d) => {
      if (stop) return;
      const now = performance.now();
      const acc = Object.fromEntries(Object.entries(d.signals || {}).map(([k, v]) => [k, v.accepted]));
      if (prev.current) {
        const dt = (now - prev.current.t) / 1000;
        setRate(Object.fromEntries(Object.entries(acc).map(([k, v]) => [k, Math.max(0, (v - (prev.current.acc[k] || 0)) / dt)])));
      }
      prev.current = { t: now, acc };
      setH(d);
    }, (error) => setH({ error }));
    poll();
    const t = setInterval(poll, 3000);
    return () => { stop = true; clearInterval(t); };
  }, []);
  if (!h) return <p class="muted">Loading health…</p>;
  if (h.error) return <Err error={h.error} />;
  const rej = Object.entries(h.rejections || {}).filter(([, v]) => v > 0);
  const lat = h.ack_latency_ms || {};
  const mem = h.memory || {};
  return (
    <section id="health">
      <h2>Health <span class={'status ' + (h.ok ? 'ok' : 'bad')}>{h.ok ? 'OK' : 'FAILING'}</span>
        <span class="muted"> {h.instance_id} · v{h.version} · up {Math.round(h.uptime_s)} s · auth {h.auth?.mode}</span></h2>
      {!h.ok && <div class="error">{h.reason}</div>}
      <div class="cards">
        <div class="card"><h3>Ingest rate</h3>{Object.entries(h.signals || {}).map(([k, v]) => <div>{k}: <b>{rate ? rate[k].toFixed(1) : '…'}</b>/s <span class="muted">({num(v.accepted)} total)</span></div>)}</div>
        <div class="card"><h3>Rejections</h3>{rej.length ? rej.map(([k, v]) => <div class="err-text">{k}: {num(v)}</div>) : <div class="muted">none</div>}
          {h.auth && h.auth.failures_total > 0 && <div>auth failures: {h.auth.failures_total}</div>}</div>
        <div class="card"><h3>WAL</h3><div>last LSN {num(h.wal?.last_lsn)}</div><div>durable {num(h.wal?.durable_lsn)} · committed {num(h.wal?.committed_lsn)}</div><div>{num(h.wal?.syncs)} syncs, {fmtBytes(h.wal?.bytes_written)}</div></div>
        <div class="card"><h3>Memory budget</h3><div class="meter"><div style={{ width: Math.min(100, (100 * ((mem.buffered_bytes || 0) + (mem.request_bytes || 0))) / (mem.limit_bytes || 1)) + '%' }} /></div>
          <div>{fmtBytes((mem.buffered_bytes || 0) + (mem.request_bytes || 0))} of {fmtBytes(mem.limit_bytes)}{mem.overloaded ? ' — OVERLOADED' : ''}</div><div class="muted">peak {fmtBytes(mem.peak_bytes)}</div></div>
        <div class="card"><h3>Ack latency (ms)</h3><table class="kv"><tbody>
          {['total', 'read_body', 'decode', 'buffer', 'wal_sync'].filter((k) => lat[k]).map((k) => <tr><th>{k}</th><td>p50 {r2(lat[k].p50)} · p99 {r2(lat[k].p99)} · max {r2(lat[k].max)}</td></tr>)}
        </tbody></table></div>
        {h.shipping && <div class="card"><h3>Shipping</h3><div>mode {h.shipping.mode}{h.shipping.target ? ' → ' + h.shipping.target : ''}</div>
          {h.shipping.s3_access && <div class={h.shipping.s3_access.ok === false ? 'err-text' : ''}>S3 access: {String(h.shipping.s3_access.ok)} {h.shipping.s3_access.error || ''}</div>}
          {h.shipping.problem && <div class="err-text">{h.shipping.problem}</div>}
          {(h.shipping.failing || []).map((f) => <div class="err-text">{f.day} {f.phase}: {f.error} (retry {f.next_retry_utc})</div>)}
          {h.shipping.running && <div>{h.shipping.running.day} {h.shipping.running.phase} {num(h.shipping.running.done)}/{num(h.shipping.running.total)} {h.shipping.running.unit}</div>}</div>}
      </div>
    </section>
  );
}

function Days() {
  const [d, setD] = useState(null);
  const [open, setOpen] = useState('');
  useEffect(() => { request('/api/days').then(setD, (error) => setD({ error })); }, []);
  if (!d) return <p class="muted">Loading days…</p>;
  if (d.error) return <Err error={d.error} />;
  return (
    <section id="days">
      <h2>Days <span class="muted">{d.count} · event times {tzLabel()}</span></h2>
      <table class="grid" id="days-table">
        <thead><tr><th>Day (arrival, UTC)</th><th>Phase</th><th>Local copy</th><th>Read from</th><th>Rows</th><th>Files</th><th>Bytes</th><th>Event-time range</th></tr></thead>
        <tbody>{d.days.map((day) => (
          <>
            <tr onClick={() => setOpen(open === day.day ? '' : day.day)} class="clickable">
              <td>{open === day.day ? '▾' : '▸'} {day.day}</td><td><span class={'phase ' + day.phase}>{day.phase}</span></td>
              <td>{day.local ? 'yes' : 'no'}</td><td>{day.storage}</td><td>{num(day.rows)}</td><td>{num(day.files)}</td><td>{fmtBytes(day.bytes)}</td>
              <td>{day.min_event_ts != null ? fmtTime(day.min_event_ts, { millis: false }) + ' – ' + fmtTime(day.max_event_ts, { millis: false }) : ''}</td>
            </tr>
            {open === day.day && Object.entries(day.tables).map(([t, v]) => (
              <tr class="sub"><td>  {t}</td><td>v{v.version}</td><td colSpan="2" class="err-text">{v.error || ''}</td><td>{num(v.rows)}</td><td>{num(v.files)}</td><td>{fmtBytes(v.bytes)}</td>
                <td>{v.min_event_ts != null ? fmtTime(v.min_event_ts, { millis: false }) + ' – ' + fmtTime(v.max_event_ts, { millis: false }) : ''}</td></tr>
            ))}
          </>
        ))}</tbody>
      </table>
    </section>
  );
}

function Sources() {
  const [s, setS] = useState(null);
  const [gen, setGen] = useState(0);
  const [msg, setMsg] = useState('');
  const [keyInput, setKeyInput] = useState('');
  useEffect(() => {
    // /v3 always needs an admin key (also with --auth open): without one, ask here instead of
    // sending a request bound to fail.
    if (!getKey()) { setS({ needKey: true }); return; }
    (async () => {
      try {
        const res = await request('/v3/ingestion-sources', { raw: true, noPrompt: true });
        if (res.status === 403 || res.status === 401) { setS({ denied: true }); return; }
        const list = await res.json();
        if (!res.ok) { setS({ error: new Error(list.error || res.statusText) }); return; }
        const items = list.data.items || [];
        const full = await Promise.all(items.map(async (it) => {
          const [one, stats, failed] = await Promise.all([
            request('/v3/ingestion-sources/' + it.id).catch(() => ({ data: it })),
            request('/v3/ingestion-sources/' + it.id + '/stats').catch(() => null),
            request('/v3/ingestion-sources/' + it.id + '/files?status=failed&limit=20').catch(() => null),
          ]);
          return { ...one.data, stats: stats && stats.data, failed: failed ? failed.data.items : [] };
        }));
        setS({ items: full });
      } catch (error) { setS({ error }); }
    })();
  }, [gen]);
  const post = (path, what) => request(path, { method: 'POST' }).then(() => { setMsg(what + ' queued'); setGen(gen + 1); }, (e) => setMsg(what + ' failed: ' + e.message));
  if (!s) return null;
  const keyForm = (
    <form class="row" onSubmit={(e) => { e.preventDefault(); setKey(keyInput.trim()); setGen(gen + 1); }}>
      <input type="password" name="admin-key" placeholder="admin key otlk_…" value={keyInput} onInput={(e) => setKeyInput(e.target.value)} />
      <button type="submit">Use key</button>
    </form>
  );
  if (s.needKey || s.denied) {
    return (
      <section id="sources"><h2>Ingestion sources</h2>
        <p class="muted">S3 ingestion sources (<code>/v3/ingestion-sources</code>) need an <b>admin</b> key{s.denied ? ': the key of this tab is not one' : ''}. It is kept for this tab only.</p>
        {keyForm}
      </section>
    );
  }
  if (s.error) return <section id="sources"><h2>Ingestion sources</h2><Err error={s.error} /></section>;
  return (
    <section id="sources">
      <h2>Ingestion sources <span class="muted">{s.items.length}</span></h2>
      {msg && <div class="notice">{msg}</div>}
      {!s.items.length && <p class="muted">No S3 ingestion sources (docs/sources.md).</p>}
      {s.items.map((it) => (
        <div class={'card source' + ((it.stats && it.stats.failed) || (it.scan && it.scan.error) ? ' failing' : '')} data-source={it.name}>
          <h3>{it.name} <span class="muted">s3://{it.bucket}/{it.prefix} → {(it.application_ids || []).join(',')}</span></h3>
          {it.scan && <div class={it.scan.error ? 'err-text' : 'muted'}>last scan {it.scan.last_scan_at || 'never'} · {it.scan.files_seen} files seen{it.scan.error ? ' · ' + it.scan.error : ''}</div>}
          {it.stats && <div>files: {it.stats.total_files} · pending {it.stats.pending} · processing {it.stats.processing} · completed {it.stats.completed} · <span class={it.stats.failed ? 'err-text' : ''}>failed {it.stats.failed}</span> · records {num(it.stats.total_spans_ingested)}</div>}
          {it.failed.length > 0 && (
            <table class="grid"><tbody>{it.failed.map((f) => (
              <tr class="has-error"><td class="mono">{f.s3_key}</td><td class="err-text">{f.error_message}</td><td>{f.retries}/{f.max_retries}</td>
                <td><button class="retry" onClick={() => post(`/v3/ingestion-sources/${it.id}/files/${f.id}/retry`, 'retry of ' + f.s3_key)}>Retry</button></td></tr>
            ))}</tbody></table>
          )}
          {it.stats && it.stats.failed > 0 && <button class="retry-all" onClick={() => post(`/v3/ingestion-sources/${it.id}/retry-failed`, 'retry of every failed file')}>Retry all failed</button>}
        </div>
      ))}
    </section>
  );
}

export function OpsPage() {
  return (
    <div class="page ops">
      <Health />
      <Days />
      <Sources />
    </div>
  );
}
