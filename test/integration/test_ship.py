"""Sealing and shipping past days to a real S3 server (moto_server, IAM auth on), through the real
binary, with faults: a proxy failing requests with 500/503 or not answering, wrong credentials,
a missing bucket, kill -9 in the middle of an upload, restarts between phases. After each: no row
lost, the local day kept until verified, the index says what happened, the next try finishes.
The shipped tables are then read straight from S3 by deltalake and DuckDB (independent readers),
and otlake's own queries give the same rows from S3 as they gave from local disk.

A day in the past comes from running the server with OTLAKE_CLOCK_OFFSET_MS=-1 day (its "today"
is yesterday); a second server without the offset then sees that day as over.
"""
import datetime
import glob
import json
import os
import random
import signal
import subprocess
import time

import pytest
import requests

from conftest import TABLES, Server, _duckdb_con, otlake_bin
from s3_server import FaultProxy, MotoS3

DAY_MS = 86_400_000
API_ROUTES = {"spans": "spans", "span_events": "span_events", "span_links": "span_links", "logs": "logs",
              "metrics_points": "metrics/points", "metrics_hist": "metrics/hist"}
FAST = ["--ship-grace-s", "0", "--ship-interval-s", "1", "--ship-retry-s", "1", "--s3-timeout-s", "3"]


@pytest.fixture(scope="module")
def moto():
    m = MotoS3()
    yield m
    m.stop()


def yesterday():
    return (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)).strftime("%Y-%m-%d")


def run(*args, env=None, timeout=120):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "AWS_"))}
    e.update(env or {})
    return subprocess.run([otlake_bin(), *args], capture_output=True, text=True, timeout=timeout, env=e)


# ---------------------------------------------------------------------------------------------
# Data: one past day with rows in all six tables.


def _attrs(**kv):
    out = []
    for k, v in kv.items():
        out.append({"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}})
    return out


def traces_body(rng, n_traces, spans_per_trace=6, service="shop"):
    t0 = time.time_ns() - 3_600_000_000_000
    spans = []
    for _ in range(n_traces):
        tid = f"{rng.getrandbits(128):032x}"
        root = f"{rng.getrandbits(64):016x}"
        for i in range(spans_per_trace):
            sid = root if i == 0 else f"{rng.getrandbits(64):016x}"
            s = {"traceId": tid, "spanId": sid, "name": f"op-{i}", "kind": 2,
                 "startTimeUnixNano": str(t0 + i * 1000), "endTimeUnixNano": str(t0 + i * 1000 + 500),
                 "attributes": _attrs(i=i, route=f"/r{i % 3}")}
            if i:
                s["parentSpanId"] = root
            if i == 1:
                s["events"] = [{"timeUnixNano": str(t0 + 1100), "name": "retry", "attributes": _attrs(n=1)}]
            if i == 2:
                s["links"] = [{"traceId": f"{rng.getrandbits(128):032x}", "spanId": f"{rng.getrandbits(64):016x}"}]
            spans.append(s)
    return {"resourceSpans": [{"resource": {"attributes": _attrs(**{"service.name": service})},
                               "scopeSpans": [{"scope": {"name": "lib"}, "spans": spans}]}]}


def logs_body(n):
    t = time.time_ns() - 3_600_000_000_000
    recs = [{"timeUnixNano": str(t + i), "severityNumber": 9, "body": {"stringValue": f"line {i}"}} for i in range(n)]
    return {"resourceLogs": [{"resource": {"attributes": _attrs(**{"service.name": "shop"})},
                              "scopeLogs": [{"logRecords": recs}]}]}


def metrics_body(n):
    t = time.time_ns() - 3_600_000_000_000
    pts = [{"timeUnixNano": str(t + i), "asDouble": i * 0.5} for i in range(n)]
    hist = [{"timeUnixNano": str(t + i), "count": "3", "sum": 6.0, "bucketCounts": ["1", "2"], "explicitBounds": [1.0]}
            for i in range(n)]
    return {"resourceMetrics": [{"resource": {"attributes": _attrs(**{"service.name": "shop"})}, "scopeMetrics": [
        {"metrics": [{"name": "queue.depth", "gauge": {"dataPoints": pts}},
                     {"name": "latency", "histogram": {"aggregationTemporality": 2, "dataPoints": hist}}]}]}]}


def post(url, body, signal_name):
    r = requests.post(f"{url}/v1/{signal_name}", data=json.dumps(body), headers={"Content-Type": "application/json"},
                      timeout=60)
    assert r.status_code == 200, r.text
    return r


def make_past_day(base, n_traces=30, requests_n=3, seed=1, instance="default"):
    """Fills yesterday with rows of every table through a server whose clock runs a day behind."""
    rng = random.Random(seed)
    srv = Server(base, instance=instance, env={"OTLAKE_CLOCK_OFFSET_MS": str(-DAY_MS)}).start()
    try:
        for _ in range(requests_n):
            post(srv.url, traces_body(rng, n_traces), "traces")
        post(srv.url, logs_body(40), "logs")
        post(srv.url, metrics_body(25), "metrics")
        srv.wait_persisted()
    finally:
        assert srv.stop() == 0, srv.read_log()
    day = yesterday()
    assert os.path.isdir(os.path.join(srv.root, "staging", "days", day)), srv.day_dirs()
    return srv.root, day


def query_all(url, day, storage="auto"):
    """Every row of every table of `day` (as a sorted list of JSON texts), per table."""
    out = {}
    for t, route in API_ROUTES.items():
        r = requests.get(f"{url}/api/{route}", params={"date_from": day, "date_to": day, "max_rows": 10000,
                                                        "storage": storage}, timeout=60)
        assert r.status_code == 200, r.text
        out[t] = sorted(json.dumps(row, sort_keys=True) for row in r.json()["rows"])
    return out


# ---------------------------------------------------------------------------------------------
# The index, as a reader of days.jsonl sees it.


def records(root, day=None):
    path = os.path.join(root, "index", "days.jsonl")
    if not os.path.exists(path):
        return []
    out = []
    for line in open(path):
        line = line.strip()
        if line:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if day is None or r["day"] == day:
                out.append(r)
    return out


def phase_of(root, day):
    done = "none"
    for r in records(root, day):
        if r.get("ok", True):
            done = r["phase"]
        elif r["phase"] == "verified" and r.get("reason") == "mismatch" and done == "uploaded":
            done = "sealed"
    return done


def wait_phase(root, day, phase, timeout=60, srv=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if phase_of(root, day) == phase:
            return records(root, day)
        time.sleep(0.2)
    raise AssertionError(f"{day} did not reach {phase}: {records(root, day)}\n{srv.read_log() if srv else ''}")


def s3_access(srv, timeout=30):
    """/healthz shipping.s3_access once the first check has run."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        a = srv.health()["shipping"]["s3_access"]
        if a["ok"] is not None:
            return a
        time.sleep(0.1)
    raise AssertionError(f"no S3 access check within {timeout} s: {srv.health()['shipping']}")


def table_uri(bucket, prefix, instance, day, table):
    return f"s3://{bucket}/{prefix + '/' if prefix else ''}{instance}/days/{day}/otel/{table}"


def independent_counts(moto, bucket, prefix, instance, day, tables, endpoint=None):
    """Row counts per table read straight from S3 by deltalake and by DuckDB's delta_scan."""
    from deltalake import DeltaTable, QueryBuilder
    con = _duckdb_con()
    httpfs = glob.glob(os.path.join(os.path.dirname(__import__("duckdb_extension_httpfs").__file__), "**",
                                    "*.duckdb_extension"), recursive=True)[0]
    con.execute(f"LOAD '{httpfs}'")
    ep = (endpoint or moto.endpoint).replace("http://", "")
    con.execute(f"""CREATE SECRET s (TYPE S3, KEY_ID '{moto.key_id}', SECRET '{moto.secret}', REGION 'us-east-1',
                    ENDPOINT '{ep}', URL_STYLE 'path', USE_SSL false)""")
    out = {}
    for t in tables:
        uri = table_uri(bucket, prefix, instance, day, t)
        # delta-rs's own scan (to_pyarrow_table's Python filesystem handler can abort at exit).
        dl = QueryBuilder().register("t", DeltaTable(uri, storage_options=moto.storage_options(endpoint))) \
            .execute("SELECT count(*) AS n FROM t").read_all()["n"][0].as_py()
        dk = con.execute(f"SELECT count(*) FROM delta_scan('{uri}')").fetchone()[0]
        out[t] = (dl, dk)
    return out


def shipped_tables(root, day):
    sealed = [r for r in records(root, day) if r["phase"] == "sealed" and r["ok"]][-1]
    return {t["name"].split("/", 1)[1]: t["rows"] for t in sealed["local"]["tables"]}


# ---------------------------------------------------------------------------------------------


def test_ship_day_end_to_end_same_rows_from_s3(tmp_path, moto):
    """The whole pipeline on a live server: sealed -> uploaded -> verified -> cleaned, each phase
    with per-table counts; the same rows from S3 as from local disk; independent readers agree."""
    bucket = moto.create_bucket("e2e")
    root, day = make_past_day(tmp_path)
    # Rows as the local disk gives them (the server does not seal yet: a long grace).
    srv = Server(tmp_path, env=moto.env(bucket, prefix="otel-prod"), extra_args=["--ship-grace-s", "600000"]).start()
    try:
        before = query_all(srv.url, day)
        h = srv.health()["shipping"]
        assert h["mode"] == "s3" and h["target"] == "s3://e2e/otel-prod/default/days" and h["problem"] is None
        a = s3_access(srv)
        assert a["ok"] is True and a["error"] is None and a["checked_utc"], a
    finally:
        srv.stop()
    assert all(before[t] for t in TABLES), {t: len(v) for t, v in before.items()}
    tid = json.loads(before["spans"][0])["trace_id"]

    srv = Server(tmp_path, env=moto.env(bucket, prefix="otel-prod"), extra_args=FAST).start()
    try:
        recs = wait_phase(root, day, "cleaned", srv=srv)
        assert [r["phase"] for r in recs] == ["sealed", "uploaded", "verified", "cleaned"], recs
        assert all(r["ok"] for r in recs)
        sealed, uploaded, verified, _ = recs
        counts = {t["name"]: t["rows"] for t in sealed["local"]["tables"]}
        assert counts == {f"otel/{t}": len(before[t]) for t in TABLES}, counts
        assert sealed["local"]["rows"] == sum(len(v) for v in before.values())
        assert {t["name"]: t["rows"] for t in verified["remote"]["tables"]} == counts
        assert all(t["ok"] and t["local_rows"] == t["rows"] for t in verified["remote"]["tables"])
        assert uploaded["upload"]["uploaded"] > 0 and uploaded["upload"]["errors"] == []
        assert uploaded["target"] == f"s3://e2e/otel-prod/default/days/{day}"
        assert not os.path.exists(os.path.join(root, "staging", "days", day))
        assert os.path.exists(os.path.join(root, "index", "day.json"))
        # Sealed layout on S3: data files, one checkpoint + its commit + _last_checkpoint per table.
        keys = moto.keys(bucket, f"otel-prod/default/days/{day}/")
        for t in TABLES:
            log = [k for k in keys if f"/otel/{t}/_delta_log/" in k]
            assert sum(k.endswith(".checkpoint.parquet") for k in log) == 1, log
            assert sum(k.endswith("_last_checkpoint") for k in log) == 1
            assert all(".sealed.zstd.parquet" in k for k in keys if f"/otel/{t}/part-" in k)

        # Same rows from S3 as from local disk, with auto and with s3; none from local.
        assert query_all(srv.url, day) == before
        assert query_all(srv.url, day, storage="s3") == before
        assert all(not v for v in query_all(srv.url, day, storage="local").values())
        # A trace lookup with no date range covers the shipped day.
        r = requests.get(f"{srv.url}/api/traces/{tid}", timeout=60)
        assert r.status_code == 200 and len(r.json()["spans"]) == 6, r.text
        days = requests.get(f"{srv.url}/api/days", timeout=60).json()["days"]
        d = [x for x in days if x["day"] == day][0]
        assert d["storage"] == "s3" and d["phase"] == "cleaned" and d["local"] is False
        assert d["rows"] == sealed["local"]["rows"]
        st = run("status", "-I", "default", "-D", str(tmp_path))
        assert "shipping: to s3://e2e/otel-prod/default/days" in st.stdout, st.stdout
    finally:
        assert srv.stop() == 0, srv.read_log()

    # Independent readers, straight from S3.
    got = independent_counts(moto, bucket, "otel-prod", "default", day, TABLES)
    assert got == {t: (len(before[t]), len(before[t])) for t in TABLES}, got

    # The CLI reads it too, with the server stopped.
    env = moto.env(bucket, prefix="otel-prod")
    v = run("view", "-D", str(tmp_path), "-t", "spans", "-S", "s3", "--date-from", day, "--date-to", day,
            "-n", "10000", "--ndjson", env=env)
    assert v.returncode == 0, v.stderr
    assert len(v.stdout.splitlines()) == len(before["spans"])
    tr = run("trace", "-D", str(tmp_path), tid, env=env)
    assert tr.returncode == 0 and "op-0" in tr.stdout, tr.stderr
    days_out = run("days", "-D", str(tmp_path))
    assert day in days_out.stdout and "cleaned" in days_out.stdout, days_out.stdout


def test_partial_config_disables_shipping_names_the_variable_and_never_prints_secrets(tmp_path, moto):
    root, day = make_past_day(tmp_path, n_traces=5, requests_n=1)
    secret = "sEcReT-do-not-print-0123456789"
    env = {"S3_BUCKET": "nope", "S3_SECRET_KEY": secret, "AWS_ENDPOINT_URL": moto.endpoint}
    srv = Server(tmp_path, env=env, extra_args=FAST).start()
    try:
        # Local-only behaviour: the day is sealed and stays.
        wait_phase(root, day, "sealed", srv=srv)
        time.sleep(2)
        assert phase_of(root, day) == "sealed"
        health = srv.health()
        sh = health["shipping"]
        assert sh["mode"] == "disabled" and sh["enabled"] is False
        assert "AWS_ACCESS_KEY_ID (or S3_ACCESS_KEY_ID) is not set" in sh["problem"], sh
        assert "S3_SECRET_KEY" not in sh["problem"] and "S3_BUCKET" not in sh["problem"]
        st = run("status", "-I", "default", "-D", str(tmp_path))
        assert "DISABLED" in st.stdout and "AWS_ACCESS_KEY_ID" in st.stdout, st.stdout
        assert secret not in json.dumps(health) and secret not in st.stdout
        r = requests.get(f"{srv.url}/api/spans", params={"storage": "s3"}, timeout=30)
        assert r.status_code == 400 and "AWS_ACCESS_KEY_ID" in r.text, r.text
    finally:
        srv.stop()
    log = open(srv.log_path).read()
    assert "AWS_ACCESS_KEY_ID (or S3_ACCESS_KEY_ID) is not set; shipping is disabled" in log
    assert secret not in log
    assert os.path.isdir(os.path.join(root, "staging", "days", day))
    # The same keys in the config file; the environment overrides the file.
    cfg = os.path.join(root, "configs", "otlake.env")
    with open(cfg, "w") as f:
        f.write(f"# S3 for this instance\nS3_BUCKET=fromfile\nAWS_ACCESS_KEY_ID={moto.key_id}\n"
                f"AWS_SECRET_ACCESS_KEY='{moto.secret}'\nAWS_ENDPOINT_URL={moto.endpoint}\nS3_PREFIX=p\n")
    os.chmod(cfg, 0o600)
    srv = Server(tmp_path, env={"S3_BUCKET": "fromenv"}, extra_args=FAST + ["--ship-retry-s", "600"]).start()
    try:
        time.sleep(1)
        assert srv.health()["shipping"]["target"] == "s3://fromenv/p/default/days"
    finally:
        srv.stop()
    # Flags override both.
    srv = Server(tmp_path, env={"S3_BUCKET": "fromenv"},
                 extra_args=FAST + ["--ship-retry-s", "600", "--s3-bucket", "fromflag"]).start()
    try:
        assert srv.health()["shipping"]["target"] == "s3://fromflag/p/default/days"
    finally:
        srv.stop()
    assert secret not in open(srv.log_path).read() and moto.secret not in open(srv.log_path).read()


def test_wrong_credentials_then_fixed(tmp_path, moto):
    bucket = moto.create_bucket("creds")
    root, day = make_past_day(tmp_path, n_traces=5, requests_n=1)
    env = moto.env(bucket)
    env["AWS_SECRET_ACCESS_KEY"] = "wrong-secret"
    srv = Server(tmp_path, env=env, extra_args=FAST).start()
    try:
        # Said at start, before any day is due: the access check runs in the first pass.
        a = s3_access(srv)
        assert a["ok"] is False and "creds" in a["error"], a
        deadline = time.time() + 60
        while time.time() < deadline:
            fails = [r for r in records(root, day) if r["phase"] == "uploaded" and not r["ok"]]
            if len(fails) >= 2:  # retried periodically, not only at restart
                break
            time.sleep(0.3)
        assert len(fails) >= 2, records(root, day)
        assert "SignatureDoesNotMatch" in fails[0]["error"] or "signature" in fails[0]["error"].lower(), fails[0]
        assert phase_of(root, day) == "sealed"
        assert os.path.isdir(os.path.join(root, "staging", "days", day))
        failing = srv.health()["shipping"]["failing"]
        assert failing and failing[0]["day"] == day and failing[0]["phase"] == "uploaded"
        assert "wrong-secret" not in json.dumps(srv.health())
    finally:
        srv.stop()
    log = open(srv.log_path).read()
    assert "wrong-secret" not in log and "S3 is not usable" in log
    srv = Server(tmp_path, env=moto.env(bucket), extra_args=FAST).start()
    try:
        assert s3_access(srv)["ok"] is True
        wait_phase(root, day, "cleaned", srv=srv)
    finally:
        srv.stop()
    tables = shipped_tables(root, day)
    assert independent_counts(moto, bucket, "", "default", day, tables) == {t: (n, n) for t, n in tables.items()}


def test_missing_bucket_is_retried_until_it_exists(tmp_path, moto):
    root, day = make_past_day(tmp_path, n_traces=5, requests_n=1)
    srv = Server(tmp_path, env=moto.env("later"), extra_args=FAST).start()
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not any(not r["ok"] for r in records(root, day)):
            time.sleep(0.2)
        a = s3_access(srv)
        assert a["ok"] is False and "bucket 'later' does not exist" in a["error"], a
        status = run("status", "-P", str(srv.port))
        assert "S3 NOT USABLE: bucket 'later' does not exist" in status.stdout, status.stdout
        fail = [r for r in records(root, day) if not r["ok"]][0]
        assert fail["phase"] == "uploaded" and ("NoSuchBucket" in fail["error"] or "bucket" in fail["error"].lower()), fail
        assert os.path.isdir(os.path.join(root, "staging", "days", day))
        moto.create_bucket("later")
        recs = wait_phase(root, day, "cleaned", srv=srv)
        assert [r["phase"] for r in recs if r["ok"]] == ["sealed", "uploaded", "verified", "cleaned"]
        assert srv.health()["shipping"]["s3_access"]["ok"] is True  # rechecked every pass while failing
    finally:
        srv.stop()
    assert "S3 is reachable again" in open(srv.log_path).read()


def _ship_through_proxy(tmp_path, moto, bucket, fail_rate, hang_rate, n_traces, requests_n, timeout):
    root, day = make_past_day(tmp_path, n_traces=n_traces, requests_n=requests_n)
    proxy = FaultProxy(moto.port, fail_rate=fail_rate, hang_rate=hang_rate, hang_s=4, seed=3)
    try:
        srv = Server(tmp_path, env=moto.env(bucket, endpoint=proxy.endpoint),
                     extra_args=FAST + ["--s3-timeout-s", "2", "--ship-parallelism", "3"]).start()
        try:
            recs = wait_phase(root, day, "cleaned", timeout=timeout, srv=srv)
        finally:
            assert srv.stop() == 0, srv.read_log()
    finally:
        proxy.stop()
    assert proxy.stats["500"] + proxy.stats["503"] + proxy.stats["hung"] > 0, proxy.stats
    # Never cleaned before a successful verify.
    phases = [(r["phase"], r["ok"]) for r in recs]
    assert phases.index(("cleaned", True)) > phases.index(("verified", True)), phases
    tables = shipped_tables(root, day)
    assert independent_counts(moto, bucket, "", "default", day, tables) == {t: (n, n) for t, n in tables.items()}
    return proxy, recs


def test_ship_through_failing_proxy(tmp_path, moto):
    proxy, _ = _ship_through_proxy(tmp_path, moto, moto.create_bucket("flaky"), fail_rate=0.25, hang_rate=0.1,
                                   n_traces=20, requests_n=2, timeout=120)
    assert proxy.stats["forwarded"] > 0


@pytest.mark.slow
def test_ship_through_very_failing_proxy_larger_day(tmp_path, moto):
    _ship_through_proxy(tmp_path, moto, moto.create_bucket("veryflaky"), fail_rate=0.5, hang_rate=0.2,
                        n_traces=2000, requests_n=10, timeout=900)


def test_kill9_in_the_middle_of_an_upload_then_resume(tmp_path, moto):
    bucket = moto.create_bucket("kill9")
    # Enough bytes that a throttled upload takes seconds: random attribute values do not compress.
    root, day = make_past_day(tmp_path, n_traces=3000, requests_n=2)
    proxy = FaultProxy(moto.port, slow_bytes_per_s=400_000)
    try:
        srv = Server(tmp_path, env=moto.env(bucket, endpoint=proxy.endpoint), extra_args=FAST).start()
        # Kill once one data file has arrived and others are on their way.
        done = lambda: [p for m, p, st in list(proxy.log) if m == "PUT" and "part-" in p and st == 200]
        deadline = time.time() + 60
        while time.time() < deadline and not done():
            time.sleep(0.05)
        assert done(), (proxy.log, records(root, day))
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
        assert phase_of(root, day) == "sealed", records(root, day)
        assert os.path.isdir(os.path.join(root, "staging", "days", day))
        before = {t: n for t, n in shipped_tables(root, day).items()}
        proxy.slow_bytes_per_s = None
        srv = Server(tmp_path, env=moto.env(bucket, endpoint=proxy.endpoint), extra_args=FAST).start()
        try:
            recs = wait_phase(root, day, "cleaned", timeout=120, srv=srv)
        finally:
            srv.stop()
    finally:
        proxy.stop()
    # Resumed from "sealed": not sealed again, uploaded once (sending only what had not arrived),
    # verified, cleaned.
    assert [r["phase"] for r in recs] == ["sealed", "uploaded", "verified", "cleaned"], recs
    assert recs[1]["upload"]["skipped"] >= 1, recs[1]
    assert independent_counts(moto, bucket, "", "default", day, before) == {t: (n, n) for t, n in before.items()}


def test_restart_between_phases_never_redoes_a_finished_phase(tmp_path, moto):
    bucket = moto.create_bucket("phases")
    root, day = make_past_day(tmp_path, n_traces=10, requests_n=1)
    env = moto.env(bucket)
    # Phase 1 by hand, server stopped.
    r = run("seal", "-D", str(tmp_path), "--day", day, env=env)
    assert r.returncode == 0, r.stderr
    assert f"{day}: sealed" in r.stdout
    assert phase_of(root, day) == "sealed"
    r = run("seal", "-D", str(tmp_path), "--day", day, env=env)  # nothing left to do
    assert r.returncode == 0 and len(records(root, day)) == 1
    # Phases 2-3 by hand, keeping the local copy.
    r = run("ship", "-D", str(tmp_path), "--day", day, "--keep-local", env=env)
    assert r.returncode == 0, r.stderr
    assert phase_of(root, day) == "verified"
    assert os.path.isdir(os.path.join(root, "staging", "days", day))
    # The server finishes the job: only "cleaned" is added.
    srv = Server(tmp_path, env=env, extra_args=FAST).start()
    try:
        recs = wait_phase(root, day, "cleaned", srv=srv)
    finally:
        srv.stop()
    assert [x["phase"] for x in recs] == ["sealed", "uploaded", "verified", "cleaned"], recs
    # Usage errors and a day that is not over.
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    assert run("seal", "-D", str(tmp_path), "--day", today).returncode == 2
    assert run("seal", "-D", str(tmp_path), "--day", "2026-13-01").returncode == 2
    assert run("ship", "-D", str(tmp_path), "--day", day).returncode == 1  # no S3 configured


def test_live_rollover_is_sealed_and_shipped_after_grace(tmp_path, moto):
    """A server whose UTC midnight is a few seconds away: rows that arrive before it are shipped
    once the grace has passed, rows after it stay in the new day."""
    bucket = moto.create_bucket("rollover")
    now_ms = int(time.time() * 1000)
    lead_ms = 15_000  # the server's midnight is 15 s from now (a start on a busy machine fits)
    offset = DAY_MS - now_ms % DAY_MS - lead_ms
    midnight_real = (now_ms + lead_ms) / 1000
    env = moto.env(bucket)
    env["OTLAKE_CLOCK_OFFSET_MS"] = str(offset)
    srv = Server(tmp_path, env=env, extra_args=["--ship-grace-s", "3", "--ship-interval-s", "1",
                                                "--flush-age-ms", "200"]).start()
    try:
        rng = random.Random(5)
        assert time.time() < midnight_real - 1, "the server took too long to start"
        old_day = srv.health()["current_day_utc"]
        post(srv.url, traces_body(rng, 10), "traces")
        assert srv.health()["current_day_utc"] == old_day
        time.sleep(max(0.0, midnight_real + 0.5 - time.time()))
        post(srv.url, traces_body(rng, 3), "traces")
        new_day = srv.health()["current_day_utc"]
        assert new_day > old_day
        recs = wait_phase(srv.root, old_day, "cleaned", timeout=60, srv=srv)
        sealed = [r for r in recs if r["phase"] == "sealed"][0]
        assert {t["name"]: t["rows"] for t in sealed["local"]["tables"]}["otel/spans"] == 60
        assert os.path.isdir(os.path.join(srv.root, "staging", "days", new_day))
        assert phase_of(srv.root, new_day) == "none"
    finally:
        srv.stop()


def test_sigterm_in_the_middle_of_an_upload_is_recorded_and_resumed(tmp_path, moto):
    bucket = moto.create_bucket("sigterm")
    root, day = make_past_day(tmp_path, n_traces=3000, requests_n=2)
    proxy = FaultProxy(moto.port, slow_bytes_per_s=300_000)
    try:
        srv = Server(tmp_path, env=moto.env(bucket, endpoint=proxy.endpoint), extra_args=FAST).start()
        deadline = time.time() + 60
        while time.time() < deadline and not any(m == "PUT" and "part-" in p for m, p, _ in proxy.log):
            time.sleep(0.05)
        t0 = time.time()
        assert srv.stop(timeout=60) == 0, srv.read_log()
        assert time.time() - t0 < 30  # the upload stops between chunks, it is not waited for
        last = records(root, day)[-1]
        assert last["phase"] == "uploaded" and not last["ok"] and last["reason"] == "interrupted", last
        assert phase_of(root, day) == "sealed"
        proxy.slow_bytes_per_s = None
        srv = Server(tmp_path, env=moto.env(bucket, endpoint=proxy.endpoint), extra_args=FAST).start()
        try:
            recs = wait_phase(root, day, "cleaned", timeout=120, srv=srv)
        finally:
            srv.stop()
    finally:
        proxy.stop()
    assert [(r["phase"], r["ok"]) for r in recs] == [("sealed", True), ("uploaded", False), ("uploaded", True),
                                                      ("verified", True), ("cleaned", True)], recs
    assert recs[2]["attempt"] == 2


def test_seal_ship_days_help_and_days_listing(tmp_path):
    for cmd in ("seal", "ship", "days"):
        h = run(cmd, "--help")
        assert h.returncode == 0 and f"Usage: otlake {cmd}" in h.stdout, h.stderr
    assert "--s3-bucket" in run("ship", "--help").stdout and "-S, --storage" in run("view", "--help").stdout
    assert run("days", "-D", str(tmp_path)).returncode == 1  # no instance
    root, day = make_past_day(tmp_path, n_traces=4, requests_n=1)
    out = run("days", "-D", str(tmp_path), "--json")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["day"], r["local"], r["phase"]) for r in rows] == [(day, True, "none")], out.stdout
    assert rows[0]["rows"] == 24 + 4 + 4 + 40 + 25 + 25  # spans, events, links, logs, points, hist
    assert run("seal", "-D", str(tmp_path), "--day", day).returncode == 0
    table = run("days", "-D", str(tmp_path)).stdout
    assert table.splitlines()[0].split() == ["DAY", "LOCAL", "PHASE", "ROWS", "FILES", "BYTES", "UPDATED", "PROBLEM"]
    assert day in table and "sealed" in table and " 122 " in table, table


def test_a_foreign_table_on_s3_is_never_overwritten(tmp_path, moto):
    """Two instances with the same bucket, prefix and instance id: the second one's ship of the
    same day fails with foreign_table and leaves the first one's tables on S3 as they were."""
    bucket = moto.create_bucket("shared")
    env = moto.env(bucket)
    root_a, day = make_past_day(tmp_path / "a", n_traces=6, requests_n=1, seed=1)
    r = run("ship", "-D", str(tmp_path / "a"), "--day", day, env=env)
    assert r.returncode == 0, r.stderr
    counts_a = shipped_tables(root_a, day)
    keys_a = moto.keys(bucket)
    root_b, day_b = make_past_day(tmp_path / "b", n_traces=9, requests_n=1, seed=2)
    assert day_b == day
    r = run("ship", "-D", str(tmp_path / "b"), "--day", day, env=env)
    assert r.returncode != 0 and "another Delta table" in (r.stderr + r.stdout), (r.stdout, r.stderr)
    fail = [x for x in records(root_b, day) if not x["ok"]][-1]
    assert fail["phase"] == "uploaded" and fail["reason"] == "foreign_table", fail
    assert phase_of(root_b, day) == "sealed"
    assert os.path.isdir(os.path.join(root_b, "staging", "days", day))  # B's rows stay local
    assert moto.keys(bucket) == keys_a  # nothing written, nothing deleted
    assert independent_counts(moto, bucket, "", "default", day, counts_a) == {t: (n, n) for t, n in counts_a.items()}


def test_a_corrupt_object_found_by_verify_is_uploaded_again(tmp_path, moto):
    """An object with the right size but a broken footer: verify says mismatch (not "S3
    unreachable"), the next upload sends every file again, then the day verifies and is cleaned."""
    bucket = moto.create_bucket("corrupt")
    root, day = make_past_day(tmp_path, n_traces=10, requests_n=2)
    proxy = FaultProxy(moto.port)
    # Hold the day between upload and verify: footer reads of data files are refused (403: the
    # SDK does not retry it, so each attempt fails fast).
    proxy.fail_if = lambda method, path: 403 if method == "GET" and "/part-" in path else None
    try:
        srv = Server(tmp_path, env=moto.env(bucket, endpoint=proxy.endpoint), extra_args=FAST).start()
        try:
            deadline = time.time() + 60
            while time.time() < deadline and not any(
                    x["phase"] == "verified" and not x["ok"] for x in records(root, day)):
                time.sleep(0.2)
            fails = [x for x in records(root, day) if not x["ok"]]
            assert fails, (records(root, day), srv.read_log())
            assert fails[0]["phase"] == "verified" and fails[0]["reason"] == "s3_unreachable", fails
            assert phase_of(root, day) == "uploaded"
            # Break one data file on S3, size unchanged.
            s3 = moto.client()
            key = sorted(k for k in moto.keys(bucket) if "/otel/spans/part-" in k)[0]
            size = len(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            s3.put_object(Bucket=bucket, Key=key, Body=b"\x00" * size)
            proxy.fail_if = None
            recs = wait_phase(root, day, "cleaned", timeout=90, srv=srv)
        finally:
            srv.stop()
    finally:
        proxy.stop()
    mismatch = [x for x in recs if x["phase"] == "verified" and x.get("reason") == "mismatch"]
    assert mismatch and "corrupt" in mismatch[0]["error"], recs
    again = [x for x in recs if x["phase"] == "uploaded" and x["ok"]][-1]
    assert again["upload"]["skipped"] == 0 and again["upload"]["uploaded"] > 0, again
    counts = shipped_tables(root, day)
    assert independent_counts(moto, bucket, "", "default", day, counts) == {t: (n, n) for t, n in counts.items()}


def test_rows_written_into_a_verified_day_are_shipped_again_before_cleaning(tmp_path, moto):
    """A day verified with --keep-local, then written to again (a clock that stepped back): the
    server seals, uploads and verifies it again, and only then cleans; S3 ends with every row."""
    bucket = moto.create_bucket("again")
    env = moto.env(bucket)
    root, day = make_past_day(tmp_path, n_traces=5, requests_n=1, seed=1)
    r = run("ship", "-D", str(tmp_path), "--day", day, "--keep-local", env=env)
    assert r.returncode == 0, r.stderr
    first = shipped_tables(root, day)
    make_past_day(tmp_path, n_traces=7, requests_n=1, seed=2)  # more rows into the same day
    srv = Server(tmp_path, env=env, extra_args=FAST).start()
    try:
        recs = wait_phase(root, day, "cleaned", srv=srv)
    finally:
        srv.stop()
    assert [x["phase"] for x in recs if x["ok"]] == ["sealed", "uploaded", "verified",
                                                     "sealed", "uploaded", "verified", "cleaned"], recs
    counts = shipped_tables(root, day)
    assert counts["spans"] == first["spans"] + 7 * 6, (first, counts)
    assert independent_counts(moto, bucket, "", "default", day, counts) == {t: (n, n) for t, n in counts.items()}


def test_rows_written_into_a_cleaned_day_stay_readable_and_are_reported(tmp_path, moto):
    """A day shipped and cleaned, then written to again: the new rows stay local, `auto` reads
    them next to the S3 copy, and /healthz names the day."""
    bucket = moto.create_bucket("late")
    env = moto.env(bucket)
    root, day = make_past_day(tmp_path, n_traces=5, requests_n=1, seed=1)
    r = run("ship", "-D", str(tmp_path), "--day", day, env=env)
    assert r.returncode == 0, r.stderr
    assert phase_of(root, day) == "cleaned"
    shipped = shipped_tables(root, day)["spans"]
    make_past_day(tmp_path, n_traces=7, requests_n=1, seed=2)  # a clock that stepped back
    srv = Server(tmp_path, env=env, extra_args=FAST).start()
    try:
        params = {"date_from": day, "date_to": day, "max_rows": 10000, "select": "span_id"}
        spans = requests.get(f"{srv.url}/api/spans", params=params, timeout=60).json()["rows"]
        assert len(spans) == shipped + 7 * 6 and len({s["span_id"] for s in spans}) == len(spans)
        only_s3 = requests.get(f"{srv.url}/api/spans", params=dict(params, storage="s3"), timeout=60).json()
        assert only_s3["count"] == shipped
        deadline = time.time() + 30
        while time.time() < deadline:
            shipping = requests.get(f"{srv.url}/healthz", timeout=10).json()["shipping"]
            if shipping["late_rows_days"]:
                break
            time.sleep(0.5)
        assert shipping["late_rows_days"] == [day], shipping
        assert phase_of(root, day) == "cleaned"
        assert os.path.isdir(os.path.join(root, "staging", "days", day))
    finally:
        srv.stop()
    assert "rows were written into it since" in srv.read_log()


def test_one_process_owns_an_instance(tmp_path):
    """The instance lock: while another process holds it (a server in its WAL recovery, a
    seal/ship replaying the WAL), neither a server nor a seal of a stopped instance starts."""
    import fcntl
    root, day = make_past_day(tmp_path, n_traces=3, requests_n=1)
    with open(os.path.join(root, "configs", "instance.lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        st = subprocess.run([otlake_bin(), "start", "-F", "-D", str(tmp_path), "-P", "0"], capture_output=True,
                            text=True, timeout=30)
        assert st.returncode == 1 and "in use by another otlake process" in st.stderr, st
        r = run("seal", "-D", str(tmp_path), "--day", day)
        assert r.returncode == 1 and "in use by another otlake process" in r.stderr, r
        assert phase_of(root, day) == "none"
    r = run("seal", "-D", str(tmp_path), "--day", day)
    assert r.returncode == 0, r.stderr
    assert phase_of(root, day) == "sealed"
