// Drives headless Chromium (Debian's /usr/bin/chromium, through playwright-core from ui/'s
// lockfile; no browser is downloaded) through one scenario of the web UI against a running otlake,
// and prints one JSON object of what it saw. Started by test/integration/test_ui.py, which owns
// the server and the data and asserts on the result.
//   node test/ui/browser.mjs <scenario> <base url> <json args>
// Screenshots go to $OTLAKE_UI_SHOTS (default build/ui-screenshots). Console errors and page
// errors are returned in `console_errors`. For the live-tail scenario the script prints
// "READY\n" once subscribed and waits for a line on stdin before it looks for the new record.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'ui', 'package.json'));
const { chromium } = require('playwright-core');

const [scenario, base, argJson] = process.argv.slice(2);
const args = argJson ? JSON.parse(argJson) : {};
const shots = process.env.OTLAKE_UI_SHOTS || join(root, 'build', 'ui-screenshots');
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: args.dark ? 'dark' : 'light' });
const page = await context.newPage();
page.setDefaultTimeout(20000);
const out = { console_errors: [], requests: [] };
page.on('console', (m) => { if (m.type() === 'error') out.console_errors.push(m.text()); });
page.on('pageerror', (e) => out.console_errors.push('pageerror: ' + e.message));
page.on('requestfailed', (r) => { if (!r.url().includes('/api/logs/tail')) out.console_errors.push('requestfailed: ' + r.url() + ' ' + r.failure()?.errorText); });
page.on('request', (r) => out.requests.push(new URL(r.url()).host));
const shot = async (name) => { await page.screenshot({ path: join(shots, name + '.png'), fullPage: false }); };
const stdinLines = createInterface({ input: process.stdin });
const nextLine = () => new Promise((r) => stdinLines.once('line', r));

try {
  if (scenario === 'traces') {
    const t0 = Date.now();
    await page.goto(`${base}/traces?run=1&from=now-1h&status=error`);
    await page.waitForSelector('#trace-results tbody tr');
    out.first_results_ms = Date.now() - t0;
    out.result_rows = await page.locator('#trace-results tbody tr').count();
    out.summary = await page.locator('#trace-summary').innerText();
    out.scatter = await page.locator('canvas.scatter').count();
    await page.waitForSelector('#span-histogram canvas');
    out.histogram_note = await page.locator('#span-histogram .muted').innerText();
    await shot('traces-search');
    await page.locator(`a.trace-link[href="/trace/${args.trace_id}"]`).first().click();
    await page.waitForSelector('.wf-row');
    out.url = page.url();
    out.rows = await page.$$eval('.wf-row', (rows) => rows.map((r) => {
      const bar = r.querySelector('.bar');
      return {
        span_id: r.dataset.spanId, text: r.querySelector('.wf-label').innerText,
        left: parseFloat(bar.style.left), width: parseFloat(bar.style.width),
        error_mark: !!r.querySelector('.err-mark:not(.hollow)'), below_mark: !!r.querySelector('.err-mark.hollow'),
        critical: bar.classList.contains('critical'), events: bar.querySelectorAll('.ev').length,
      };
    }));
    await shot('trace-waterfall');
    await page.locator(`.wf-row[data-span-id="${args.click_span}"]`).click();
    await page.waitForSelector('#span-panel');
    out.panel = await page.locator('#span-panel').innerText();
    out.panel_url = page.url();
    await shot('trace-span-details');
    // Find in trace.
    await page.fill('input[name=find]', 'declined');
    await page.press('input[name=find]', 'Enter');
    await page.waitForSelector('#match-count');
    out.find = await page.locator('#match-count').innerText();
    // Collapse the root: only it stays.
    await page.locator('.wf-row').first().locator('button.tw').click();
    out.rows_after_collapse = await page.locator('.wf-row').count();
    // A link to a trace that exists is clickable.
    if (args.linked_from) {
      await page.goto(`${base}/trace/${args.linked_from}?span=${args.linked_span}`);
      await page.waitForSelector('#span-panel');
      await page.waitForSelector(`#span-panel a[href^="/trace/${args.trace_id}"]`);
      out.link_clickable = true;
    }
    // Open trace by id from the header.
    await page.goto(`${base}/logs`);
    await page.fill('input[name=trace-id]', args.trace_id);
    await page.press('input[name=trace-id]', 'Enter');
    await page.waitForSelector('.wf-row');
    out.opened_by_id = page.url();
  } else if (scenario === 'load') {
    // First load of the page: bytes over the wire and time until the search form is usable.
    const t0 = Date.now();
    await page.goto(`${base}/traces`);
    await page.waitForSelector('#trace-search button[type=submit]');
    out.interactive_ms = Date.now() - t0;
    out.timing = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const res = performance.getEntriesByType('resource');
      return {
        dom_content_loaded_ms: nav.domContentLoadedEventEnd, load_ms: nav.loadEventEnd,
        transferred: nav.transferSize + res.filter((r) => !r.name.includes('/api/')).reduce((a, r) => a + r.transferSize, 0),
        decoded: nav.decodedBodySize + res.filter((r) => !r.name.includes('/api/')).reduce((a, r) => a + r.decodedBodySize, 0),
        files: res.filter((r) => !r.name.includes('/api/')).map((r) => [new URL(r.name).pathname, r.transferSize, r.decodedBodySize]),
      };
    });
  } else if (scenario === 'bigtrace') {
    const t0 = Date.now();
    await page.goto(`${base}/trace/${args.trace_id}`);
    await page.waitForSelector('.wf-row');
    out.first_rows_ms = Date.now() - t0;
    out.timing = await page.evaluate(() => window.__otlakeTraceTiming);
    out.span_count = await page.locator('#span-count').innerText();
    out.dom_rows = await page.locator('.wf-row').count();
    await shot('trace-10k');
    const s0 = Date.now();
    await page.locator('#waterfall').evaluate((el) => { el.scrollTop = el.scrollHeight; });
    await page.waitForFunction(() => [...document.querySelectorAll('.wf-row')].some((r) => parseInt(r.style.top, 10) > 200000));
    out.scroll_ms = Date.now() - s0;
    out.dom_rows_after_scroll = await page.locator('.wf-row').count();
    out.scroll_height = await page.locator('#waterfall').evaluate((el) => el.scrollHeight);
    await shot('trace-10k-bottom');
    const c0 = Date.now();
    await page.getByText('Collapse all').click();
    await page.waitForFunction(() => document.querySelectorAll('.wf-row').length < 20);
    out.collapse_ms = Date.now() - c0;
    out.rows_collapsed = await page.locator('.wf-row').count();
  } else if (scenario === 'logs') {
    await page.goto(`${base}/logs?run=1&from=now-1h`);
    await page.waitForSelector('#log-results tr.log');
    await page.waitForSelector('#log-histogram canvas');
    out.rows = await page.locator('#log-results tr.log').count();
    out.severity_classes = await page.$$eval('#log-results tr.log', (rows) => [...new Set(rows.map((r) => [...r.classList].find((c) => c.startsWith('sev-'))))]);
    out.first_times = await page.$$eval('#log-results tr.log td.ts', (tds) => tds.slice(0, 5).map((t) => t.innerText));
    out.older_enabled = await page.locator('#older').isEnabled();
    out.trace_links = await page.locator('#log-results a.trace-link').count();
    await shot('logs-search');
    await page.goto(`${base}/logs?run=1&from=now-1h&sev=17`);
    await page.waitForSelector('#log-results tr.log');
    out.error_rows = await page.$$eval('#log-results tr.log', (rows) => rows.map((r) => [...r.classList].find((c) => c.startsWith('sev-'))));
    // "Filter for" an attribute from a line's details: the search narrows to it.
    await page.locator('#log-results tr.log td.body').first().click();
    await page.locator('.log-detail .filter-btns button').first().click();
    await page.waitForFunction(() => location.search.includes('attrs='));
    await page.waitForFunction(() => document.querySelectorAll('#log-results tr.log').length === 1);
    out.filtered_url = page.url();
    out.filtered_rows = await page.locator('#log-results tr.log').count();
    // Live tail, filtered server-side to one service.
    await page.goto(`${base}/logs?run=1&live=1&service=${encodeURIComponent(args.tail_service)}`);
    await page.waitForFunction(() => document.querySelector('#tail-status')?.innerText.includes('connected'));
    process.stdout.write('READY\n');
    await nextLine();
    const t0 = Date.now();
    await page.waitForSelector(`#tail-results td.body:has-text("${args.tail_body}")`, { timeout: 30000 });
    out.tail_seen_ms = Date.now() - t0;
    out.tail_bodies = await page.$$eval('#tail-results td.body', (tds) => tds.map((t) => t.innerText));
    await shot('logs-live-tail');
  } else if (scenario === 'metrics') {
    await page.goto(`${base}/charts?from=now-2h`);
    await page.waitForSelector('#instrument-list tbody tr');
    out.instruments = await page.$$eval('#instrument-list tbody tr td:first-child', (tds) => tds.map((t) => t.innerText));
    await page.goto(`${base}/charts?from=now-2h&instrument=cpu.temperature&group=attr.host`);
    await page.waitForSelector('#metric-chart canvas');
    out.legend = await page.$$eval('#metric-chart .u-legend .u-series .u-label', (ls) => ls.map((l) => l.innerText));
    out.title = await page.locator('.metric-chart h2').innerText();
    // The drawn line: non-background pixels in the plot canvas.
    out.painted = await page.$eval('#metric-chart canvas', (c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n;
    });
    await shot('metrics-gauge');
    await page.goto(`${base}/charts?from=now-2h&instrument=latency`);
    await page.waitForSelector('#metric-chart canvas');
    out.hist_legend = await page.$$eval('#metric-chart .u-legend .u-series .u-label', (ls) => ls.map((l) => l.innerText));
    await shot('metrics-histogram');
  } else if (scenario === 'ops') {
    await page.goto(`${base}/ops`);
    await page.waitForSelector(args.sources ? '#days-table' : '#days-table tbody tr');
    await page.waitForSelector('#health .card');
    out.days = await page.$$eval('#days-table tbody tr', (rows) => rows.map((r) => r.innerText));
    out.health = await page.locator('#health').innerText();
    if (args.sources) {
      await page.fill('#sources input[name=admin-key]', args.key);
      await page.press('#sources input[name=admin-key]', 'Enter');
      await page.waitForSelector('#sources .source');
      out.sources = await page.locator('#sources').innerText();
      await shot('operations-sources-failing');
      if (args.retry) {
        await page.locator('#sources button.retry').first().click();
        await page.waitForSelector('#sources .notice');
        out.notice = await page.locator('#sources .notice').innerText();
        await shot('operations-source-retried');
      }
    }
    if (args.sources) {
      await shot('operations-sources');
    } else {
      await page.locator('#days-table tbody tr').first().click();
      out.day_tables = await page.locator('#days-table tr.sub').count();
      await shot('operations');
    }
  } else if (scenario === 'auth') {
    await page.goto(`${base}/traces?run=1&from=now-1h`);
    await page.waitForSelector('#key-prompt');
    await shot('auth-prompt');
    await page.fill('#key-prompt input[name=key]', args.key);
    await page.press('#key-prompt input[name=key]', 'Enter');
    await page.waitForSelector('#trace-results tbody tr');
    out.result_rows = await page.locator('#trace-results tbody tr').count();
    out.stored = await page.evaluate(() => sessionStorage.getItem('otlake.key') !== null);
    await page.goto(`${base}/logs?run=1&from=now-1h`);  // the key is kept for the tab
    await page.waitForSelector('#log-results tr.log');
    out.prompt_again = await page.locator('#key-prompt').count();
    await shot('auth-after-key');
  } else {
    throw new Error('unknown scenario ' + scenario);
  }
} catch (e) {
  out.failure = String(e && e.stack || e);
  await shot(scenario + '-failure').catch(() => {});
} finally {
  process.stdout.write(JSON.stringify(out) + '\n');
  stdinLines.close();
  await browser.close();
}
