"""The otlake CLI as a user runs it: init, start (background), status, stop; help and exit codes;
and a graceful stop under load that loses nothing acknowledged."""
import json
import os
import subprocess
import threading
import time

import requests

from conftest import Server, otlake_bin, read_table
from test_bad_input import span_json, traces_json


def run(*args, timeout=60):
    return subprocess.run([otlake_bin(), *args], capture_output=True, text=True, timeout=timeout)


def test_version_and_help():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("otlake ")
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("init", "start", "stop", "status"):
        assert cmd in r.stdout
        h = run(cmd, "--help")
        assert h.returncode == 0, h.stderr
        assert "Usage: otlake " + cmd in h.stdout
        assert "--instance-id" in h.stdout or "--host" in h.stdout
    r = run("frobnicate")
    assert r.returncode == 2 and "unknown command" in r.stderr
    r = run("start", "--no-such-flag")
    assert r.returncode == 2 and "--no-such-flag" in r.stderr


def test_init_start_status_stop_in_background(tmp_path):
    d = str(tmp_path)
    r = run("start", "-I", "inst", "-D", d)
    assert r.returncode == 1 and "otlake init" in r.stderr
    r = run("init", "-I", "inst", "-D", d)
    assert r.returncode == 0, r.stderr
    for sub in ("configs", "index", "staging/days", "wal"):
        assert os.path.isdir(os.path.join(d, "inst", sub))
    assert os.path.exists(os.path.join(d, "inst", "index", "days.jsonl"))
    r = run("init", "-I", "inst", "-D", d)
    assert r.returncode == 1 and "already exists" in r.stderr
    r = run("start", "-I", "inst", "-D", d, "-H", "127.0.0.1", "-P", "0")
    assert r.returncode == 0, r.stderr + r.stdout
    try:
        pid = int(open(os.path.join(d, "inst", "configs", "server.pid")).read())
        port = json.load(open(os.path.join(d, "inst", "configs", "server.json")))["port"]
        r = run("start", "-I", "inst", "-D", d, "-P", "0")
        assert r.returncode == 1 and "already running" in r.stderr
        resp = requests.post(f"http://127.0.0.1:{port}/v1/traces", data=traces_json(span_json()),
                             headers={"Content-Type": "application/json"})
        assert resp.status_code == 200
        r = run("status", "-I", "inst", "-D", d)
        assert r.returncode == 0, r.stdout + r.stderr
        for word in ("spans", "metrics_hist", "ACCEPTED", "PERSISTED", "traces"):
            assert word in r.stdout
        r = run("status", "-P", str(port), "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True
    finally:
        r = run("stop", "-I", "inst", "-D", d)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(os.path.join(d, "inst", "configs", "server.pid"))
    assert not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split()[2]
    r = run("stop", "-I", "inst", "-D", d)
    assert r.returncode == 1 and "not running" in r.stderr
    r = run("status", "-P", str(port), "-T", "1")
    assert r.returncode == 3
    # The span acknowledged before the stop was committed by it.
    s = Server(tmp_path, "inst")
    assert [x["name"] for x in read_table(s, "spans")] == ["ok-span"]
    log = open(os.path.join(d, "inst", "server.log")).read()
    assert "stopped cleanly" in log


def test_stale_pid_file_does_not_block_start(tmp_path):
    d = str(tmp_path)
    assert run("init", "-D", d).returncode == 0
    with open(os.path.join(d, "default", "configs", "server.pid"), "w") as f:
        f.write("999999\n")
    s = Server(tmp_path).start()
    try:
        assert s.health()["ok"] is True
    finally:
        assert s.stop() == 0


def test_graceful_stop_under_load_loses_nothing_acknowledged(tmp_path):
    s = Server(tmp_path, extra_args=["--flush-age-ms", "5000"]).start()
    acked, lock, stop = [], threading.Lock(), threading.Event()

    def client(worker):
        session = requests.Session()
        n = 0
        while not stop.is_set():
            spans = [span_json(span_id=f"{worker:04x}{n:08x}{k:04x}", name=f"w{worker}") for k in range(50)]
            try:
                r = session.post(s.url + "/v1/traces", data=traces_json(*spans),
                                 headers={"Content-Type": "application/json"}, timeout=10)
            except requests.RequestException:
                return
            if r.status_code == 200:
                with lock:
                    acked.extend(sp["spanId"] for sp in spans)
            n += 1

    threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    r = run("stop", "-D", str(tmp_path))
    stop.set()
    for t in threads:
        t.join()
    assert r.returncode == 0, r.stderr
    assert s.proc.wait(timeout=60) == 0
    s.proc = None
    rows = read_table(s, "spans")
    stored = [x["span_id"] for x in rows]
    assert len(acked) > 1000
    assert len(stored) == len(set(stored)), "a span was stored twice"
    missing = set(acked) - set(stored)
    assert not missing, f"{len(missing)} acknowledged spans lost"


def _utc_text(ms):
    """What `otlake view` prints for a time: 2026-12-07 04:15:02.123 (UTC)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}"


def test_view_shows_a_readable_default_set_and_trace_marks_errors_and_events(tmp_path):
    """The terminal view (issue 22): a few readable columns per table, times as UTC timestamps;
    -s picks columns, -s '*'/--all-columns all; JSON keeps every column; `trace` marks error spans
    and lists each span's events beneath it."""
    srv = Server(tmp_path).start()
    t0 = (time.time_ns() - 60_000_000_000) // 1_000_000 * 1_000_000  # whole ms: exact text below
    tid = "0af7651916cd43dd8448eb211c80319c"
    root, child = "b7ad6b7169203331", "00f067aa0ba902b7"
    spans = [
        {"traceId": tid, "spanId": root, "name": "GET /cart", "kind": 2,
         "startTimeUnixNano": str(t0), "endTimeUnixNano": str(t0 + 12_000_000),
         "attributes": [{"key": "http.route", "value": {"stringValue": "/cart"}}]},
        {"traceId": tid, "spanId": child, "parentSpanId": root, "name": "SELECT carts", "kind": 3,
         "startTimeUnixNano": str(t0 + 2_000_000), "endTimeUnixNano": str(t0 + 7_000_000),
         "status": {"code": 2, "message": "deadlock"},
         "events": [{"timeUnixNano": str(t0 + 3_500_000), "name": "retry"},
                    {"timeUnixNano": str(t0 + 6_250_000), "name": "exception"}]},
    ]
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
                               "scopeSpans": [{"scope": {"name": "lib"}, "spans": spans}]}]}
    r = requests.post(f"{srv.url}/v1/traces", data=json.dumps(body), headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    long_body = "cart lookup failed: " + "x" * 300
    logs = {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
                              "scopeLogs": [{"logRecords": [
                                  {"timeUnixNano": str(t0 + 5_000_000), "severityNumber": 17, "severityText": "ERROR",
                                   "body": {"stringValue": long_body}, "traceId": tid, "spanId": child},
                                  {"timeUnixNano": str(t0 + 9_000_000), "severityNumber": 9,
                                   "body": {"stringValue": "cart served"}}]}]}]}
    r = requests.post(f"{srv.url}/v1/logs", data=json.dumps(logs), headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    srv.wait_persisted()
    assert srv.stop() == 0
    base = ["-D", str(tmp_path)]
    ms = t0 // 1_000_000

    # logs: time, service, severity, body, trace id; nothing else (stdout is a pipe here: the
    # table is the same as on a terminal, only not cut to a width).
    r = run("view", *base, "-t", "logs")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["time", "service", "severity", "body", "trace_id"], lines[0]
    assert set(lines[1]) <= {"-", " "} and len(lines) == 4, lines
    assert lines[2].startswith(_utc_text(ms + 9)) and "checkout" in lines[2] and "cart served" in lines[2]
    assert lines[2].split()[3] == "INFO"  # no severity_text: the number's OTLP name stands in
    assert lines[3].startswith(_utc_text(ms + 5)) and "ERROR" in lines[3] and lines[3].endswith(tid)
    assert "cart lookup failed" in lines[3] and long_body not in lines[3]  # a long body is cut
    for col in ("project_id", "resource_attrs_json", "observed_time_unix_nano", "log_attrs_json", "span_id"):
        assert col not in r.stdout

    # spans: start, service, name, duration, status, trace id; newest first.
    r = run("view", *base, "-t", "spans")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["start", "service", "name", "duration_ms", "status", "trace_id"], lines[0]
    assert len(lines) == 4
    assert lines[2].startswith(_utc_text(ms + 2)) and "SELECT carts" in lines[2] and " 5 " in lines[2]
    assert "ERROR" in lines[2] and lines[2].endswith(tid)
    assert lines[3].startswith(_utc_text(ms)) and "GET /cart" in lines[3] and "UNSET" in lines[3]

    # Every table has its own readable set.
    r = run("view", *base, "-t", "span_events", "--order", "asc")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["time", "service", "name", "trace_id", "span_id"]
    assert lines[2].startswith(_utc_text(ms + 3)) and "retry" in lines[2]

    # -s picks columns (raw names; times still readable); -s '*' and --all-columns show all.
    r = run("view", *base, "-t", "spans", "-s", "name,span_id,start_time_unix_nano", "--order", "asc")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["name", "span_id", "start_time_unix_nano"]
    assert lines[2].split()[:3] == ["GET", "/cart", root] and lines[2].endswith(_utc_text(ms))
    for every in (["-s", "*"], ["--all-columns"]):
        r = run("view", *base, "-t", "logs", *every)
        assert r.returncode == 0, r.stderr
        header = r.stdout.splitlines()[0].split()
        assert header[0] == "project_id" and "observed_time_unix_nano" in header and "event_name" in header, header

    # JSON and NDJSON are unchanged: every column, raw values.
    r = run("view", *base, "-t", "logs", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["count"] == 2
    row = doc["rows"][1]
    for col in ("project_id", "time_unix_nano", "observed_time_unix_nano", "severity_number", "body",
                "log_attrs_json", "trace_id", "span_id", "event_ts", "resource_attrs_json"):
        assert col in row, col
    assert row["body"] == long_body and int(row["time_unix_nano"]) == t0 + 5_000_000
    r = run("view", *base, "-t", "spans", "--ndjson")
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    assert len(rows) == 2 and all("span_attrs_json" in x and "kind" in x for x in rows)
    r = run("view", *base, "-t", "spans", "--json", "-s", "name")
    assert [list(x) for x in json.loads(r.stdout)["rows"]] == [["name"], ["name"]]

    # trace: the tree as before, the error span marked, its events beneath it by offset.
    r = run("trace", *base, tid)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0].startswith(f"trace {tid}: 2 spans, 2 events, 0 links, 1 error"), out[0]
    assert _utc_text(ms) in out[0]
    assert out[1].startswith("GET /cart  [checkout SERVER]  +0.000 ms  12.000 ms  " + root), out
    assert "ERROR" not in out[1] and "\u2717" not in out[1]
    assert out[2].startswith("  SELECT carts  [checkout CLIENT]  +2.000 ms  5.000 ms"), out
    assert "\u2717 ERROR (deadlock)" in out[2] and out[2].endswith(child)
    assert out[3:] == ["    \u2022 +3.500 ms  retry", "    \u2022 +6.250 ms  exception"], out
    r = run("trace", *base, tid, "--json")
    assert [json.loads(l)["name"] for l in r.stdout.splitlines()] == ["GET /cart", "SELECT carts"] or \
        sorted(json.loads(l)["name"] for l in r.stdout.splitlines()) == ["GET /cart", "SELECT carts"]
