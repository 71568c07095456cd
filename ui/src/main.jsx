// otlake UI: the shell (navigation, "open trace by id", API key prompt, theme and time zone
// switches) and the page router. Pages live in src/pages/, one per top-level path.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './style.css';
import { onNeedKey, setKey, getKey } from './api.js';
import { useLocation, navigate, Link } from './router.jsx';
import { tzMode, setTzMode } from './time.js';
import { TracesPage } from './pages/Traces.jsx';
import { TracePage } from './pages/Trace.jsx';
import { LogsPage } from './pages/Logs.jsx';
import { MetricsPage } from './pages/Metrics.jsx';
import { OpsPage } from './pages/Ops.jsx';

function applyTheme(t) {
  document.documentElement.dataset.theme = t === 'system' ? '' : t;
}
const themeOf = () => { try { return localStorage.getItem('otlake.theme') || 'system'; } catch { return 'system'; } };
applyTheme(themeOf());

function KeyPrompt({ onDone }) {
  const [v, setV] = useState('');
  return (
    <div class="modal-back">
      <form class="modal" id="key-prompt" onSubmit={(e) => { e.preventDefault(); setKey(v.trim()); onDone(); }}>
        <h2>API key</h2>
        <p>This otlake runs with <code>--auth required</code>. Enter a key of scope <b>read</b> (or <b>admin</b> for the
          sources page). It is kept for this browser tab only (sessionStorage) and sent as <code>Authorization: Bearer</code>.</p>
        <input type="password" name="key" autofocus placeholder="otlk_…" value={v} onInput={(e) => setV(e.target.value)} />
        <div class="row"><button type="submit" class="primary">Use key</button></div>
      </form>
    </div>
  );
}

function OpenTrace() {
  const [v, setV] = useState('');
  return (
    <form class="open-trace" onSubmit={(e) => {
      e.preventDefault();
      const id = v.trim().toLowerCase();
      if (/^[0-9a-f]{32}$/.test(id)) { navigate('/trace/' + id); setV(''); }
    }}>
      <input name="trace-id" placeholder="open trace id…" value={v} onInput={(e) => setV(e.target.value)}
        pattern="[0-9a-fA-F]{32}" title="32 hex characters" />
    </form>
  );
}

function App() {
  const loc = useLocation();
  const [needKey, setNeedKey] = useState(false);
  const [gen, setGen] = useState(0);
  const [theme, setTheme] = useState(themeOf());
  const [tz, setTz] = useState(tzMode());
  useEffect(() => onNeedKey((v) => setNeedKey(v)), []);
  useEffect(() => {
    // Keyboard: '/' focuses the page's first filter (or find-in-trace), Esc leaves a field.
    const onKey = (e) => {
      const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement?.tagName || '');
      if (e.key === '/' && !typing) {
        const el = document.querySelector('input[name=find], .filters input, .filters select');
        if (el) { e.preventDefault(); el.focus(); }
      } else if (e.key === 'Escape' && typing) {
        document.activeElement.blur();
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);
  useEffect(() => { if (loc.path === '/' || loc.path === '/index.html') navigate('/traces', { replace: true }); }, [loc.path]);
  const p = loc.path;
  let page;
  if (p.startsWith('/trace/')) page = <TracePage id={decodeURIComponent(p.slice(7)).split('/')[0]} params={loc.params} />;
  else if (p.startsWith('/logs')) page = <LogsPage params={loc.params} />;
  else if (p.startsWith('/charts')) page = <MetricsPage params={loc.params} />;
  else if (p.startsWith('/ops')) page = <OpsPage params={loc.params} />;
  else page = <TracesPage params={loc.params} />;
  const nav = (href, label) => <Link href={href} class={p.startsWith(href) && !(href === '/trace' && p.startsWith('/trace/')) ? 'active' : ''}>{label}</Link>;
  return (
    <div class="shell" key={gen + ':' + tz}>
      <header class="top">
        <span class="brand">otlake</span>
        <nav>{nav('/traces', 'Traces')}{nav('/logs', 'Logs')}{nav('/charts', 'Metrics')}{nav('/ops', 'Operations')}</nav>
        <OpenTrace />
        <span class="spacer" />
        <button class="ghost" title="Time zone of displayed times" onClick={() => { const n = tz === 'utc' ? 'local' : 'utc'; setTzMode(n); setTz(n); }}>{tz === 'utc' ? 'UTC' : 'Local time'}</button>
        <select class="ghost" title="Theme" value={theme} onChange={(e) => { const t = e.target.value; try { localStorage.setItem('otlake.theme', t); } catch { /* ignore */ } applyTheme(t); setTheme(t); }}>
          <option value="system">System</option><option value="light">Light</option><option value="dark">Dark</option>
        </select>
        {getKey() && <button class="ghost" title="Forget the API key of this tab" onClick={() => { setKey(''); setGen(gen + 1); }}>Forget key</button>}
      </header>
      <main>{page}</main>
      {needKey && <KeyPrompt onDone={() => { setNeedKey(false); setGen(gen + 1); }} />}
    </div>
  );
}

render(<App />, document.getElementById('app'));
