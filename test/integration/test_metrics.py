"""GET /metrics (docs/http-api.md): the Prometheus text format, parsed by prometheus_client's own
parser, counts what was sent and agrees with /healthz; histograms are valid (cumulative buckets,
+Inf == count); the content type is the text format's; with --auth required it needs a read or
admin key not limited to a project, unless --metrics-public. Also prints the server CPU a scrape
costs (measured, not asserted)."""
import json
import os
import subprocess
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import Server, otlake_bin
from test_auth import bearer, create

TRACE_ID = "5b8efff798038103d269b633813fc60c"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def spans(*span_ids, trace_id=TRACE_ID):
    now = time.time_ns()
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "msvc"}}]},
        "scopeSpans": [{"scope": {"name": "lib"}, "spans": [
            {"traceId": tid, "spanId": sid, "name": "op", "kind": 2,
             "startTimeUnixNano": str(now - 1000), "endTimeUnixNano": str(now)}
            for sid, tid in span_ids]}]}]}).encode()


def logs(n):
    now = time.time_ns()
    return json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"timeUnixNano": str(now), "severityText": "INFO", "body": {"stringValue": f"line {i}"}}
        for i in range(n)]}]}]}).encode()


def gauge_points(n):
    now = time.time_ns()
    return json.dumps({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{
        "name": "queue.depth", "gauge": {"dataPoints": [
            {"timeUnixNano": str(now), "asInt": str(i)} for i in range(n)]}}]}]}]}).encode()


def scrape(server, headers=None):
    r = requests.get(server.url + "/metrics", headers=headers or {}, timeout=10)
    return r


def families(text):
    """Families by name; a counter also under its `_total` name (the parser strips it)."""
    out = {}
    for f in text_string_to_metric_families(text):
        out[f.name] = f
        if f.type == "counter":
            out[f.name + "_total"] = f
    return out


def value(fams, family, name=None, **labels):
    """The one sample of `family` named `name` (default: the family's) with exactly these labels
    among its own."""
    fam = fams[family]
    name = name or (family if family.endswith("_total") else fam.name)
    hits = [s.value for s in fam.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(hits) == 1, (family, name, labels, fam.samples)
    return hits[0]


def check_histograms(fams):
    """Every histogram series: cumulative buckets, ascending le, +Inf == _count."""
    seen = 0
    for fam in fams.values():
        if fam.type != "histogram":
            continue
        series = {}
        for s in fam.samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            series.setdefault(key, {"buckets": [], "count": None, "sum": None})
            if s.name.endswith("_bucket"):
                series[key]["buckets"].append((float(s.labels["le"]), s.value))
            elif s.name.endswith("_count"):
                series[key]["count"] = s.value
            elif s.name.endswith("_sum"):
                series[key]["sum"] = s.value
        for key, h in series.items():
            les = [le for le, _ in h["buckets"]]
            assert les == sorted(les) and les[-1] == float("inf"), (fam.name, key, les)
            counts = [c for _, c in h["buckets"]]
            assert counts == sorted(counts), (fam.name, key, counts)
            assert counts[-1] == h["count"], (fam.name, key)
            assert h["sum"] >= 0
            seen += 1
    return seen


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks


def test_metrics_count_what_was_sent_and_agree_with_healthz(server):
    post = lambda path, body, ct="application/json": requests.post(
        server.url + path, data=body, headers={"Content-Type": ct}, timeout=30)
    sent_trace_bodies = []
    # Three trace requests of two spans; one span has a 2-byte trace id (rejected alone).
    for i in range(3):
        ids = [(f"{i:015x}a", TRACE_ID), (f"{i:015x}b", TRACE_ID if i else "abcd")]
        body = spans(*ids)
        r = post("/v1/traces", body)
        assert r.status_code == 200, r.text
        sent_trace_bodies.append(body)
    assert post("/v1/logs", logs(2)).status_code == 200
    assert post("/v1/logs", logs(3)).status_code == 200
    assert post("/v1/metrics", gauge_points(4)).status_code == 200
    bad = b'{"resourceSpans": ['
    assert post("/v1/traces", bad).status_code == 400
    sent_trace_bodies.append(bad)  # it was read (and counted in the size histogram) before decoding
    assert post("/v1/traces", b"x", ct="text/plain").status_code == 415
    h = server.wait_persisted()

    r = scrape(server)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == CONTENT_TYPE
    fams = families(r.text)
    h = server.health()

    # Build, process, health.
    assert value(fams, "otlake_build_info", version=h["version"], instance_id="default") == 1
    assert value(fams, "otlake_healthy") == 1
    start = value(fams, "process_start_time_seconds")
    assert abs(start - (time.time() - h["uptime_s"])) < 5
    assert value(fams, "otlake_auth_required") == 0

    # Requests, items, rejections: what was sent, and what /healthz says.
    for signal, requests_sent, accepted, rejected in (("traces", 5, 5, 1), ("logs", 2, 5, 0), ("metrics", 1, 4, 0)):
        hs = h["signals"][signal]
        assert value(fams, "otlake_requests_total", signal=signal) == requests_sent == hs["requests"]
        assert value(fams, "otlake_items_accepted_total", signal=signal) == accepted == hs["accepted"]
        assert value(fams, "otlake_items_rejected_total", signal=signal) == rejected == hs["rejected"]
    by_reason = [s for s in fams["otlake_items_rejected_by_reason"].samples
                 if s.name.endswith("_total") and s.labels["signal"] == "traces"]
    assert len(by_reason) == 1 and by_reason[0].value == 1
    assert by_reason[0].labels["reason"] in h["signals"]["traces"]["rejected_by_reason"]
    assert value(fams, "otlake_requests_rejected_total", signal="traces", reason="invalid") == 1
    assert value(fams, "otlake_requests_rejected_total", signal="traces", reason="unsupported") == 1
    for reason, n in h["rejections"].items():
        total = sum(value(fams, "otlake_requests_rejected_total", signal=s, reason=reason)
                    for s in ("traces", "logs", "metrics"))
        assert total == n, reason
    assert value(fams, "otlake_http_responses_total", code="400") == h["http"]["400"] == 1
    assert value(fams, "otlake_http_responses_total", code="415") == h["http"]["415"] == 1

    # Tables.
    for table, rows in (("spans", 5), ("logs", 5), ("metrics_points", 4)):
        t = h["tables"][table]
        assert value(fams, "otlake_rows_accepted_total", table=table) == rows == t["accepted"]
        assert value(fams, "otlake_rows_persisted_total", table=table) == rows == t["persisted"]
        assert value(fams, "otlake_rows_buffered", table=table) == 0
        assert value(fams, "otlake_flushes_total", table=table) == t["flushes"] >= 1
        assert value(fams, "otlake_last_commit_version", table=table) == t["last_commit_version"]
    assert value(fams, "otlake_rows_accepted_total", table="span_links") == 0

    # Memory and WAL.
    assert value(fams, "otlake_memory_limit_bytes") == h["memory"]["limit_bytes"]
    assert value(fams, "otlake_memory_buffered_bytes") == 0
    wal = h["wal"]
    assert value(fams, "otlake_wal_last_lsn") == wal["last_lsn"] == 6
    assert value(fams, "otlake_wal_durable_lsn") == wal["durable_lsn"] == 6
    assert value(fams, "otlake_wal_syncs_total") == wal["syncs"] >= 1
    assert value(fams, "otlake_wal_written_bytes_total") == wal["bytes_written"] > 0
    assert value(fams, "otlake_wal_recovery_records", kind="read") == h["recovery"]["records"]
    assert value(fams, "otlake_wal_recovery_bytes", kind="truncated_tail") == h["recovery"]["truncated_tail_bytes"]

    # Histograms: valid everywhere, and counting the right events.
    assert check_histograms(fams) == 5 + 3 + 1
    acked = 6
    for phase in ("read_body", "decode", "buffer", "wal_sync", "total"):
        assert value(fams, "otlake_ack_latency_seconds", "otlake_ack_latency_seconds_count", phase=phase) == acked
    total_s = value(fams, "otlake_ack_latency_seconds", "otlake_ack_latency_seconds_sum", phase="total")
    wal_s = value(fams, "otlake_ack_latency_seconds", "otlake_ack_latency_seconds_sum", phase="wal_sync")
    assert 0 < wal_s <= total_s < 60
    assert value(fams, "otlake_request_body_bytes", "otlake_request_body_bytes_count", signal="traces") == 4
    assert value(fams, "otlake_request_body_bytes", "otlake_request_body_bytes_sum", signal="traces") == \
        sum(len(b) for b in sent_trace_bodies)
    assert value(fams, "otlake_request_body_bytes", "otlake_request_body_bytes_count", signal="logs") == 2
    # One fdatasync histogram observation per WAL sync /healthz counts.
    assert value(fams, "otlake_wal_sync_duration_seconds", "otlake_wal_sync_duration_seconds_count") == wal["syncs"]

    # Shipping (local-only here).
    assert value(fams, "otlake_ship_enabled") == 0
    assert value(fams, "otlake_ship_days", phase="failing") == h["shipping"]["days"]["failing"]

    # Other methods.
    assert requests.post(server.url + "/metrics", data=b"", timeout=10).status_code == 405
    head = requests.head(server.url + "/metrics", timeout=10)
    assert head.status_code == 200 and head.headers["Content-Type"] == CONTENT_TYPE

    # What a scrape costs the server: CPU ticks of the process over many scrapes (the test's
    # own HTTP work is in another process). Printed, not asserted.
    pid = server.proc.pid
    n = 300
    session = requests.Session()
    cpu0 = cpu_ticks(pid)
    rusage0 = value(families(session.get(server.url + "/metrics").text), "process_cpu_seconds_total")
    t0 = time.perf_counter()
    for _ in range(n):
        assert session.get(server.url + "/metrics", timeout=10).status_code == 200
    wall = time.perf_counter() - t0
    rusage1 = value(families(session.get(server.url + "/metrics").text), "process_cpu_seconds_total")
    cpu = (cpu_ticks(pid) - cpu0) / os.sysconf("SC_CLK_TCK")
    print(f"\n/metrics: {len(r.content)} bytes; server CPU per scrape {cpu / n * 1e3:.3f} ms "
          f"(/proc ticks), {(rusage1 - rusage0) / (n + 1) * 1e3:.3f} ms (getrusage); "
          f"wall {wall / n * 1e3:.3f} ms per scrape from the client")


def test_metrics_auth(tmp_path):
    subprocess.run([otlake_bin(), "init", "-D", str(tmp_path)], check=True, capture_output=True)
    admin = create(tmp_path, "--scope", "admin")
    read = create(tmp_path, "--scope", "read")
    ingest = create(tmp_path, "--scope", "ingest")
    read_shop = create(tmp_path, "--scope", "read", "--project", "shop")

    s = Server(tmp_path, extra_args=["--auth", "required"]).start()
    try:
        r = scrape(s)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Bearer realm="otlake"'
        assert scrape(s, bearer(ingest)).status_code == 403
        r = scrape(s, bearer(read_shop))  # project-limited: the counters span every project
        assert r.status_code == 403 and "every project" in r.json()["error"]
        for token in (read, admin):
            r = scrape(s, bearer(token))
            assert r.status_code == 200 and r.headers["Content-Type"] == CONTENT_TYPE
        fams = families(r.text)
        assert value(fams, "otlake_auth_required") == 1
        assert value(fams, "otlake_auth_failures_total", reason="unauthenticated") == 1
        assert value(fams, "otlake_auth_failures_total", reason="forbidden") == 2
        assert s.health()["auth"]["failures_total"] == 3
        assert read.split("_", 2)[2] not in r.text and admin.split("_", 2)[2] not in r.text
    finally:
        assert s.stop() == 0

    s = Server(tmp_path, extra_args=["--auth", "required", "--metrics-public"]).start()
    try:
        assert scrape(s).status_code == 200
        assert requests.get(s.url + "/api/days", timeout=10).status_code == 401  # the rest unchanged
    finally:
        assert s.stop() == 0


def test_metrics_public_in_open_mode(server):
    r = scrape(server)
    assert r.status_code == 200
    fams = families(r.text)
    # Before any ingest the histograms exist, empty and valid.
    assert check_histograms(fams) == 9
    assert value(fams, "otlake_ack_latency_seconds", "otlake_ack_latency_seconds_count", phase="total") == 0
