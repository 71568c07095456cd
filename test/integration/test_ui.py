"""The web UI (docs/ui.md) in headless Chromium against the real binary: Debian's /usr/bin/chromium
driven by playwright-core from ui/'s lockfile (test/ui/browser.mjs runs one scenario and reports
what the page showed; these tests own the server and the data and check the page against what was
sent). Screenshots of every page land in build/ui-screenshots/."""
import json
import os
import shutil
import subprocess
import time

import pytest

import ui_data
from conftest import ROOT, Server, otlake_bin

BROWSER = os.path.join(ROOT, "test", "ui", "browser.mjs")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
HAVE_BROWSER = (shutil.which("node") and os.path.exists(CHROMIUM)
                and os.path.isdir(os.path.join(ROOT, "ui", "node_modules", "playwright-core")))
pytestmark = pytest.mark.skipif(not HAVE_BROWSER, reason="needs node, ui/node_modules (make builds it) and "
                                "/usr/bin/chromium (tools/install-deps.sh installs it)")


def run_browser(scenario, url, args=None, allow_console=(), timeout=120):
    p = subprocess.run(["node", BROWSER, scenario, url, json.dumps(args or {})], capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert "failure" not in out, out["failure"]
    errors = [e for e in out["console_errors"] if not any(a in e for a in allow_console)]
    assert errors == [], errors
    # Works offline: every request the page made went to otlake itself.
    host = url.split("//", 1)[1]
    assert set(out["requests"]) <= {host}, out["requests"]
    return out


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("ui")).start()
    now = time.time_ns()
    data = {}
    data["trace_id"], data["spans"] = ui_data.checkout_trace(s.url, now_ns=now)
    data["linked_id"], linked = ui_data.checkout_trace(s.url, now_ns=now, error=False,
                                                       link_to=(data["trace_id"], data["spans"][0]["span_id"]))
    data["linked_span"] = linked[0]["span_id"]
    data["big_id"], _ = ui_data.big_trace(s.url, n=10_000, now_ns=now)
    data["logs"] = ui_data.sample_logs(s.url, trace_id=data["trace_id"], now_ns=now)
    data["gauge"] = ui_data.send_metrics(s.url, now_ns=now)
    s.wait_persisted()
    yield s, data
    assert s.stop() in (0, None), s.read_log()


def test_traces_search_waterfall_and_span_details(lake):
    s, d = lake
    charge = next(x for x in d["spans"] if x["name"] == "Charge")
    out = run_browser("traces", s.url, {"trace_id": d["trace_id"], "click_span": charge["span_id"],
                                         "linked_from": d["linked_id"], "linked_span": d["linked_span"]})
    assert out["result_rows"] >= 1 and out["scatter"] == 1
    # The histogram counts every matching (error) span in the range: the checkout trace's Charge and
    # the big trace's error spans.
    assert out["histogram_note"].startswith(f"{1 + sum(1 for i in range(10_000) if i % 997 == 5)} matching spans"), out["histogram_note"]
    # Bars sit where the spans' times put them on the trace's axis.
    t0 = min(x["start_ns"] for x in d["spans"])
    t1 = max(x["end_ns"] for x in d["spans"])
    by_id = {x["span_id"]: x for x in d["spans"]}
    assert [r["span_id"] for r in out["rows"]] == [x["span_id"] for x in sorted(
        d["spans"], key=lambda x: x["start_ns"])] or len(out["rows"]) == len(d["spans"])
    for r in out["rows"]:
        sp = by_id[r["span_id"]]
        assert abs(r["left"] - 100 * (sp["start_ns"] - t0) / (t1 - t0)) < 0.2, r
        assert abs(r["width"] - max(0.15, 100 * (sp["end_ns"] - sp["start_ns"]) / (t1 - t0))) < 0.2, r
        # Own error: solid mark; an error below: hollow mark on each ancestor.
        assert r["error_mark"] == bool(sp.get("error")), r
        assert r["events"] == len(sp.get("events", [])), r
    ancestors = {d["spans"][0]["span_id"], d["spans"][1]["span_id"]}
    assert {r["span_id"] for r in out["rows"] if r["below_mark"]} == ancestors
    assert all(r["critical"] for r in out["rows"] if r["span_id"] in ancestors)
    # Span details: attributes, resource, events; the span is in the URL.
    for text in ("payment.provider", "acme", "host.name", "retry", "declined", "card declined"):
        assert text in out["panel"], (text, out["panel"])
    assert out["panel_url"].endswith("?span=" + charge["span_id"])
    assert out["find"] == "1 matches"
    assert out["rows_after_collapse"] == 1
    assert out["link_clickable"]
    assert out["opened_by_id"].endswith("/trace/" + d["trace_id"])


def test_ten_thousand_span_trace_is_virtualised(lake):
    s, d = lake
    out = run_browser("bigtrace", s.url, {"trace_id": d["big_id"]})
    assert out["span_count"] == "Spans 10000"
    # Only the rows in view plus a buffer are in the DOM, before and after scrolling to the end.
    assert 10 < out["dom_rows"] <= 150 and out["dom_rows_after_scroll"] <= 150, out
    assert out["scroll_height"] == 10_000 * 24
    assert out["rows_collapsed"] <= 9
    print(f"\n10k-span trace: first rows {out['first_rows_ms']} ms after navigation (fetch+model "
          f"{out['timing']['fetchAndModelMs']:.0f} ms), scroll to end {out['scroll_ms']} ms, collapse all "
          f"{out['collapse_ms']} ms")


def test_metrics_chart_draws_the_gauge(lake):
    s, _ = lake
    out = run_browser("metrics", s.url)
    assert set(out["instruments"]) >= {"cpu.temperature", "requests", "latency"}
    assert out["legend"][1:] == ["a", "b"], out["legend"]
    assert "60 points" in out["title"], out["title"]
    assert out["painted"] > 1000
    assert out["hist_legend"][1:] == ["p50", "p90", "p99"]


def test_operations_page_shows_days_and_health(lake):
    s, _ = lake
    out = run_browser("ops", s.url)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert any(row.startswith("▸ " + today) for row in out["days"]), out["days"]
    assert out["day_tables"] == 6
    assert "Health\nOK" in out["health"].replace(" OK", "\nOK") and "traces:" in out["health"]


def test_logs_search_histogram_and_live_tail(lake):
    s, d = lake
    body = f"tail-check {time.time_ns()}"
    p = subprocess.Popen(["node", BROWSER, "logs", s.url, json.dumps({"tail_service": "checkout", "tail_body": body})],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert line.strip() == "READY", (line, p.stderr.read() if p.poll() is not None else "")
        # Sent after the page subscribed: one record of another service (filtered out server-side)
        # and the one it waits for.
        sent = time.time()
        ui_data.send_logs(s.url, [dict(service="payments", body=body + " (other service)", severity=9),
                                  dict(service="checkout", body=body, severity=17, trace_id=d["trace_id"])])
        p.stdin.write("sent\n")
        p.stdin.flush()
        out_text, err = p.communicate(timeout=90)
    finally:
        if p.poll() is None:
            p.kill()
    out = json.loads(out_text.strip().splitlines()[-1])
    assert "failure" not in out, out["failure"]
    assert out["console_errors"] == []
    assert out["rows"] == 60 and not out["older_enabled"]  # one page: 60 < 100
    assert set(out["severity_classes"]) == {"sev-trace", "sev-debug", "sev-info", "sev-warn", "sev-error", "sev-fatal"}
    assert out["first_times"] == sorted(out["first_times"], reverse=True)  # newest first
    assert out["trace_links"] == 6
    assert set(out["error_rows"]) <= {"sev-error", "sev-fatal"} and len(out["error_rows"]) == 20
    assert "attrs=line%3D" in out["filtered_url"] and out["filtered_rows"] == 1, out["filtered_url"]
    assert out["tail_bodies"] == [body], out["tail_bodies"]
    print(f"\nlive tail: record on screen {time.time() - sent:.2f} s after it was sent "
          f"(flush age 300 ms + tail poll 500 ms)")


def test_auth_required_prompts_for_the_key_once(tmp_path):
    subprocess.run([otlake_bin(), "init", "-D", str(tmp_path)], check=True, capture_output=True)
    key = lambda scope: subprocess.run([otlake_bin(), "keys", "create", "--scope", scope, "-D", str(tmp_path)],
                                       check=True, capture_output=True, text=True).stdout.strip()
    read, ingest = key("read"), key("ingest")
    s = Server(tmp_path, extra_args=["--auth", "required"]).start()
    try:
        ui_data.checkout_trace(s.url, key=ingest)
        ui_data.sample_logs(s.url, n=6, key=ingest)
        s.wait_persisted()
        # The page's own API calls answer 401 until the key is entered: those console errors are expected.
        out = run_browser("auth", s.url, {"key": read}, allow_console=("401 (Unauthorized)",))
        assert out["result_rows"] == 1 and out["stored"] and out["prompt_again"] == 0
    finally:
        assert s.stop() in (0, None), s.read_log()


def test_operations_shows_a_failing_s3_source_and_retries_it(tmp_path):
    """An S3 ingestion source (moto with IAM auth) with a malformed object: the operations page
    shows the failed file with its error; after the object is fixed, its Retry button gets it
    ingested."""
    from s3_server import MotoS3
    s3 = MotoS3()
    try:
        bucket = s3.create_bucket("ui-traces")
        s3.client().put_object(Bucket=bucket, Key="traces/bad.json", Body=b'{"resourceSpans": [ {')
        subprocess.run([otlake_bin(), "init", "-D", str(tmp_path)], check=True, capture_output=True)
        admin = subprocess.run([otlake_bin(), "keys", "create", "--scope", "admin", "-D", str(tmp_path)],
                               check=True, capture_output=True, text=True).stdout.strip()
        s = Server(tmp_path, env={}).start()
        try:
            import requests
            h = {"Authorization": "Bearer " + admin}
            r = requests.post(s.url + "/v3/ingestion-sources", headers=h, timeout=30, json={
                "name": "ui-source", "provider": "s3", "region": "us-east-1", "bucket": bucket, "prefix": "traces/",
                "scan_interval_seconds": 10, "credential_type": "access_key", "access_key_id": s3.key_id,
                "secret_access_key": s3.secret, "endpoint_url": s3.endpoint, "application_ids": ["shop"]})
            assert r.status_code == 201, r.text
            sid = r.json()["data"]["id"]

            def failed():
                f = requests.get(f"{s.url}/v3/ingestion-sources/{sid}/files", headers=h, params={"status": "failed"},
                                 timeout=30).json()["data"]["items"]
                return f[0] if f else None
            bad = None
            deadline = time.time() + 60
            while time.time() < deadline and not bad:
                bad = failed()
                time.sleep(0.3)
            assert bad and "malformed" in bad["error_message"], bad
            # Fixed in place; the page's Retry button queues it again.
            tid, _ = "4bf92f3577b34da6a3ce929d0e0e4736", None
            s3.client().put_object(Bucket=bucket, Key="traces/bad.json", Body=json.dumps({"resourceSpans": [{
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "s3svc"}}]},
                "scopeSpans": [{"spans": [{"traceId": tid, "spanId": "00f067aa0ba902b7", "name": "from-s3",
                                           "startTimeUnixNano": str(time.time_ns() - 1000),
                                           "endTimeUnixNano": str(time.time_ns())}]}]}]}).encode())
            out = run_browser("ops", s.url, {"sources": True, "retry": True, "key": admin})
            assert "ui-source" in out["sources"] and "failed 1" in out["sources"], out["sources"]
            assert "traces/bad.json" in out["sources"] and "malformed" in out["sources"]
            assert "queued" in out["notice"], out["notice"]
            deadline = time.time() + 60
            status = None
            while time.time() < deadline and status != "completed":
                items = requests.get(f"{s.url}/v3/ingestion-sources/{sid}/files", headers=h, timeout=30).json()["data"]["items"]
                status = next(f["status"] for f in items if f["s3_key"] == "traces/bad.json")
                time.sleep(0.3)
            assert status == "completed"
        finally:
            assert s.stop() in (0, None), s.read_log()
    finally:
        s3.stop()
