"""S3 ingestion sources (docs/sources.md): the seed's /v3/ingestion-sources API against the real
server and moto (IAM auth on) as the bucket: files discovered, ingested into the source's project
and queryable, malformed files failed without retries, retry / retry-failed, the connection test
naming NoSuchBucket / wrong keys / an unreachable endpoint, 400s naming the field, 401/403 without
an admin key, and no secret in any answer, the log or the state file."""
import json
import os
import signal
import socket
import stat
import subprocess
import time

import pytest
import requests

from conftest import Server, otlake_bin, read_table, wait_for
from s3_server import FaultProxy, MotoS3

APP = "3f1b6c9e-1d2a-4c5b-9e8f-0a1b2c3d4e5f"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def seed_file(trace_id=TRACE, app=APP, n=4):
    """The seed's sample file: one resource with application.id, n spans (one root)."""
    now = time.time_ns()
    spans = []
    for i in range(n):
        spans.append({
            "traceId": trace_id, "spanId": f"{i + 1:016x}",
            "parentSpanId": "" if i == 0 else f"{1:016x}",
            "name": "agent_invocation" if i == 0 else f"step_{i}", "kind": 1,
            "startTimeUnixNano": str(now - 5_000_000_000 + i), "endTimeUnixNano": str(now),
            "status": {"code": 1},
            "attributes": [{"key": "fiddler.span.type", "value": {"stringValue": "llm"}}]})
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "application.id", "value": {"stringValue": app}},
            {"key": "service.name", "value": {"stringValue": "your-service-name"}}]},
        "scopeSpans": [{"scope": {"name": "your-tracer-name", "version": "1.0.0"}, "spans": spans}]}]})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env()
    e.s3 = MotoS3()
    e.bucket = e.s3.create_bucket("my-traces-bucket")
    e.base = tmp_path_factory.mktemp("sources")
    subprocess.run([otlake_bin(), "init", "-D", str(e.base)], check=True, capture_output=True)

    def key(*args):
        r = subprocess.run([otlake_bin(), "keys", "create", *args, "-D", str(e.base)], capture_output=True,
                           text=True, check=True)
        return r.stdout.strip()

    e.admin = key("--scope", "admin")
    e.ingest = key("--scope", "ingest")
    e.server = Server(e.base, env={}).start()
    e.answers = []  # every answer body, to look for secrets in
    yield e
    e.server.stop()
    e.s3.stop()


def call(e, method, path, body=None, token="admin", **kw):
    headers = {}
    if token:
        headers["Authorization"] = "Bearer " + (e.admin if token == "admin" else token)
    r = requests.request(method, e.server.url + path, headers=headers,
                         data=None if body is None else (body if isinstance(body, (str, bytes)) else json.dumps(body)),
                         timeout=60, **kw)
    e.answers.append(r.text)
    return r


def source_body(e, source_name, **over):
    b = {"name": source_name, "description": "Agent traces from S3", "provider": "s3", "region": "us-east-1",
         "bucket": e.bucket, "prefix": "traces/", "scan_interval_seconds": 10, "file_extensions": [".json"],
         "credential_type": "access_key", "access_key_id": e.s3.key_id, "secret_access_key": e.s3.secret,
         "endpoint_url": e.s3.endpoint, "application_ids": [APP]}
    b.update(over)
    return b


def files(e, sid, **params):
    r = call(e, "GET", f"/v3/ingestion-sources/{sid}/files", params=params)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def file_by_key(e, sid, key):
    for f in files(e, sid, limit=1000)["items"]:
        if f["s3_key"] == key:
            return f
    return None


def wait_file(e, sid, key, status, timeout=60):
    return wait_for(lambda: (lambda f: f if f and f["status"] == status else None)(file_by_key(e, sid, key)),
                    f"{key} to be {status} (now {file_by_key(e, sid, key)})", timeout=timeout, interval=0.3)


def spans_of(e, project, trace_id=TRACE):
    params = {"project_id": project, "limit": 1000}
    if trace_id:
        params["trace_id"] = trace_id
    r = requests.get(e.server.url + "/api/spans", params=params, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["rows"]


def test_v3_needs_an_admin_key(env):
    assert call(env, "GET", "/v3/ingestion-sources", token=None).status_code == 401
    assert call(env, "GET", "/v3/ingestion-sources", token=env.ingest).status_code == 403
    assert call(env, "POST", "/v3/ingestion-sources", body=source_body(env, "x"), token=env.ingest).status_code == 403
    r = call(env, "GET", "/v3/ingestion-sources")
    assert r.status_code == 200 and "items" in r.json()["data"]


@pytest.mark.parametrize("over,field", [
    ({"name": ""}, "name"), ({"name": "x" * 256}, "name"), ({"bucket": None}, "bucket"),
    ({"bucket": "s3://my-traces-bucket"}, "bucket"), ({"application_ids": []}, "application_ids"),
    ({"application_ids": ["a", "b"]}, "application_ids"), ({"provider": "ftp"}, "provider"),
    ({"provider": "hdfs"}, "provider"), ({"scan_interval_seconds": 9}, "scan_interval_seconds"),
    ({"file_extensions": [".csv"]}, "file_extensions"), ({"credential_type": "x"}, "credential_type"),
    ({"secret_access_key": None}, "secret_access_key"), ({"endpoint_url": "ftp://x"}, "endpoint_url"),
    ({"description": "d" * 1001}, "description"), ({"region": 5}, "region"), ({"colour": "red"}, "colour"),
])
def test_bad_fields_are_400_naming_the_field(env, over, field):
    r = call(env, "POST", "/v3/ingestion-sources", body=source_body(env, "bad", **over))
    assert r.status_code == 400, r.text
    assert f"'{field}'" in r.json()["error"], r.text


def test_defaults_duplicates_and_not_found(env):
    r = call(env, "POST", "/v3/ingestion-sources",
             body={"name": "defaults", "bucket": "other-bucket", "application_ids": ["p1"]})
    assert r.status_code == 201, r.text
    d = r.json()["data"]
    assert (d["provider"], d["prefix"], d["file_extensions"], d["credential_type"], d["scan_interval_seconds"]) == \
        ("s3", "", [".json"], "iam_role", 60)
    dup = call(env, "POST", "/v3/ingestion-sources", body={"name": "defaults", "bucket": "b-b-b", "application_ids": ["p"]})
    assert dup.status_code == 409 and "'name'" in dup.json()["error"]
    assert call(env, "DELETE", f"/v3/ingestion-sources/{d['id']}").status_code == 200
    assert call(env, "GET", f"/v3/ingestion-sources/{d['id']}").status_code == 404
    assert call(env, "GET", "/v3/ingestion-sources/nope/stats").status_code == 404
    assert call(env, "POST", "/v3/ingestion-sources", body="{not json").status_code == 400


def test_seed_file_is_ingested_into_the_project(env):
    s3 = env.s3.client()
    s3.put_object(Bucket=env.bucket, Key="traces/sample_trace.json", Body=seed_file().encode())
    s3.put_object(Bucket=env.bucket, Key="traces/notes.txt", Body=b"not listed")
    s3.put_object(Bucket=env.bucket, Key="elsewhere/x.json", Body=seed_file().encode())
    r = call(env, "POST", "/v3/ingestion-sources", body=source_body(env, "my-agent-traces"))
    assert r.status_code == 201, r.text
    src = r.json()["data"]
    env.sid = src["id"]
    t = call(env, "POST", f"/v3/ingestion-sources/{env.sid}/test")
    assert t.status_code == 200 and t.json() == {"status": "success", "files_found": 1}, t.text
    f = wait_file(env, env.sid, "traces/sample_trace.json", "completed")
    assert f["spans_count"] == 4 and f["retries"] == 0 and f["max_retries"] == 3 and f["error_message"] is None
    assert f["file_size_bytes"] == len(seed_file()) or f["file_size_bytes"] > 0
    assert set(f) == {"id", "s3_key", "file_size_bytes", "status", "error_message", "spans_count", "retries",
                      "max_retries", "processed_at", "created_at"}
    st = call(env, "GET", f"/v3/ingestion-sources/{env.sid}/stats").json()["data"]
    assert st["source_id"] == env.sid and st["completed"] == 1 and st["total_spans_ingested"] == 4
    assert st["last_file_completed_at"].endswith("Z") and st["last_file_failed_at"] is None
    rows = wait_for(lambda: (lambda r: r if len(r) == 4 else None)(spans_of(env, APP)), "4 spans in the project")
    assert {r["project_id"] for r in rows} == {APP}
    assert spans_of(env, "default") == []
    one = call(env, "GET", f"/v3/ingestion-sources/{env.sid}").json()["data"]
    assert one["scan"]["error"] is None and one["has_credentials"] is True


def test_malformed_and_wrong_ids_fail_at_once(env):
    s3 = env.s3.client()
    s3.put_object(Bucket=env.bucket, Key="traces/bad.json", Body=b'{"resourceSpans": [ {')
    s3.put_object(Bucket=env.bucket, Key="traces/short_id.json", Body=seed_file(trace_id="4bf92f3577b34da6").encode())
    call(env, "POST", f"/v3/ingestion-sources/{env.sid}/test")
    bad = wait_file(env, env.sid, "traces/bad.json", "failed")
    assert bad["retries"] == 0 and "malformed" in bad["error_message"], bad
    short = wait_file(env, env.sid, "traces/short_id.json", "failed")
    assert short["retries"] == 0 and short["error_message"].startswith("invalid TraceID length"), short
    assert len(spans_of(env, APP, None)) == 4  # nothing of the short-id file was ingested
    failed = files(env, env.sid, status="failed")
    assert failed["total"] == 2 and {f["s3_key"] for f in failed["items"]} == {"traces/bad.json", "traces/short_id.json"}
    assert call(env, "GET", f"/v3/ingestion-sources/{env.sid}/files", params={"status": "weird"}).status_code == 400
    page = files(env, env.sid, limit=1, offset=1)
    assert page["item_count"] == 1 and page["total"] == 3 and page["page_size"] == 1
    # Retry one: re-queued, then fails again (still malformed); completed files cannot be retried.
    r = call(env, "POST", f"/v3/ingestion-sources/{env.sid}/files/{bad['id']}/retry")
    assert r.status_code == 200 and r.json()["data"]["status"] in ("pending", "processing", "failed"), r.text
    done = file_by_key(env, env.sid, "traces/sample_trace.json")
    assert call(env, "POST", f"/v3/ingestion-sources/{env.sid}/files/{done['id']}/retry").status_code == 409
    wait_file(env, env.sid, "traces/bad.json", "failed")
    # Fix the short-id file in place; an overwritten object is new data and is picked up again.
    s3.put_object(Bucket=env.bucket, Key="traces/bad.json",
                  Body=seed_file(trace_id="5b8efff798038103d269b633813fc60c", n=2).encode())
    r = call(env, "POST", f"/v3/ingestion-sources/{env.sid}/retry-failed")
    assert r.status_code == 200 and r.json()["data"]["retried"] >= 1, r.text
    wait_file(env, env.sid, "traces/bad.json", "completed")
    wait_for(lambda: len(spans_of(env, APP, "5b8efff798038103d269b633813fc60c")) == 2, "the fixed file's 2 spans")
    # Completed files are not processed again by later scans.
    time.sleep(1.5)
    assert len(spans_of(env, APP)) == 4


def test_connection_test_names_the_problem(env):
    def test_of(**over):
        r = call(env, "POST", "/v3/ingestion-sources", body=source_body(env, "t-" + str(time.time_ns()), **over))
        assert r.status_code == 201, r.text
        sid = r.json()["data"]["id"]
        t = call(env, "POST", f"/v3/ingestion-sources/{sid}/test")
        call(env, "DELETE", f"/v3/ingestion-sources/{sid}")
        assert t.status_code == 200
        return t.json()

    nb = test_of(bucket="no-such-bucket-here")
    assert nb["status"] == "error" and "NoSuchBucket" in nb["message"], nb
    wrong = test_of(secret_access_key="wrong-secret-value-1234")
    assert wrong["status"] == "error" and any(c in wrong["message"] for c in
                                               ("SignatureDoesNotMatch", "AccessDenied", "InvalidAccessKeyId")), wrong
    assert "wrong-secret-value-1234" not in json.dumps(wrong)
    unknown = test_of(access_key_id="AKIANOSUCHKEY0000000")
    assert unknown["status"] == "error" and ("InvalidAccessKeyId" in unknown["message"] or
                                             "AccessDenied" in unknown["message"]), unknown
    down = test_of(endpoint_url=f"http://127.0.0.1:{free_port()}")
    assert down["status"] == "error" and "endpoint" in down["message"].lower(), down


def test_transient_errors_are_retried_and_access_denied_fails_at_once(env):
    """Through a fault proxy: the first GETs of one object answer 503 SlowDown (transient: back to
    pending with retries + 1, then completed); another object always answers 403 AccessDenied
    (permanent: failed at once, retries 0)."""
    proxy = FaultProxy(env.s3.port)
    counts = {"flaky": 0}

    def fail_if(method, path):
        if "flaky.json" in path and method in ("GET", "HEAD") and "list-type" not in path:
            counts["flaky"] += 1
            return 503 if counts["flaky"] <= 3 else None
        if "denied.json" in path and "list-type" not in path:
            return 403
        return None

    proxy.fail_if = fail_if
    try:
        client = env.s3.client()
        client.put_object(Bucket=env.bucket, Key="faults/flaky.json",
                          Body=seed_file(trace_id="8d1e2f3a4b5c6d7e8f9a0b1c2d3e4f50", n=3).encode())
        client.put_object(Bucket=env.bucket, Key="faults/denied.json", Body=seed_file().encode())
        r = call(env, "POST", "/v3/ingestion-sources",
                 body=source_body(env, "faults", prefix="faults/", endpoint_url=proxy.endpoint,
                                  application_ids=["faultproj"]))
        assert r.status_code == 201, r.text
        sid = r.json()["data"]["id"]
        denied = wait_file(env, sid, "faults/denied.json", "failed")
        assert denied["retries"] == 0 and denied["error_message"].startswith("AccessDenied"), denied
        flaky = wait_file(env, sid, "faults/flaky.json", "completed", timeout=90)
        assert flaky["retries"] >= 1 and flaky["spans_count"] == 3, flaky
        assert counts["flaky"] >= 4
        wait_for(lambda: len(spans_of(env, "faultproj", "8d1e2f3a4b5c6d7e8f9a0b1c2d3e4f50")) == 3, "the flaky file's spans")
        # The source's own counters say what happened (/healthz "sources").
        h = requests.get(env.server.url + "/healthz", timeout=30).json()["sources"]["faults"]
        assert h["id"] == sid and h["files_retried"] >= 1 and h["files_failed"] == 1 and h["files_completed"] == 1, h
        assert call(env, "DELETE", f"/v3/ingestion-sources/{sid}").status_code == 200
    finally:
        proxy.stop()


def test_an_object_changed_between_listing_and_reading_is_ingested_as_it_is_now(env):
    """An object is read with one GET (no HEAD) at its listed size + 1 byte. Here each object is
    rewritten in the store just as otlake's GET reaches the proxy: one grows (the extra byte
    shows it: the file goes back to pending without a retry counted, the source is scanned again
    at once, and that scan's new tag gets it in), one shrinks (its read ends in zeros and fails to
    decode; the source is scanned again at once and the new tag queues it again). Both end
    completed with the new version's spans only -- promptly, though the source's own scan
    interval is an hour."""
    proxy = FaultProxy(env.s3.port)
    client = env.s3.client()
    grow_v1 = seed_file(trace_id="9a" * 16, n=2).encode()
    grow_v2 = seed_file(trace_id="9b" * 16, n=5).encode()
    shrink_v1 = seed_file(trace_id="9c" * 16, n=5).encode()
    shrink_v2 = seed_file(trace_id="9d" * 16, n=2).encode()
    assert len(grow_v2) > len(grow_v1) and len(shrink_v2) < len(shrink_v1)
    rewritten, gets = set(), []

    def fail_if(method, path):
        if method == "HEAD" and "changing/" in path:
            gets.append((method, path))
        if method == "GET" and "list-type" not in path:
            gets.append((method, path))
            for name, body in (("grows.json", grow_v2), ("shrinks.json", shrink_v2)):
                if name in path and name not in rewritten:
                    rewritten.add(name)
                    client.put_object(Bucket=env.bucket, Key="changing/" + name, Body=body)
        return None

    proxy.fail_if = fail_if
    try:
        client.put_object(Bucket=env.bucket, Key="changing/grows.json", Body=grow_v1)
        client.put_object(Bucket=env.bucket, Key="changing/shrinks.json", Body=shrink_v1)
        time.sleep(2.5)  # older than the scan's settle time, so the first scan takes both
        r = call(env, "POST", "/v3/ingestion-sources",
                 body=source_body(env, "changing", prefix="changing/", endpoint_url=proxy.endpoint,
                                  application_ids=["changeproj"], scan_interval_seconds=3600))
        assert r.status_code == 201, r.text
        sid = r.json()["data"]["id"]
        grown = wait_file(env, sid, "changing/grows.json", "completed", timeout=60)
        shrunk = wait_file(env, sid, "changing/shrinks.json", "completed", timeout=60)
        assert rewritten == {"grows.json", "shrinks.json"}
        assert grown["spans_count"] == 5 and grown["retries"] == 0 and grown["error_message"] is None, grown
        assert shrunk["spans_count"] == 2 and shrunk["error_message"] is None, shrunk
        wait_for(lambda: len(spans_of(env, "changeproj", "9b" * 16)) == 5, "the grown object's spans")
        wait_for(lambda: len(spans_of(env, "changeproj", "9d" * 16)) == 2, "the shrunk object's spans")
        assert spans_of(env, "changeproj", "9a" * 16) == [] and spans_of(env, "changeproj", "9c" * 16) == []
        assert not [g for g in gets if g[0] == "HEAD"], gets  # one GET per read, no HEAD
        with open(env.server.log_path) as f:
            assert "'changing/grows.json' of source 'changing' grew since it was listed" in f.read()
        assert call(env, "DELETE", f"/v3/ingestion-sources/{sid}").status_code == 200
    finally:
        proxy.stop()


def test_per_source_counters_in_healthz_and_metrics(env):
    """/healthz "sources" and the otlake_source_* Prometheus families count what each source did:
    files discovered/completed/failed, bytes, records, scans and their time, the backlog."""
    from prometheus_client.parser import text_string_to_metric_families
    h = env.server.health()["sources"]["my-agent-traces"]
    assert h["id"] == env.sid and h["provider"] == "s3" and h["ok"] is True and h["last_scan_error"] is None, h
    assert h["files_completed"] >= 1 and h["records_ingested"] >= 4 and h["bytes"] >= len(seed_file()), h
    assert h["files_discovered"] >= h["files_completed"] and h["scans"] >= 1 and h["last_scan_at"].endswith("Z"), h
    assert h["pending"] >= 0 and h["processing"] >= 0 and h["objects_listed"] >= 1, h
    text = requests.get(env.server.url + "/metrics", timeout=30).text
    samples = {}
    for fam in text_string_to_metric_families(text):
        for smp in fam.samples:
            if smp.name.startswith("otlake_source_") and smp.labels.get("source") == "my-agent-traces":
                assert smp.labels["source_id"] == env.sid
                samples[smp.name] = smp.value
    assert samples["otlake_source_files_completed_total"] >= 1, samples
    assert samples["otlake_source_records_ingested_total"] >= 4
    assert samples["otlake_source_bytes_total"] >= len(seed_file())
    assert samples["otlake_source_scans_total"] >= 1 and samples["otlake_source_up"] == 1
    assert samples["otlake_source_last_scan_timestamp_seconds"] > time.time() - 3600
    for name in ("otlake_source_files_failed_total", "otlake_source_files_retried_total", "otlake_source_files_pending",
                 "otlake_source_files_processing", "otlake_source_scan_seconds_total",
                 "otlake_source_last_scan_duration_seconds", "otlake_source_scan_errors_total",
                 "otlake_source_files_discovered_total"):
        assert name in samples, name


def test_same_size_rewrite_within_a_second_is_not_missed(env):
    """Change detection is key + mtime + size (arrow::fs reports no ETag; docs/sources.md). S3's
    mtime has one-second resolution, so an object rewritten with the same size in the second a
    scan first saw it would look unchanged: a scan leaves objects younger than 2 s for a later
    scan. Here v1 is written, a scan runs, and v2 of the same size overwrites it within the same
    second (checked: both LastModified equal); v2's spans are the ones ingested, v1's never."""
    client = env.s3.client()
    r = call(env, "POST", "/v3/ingestion-sources", body=source_body(env, "rewrite", prefix="rewrite/",
                                                                    application_ids=["rewriteproj"]))
    assert r.status_code == 201, r.text
    sid = r.json()["data"]["id"]

    def scans():
        return env.server.health()["sources"]["rewrite"]["scans"]

    wait_for(lambda: scans() >= 1, "the first scan")
    same_second = False
    for attempt in range(5):  # until v1, a scan and v2 fit in one second (the case under test)
        key = f"rewrite/obj{attempt}.json"
        v1, v2 = f"{attempt + 1:02x}" * 16, f"{attempt + 0x81:02x}" * 16
        b1, b2 = seed_file(trace_id=v1, n=3).encode(), seed_file(trace_id=v2, n=3).encode()
        assert len(b1) == len(b2)
        while time.time() % 1 > 0.05:
            time.sleep(0.005)
        client.put_object(Bucket=env.bucket, Key=key, Body=b1)
        t1 = client.head_object(Bucket=env.bucket, Key=key)["LastModified"]
        before = scans()
        call(env, "PATCH", f"/v3/ingestion-sources/{sid}", body={"description": f"scan {attempt}"})
        wait_for(lambda: scans() > before, "a scan after v1", interval=0.01)
        # Had the scan recorded v1, a worker would ingest it at once: give it that chance, so
        # that v2 cannot be what the worker reads.
        deadline = time.time() + 0.6
        while time.time() < deadline and (file_by_key(env, sid, key) or {}).get("status") != "completed":
            time.sleep(0.02)
        client.put_object(Bucket=env.bucket, Key=key, Body=b2)
        t2 = client.head_object(Bucket=env.bucket, Key=key)["LastModified"]
        f = wait_file(env, sid, key, "completed")
        assert f["spans_count"] == 3
        wait_for(lambda: len(spans_of(env, "rewriteproj", v2)) == 3, f"v2's spans ({key})")
        assert spans_of(env, "rewriteproj", v1) == []
        if t1 == t2:
            same_second = True
            break
    assert same_second, "never managed to scan and rewrite within one second"
    assert call(env, "DELETE", f"/v3/ingestion-sources/{sid}").status_code == 200


def test_access_denied_by_a_bucket_policy(env):
    """A bucket policy (moto, IAM auth on, enforces it) denies s3:GetObject under one prefix: that
    object fails at once with AccessDenied (retries 0) while its neighbour is ingested. (A policy
    denying s3:ListBucket is not enforced by moto 5.2.5's listing, so the listing side of
    AccessDenied is tested through the fault proxy and wrong keys instead.)"""
    client = env.s3.client()
    bucket = env.s3.create_bucket("policy-bucket")
    client.put_object(Bucket=bucket, Key="p/denied/a.json", Body=seed_file(trace_id="3c" * 16).encode())
    client.put_object(Bucket=bucket, Key="p/open/b.json", Body=seed_file(trace_id="4d" * 16, n=2).encode())
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/p/denied/*"}]}))
    r = call(env, "POST", "/v3/ingestion-sources", body=source_body(env, "policy", bucket=bucket, prefix="p/",
                                                                    application_ids=["policyproj"]))
    assert r.status_code == 201, r.text
    sid = r.json()["data"]["id"]
    denied = wait_file(env, sid, "p/denied/a.json", "failed")
    assert denied["retries"] == 0 and denied["error_message"].startswith("AccessDenied"), denied
    assert wait_file(env, sid, "p/open/b.json", "completed")["spans_count"] == 2
    client.delete_bucket_policy(Bucket=bucket)
    assert call(env, "DELETE", f"/v3/ingestion-sources/{sid}").status_code == 200


def test_logs_and_metrics_and_compressed_files(env):
    """Not only traces: a logs .json and a gzipped metrics .json.gz land in their tables."""
    import gzip
    now = str(time.time_ns())
    logs = {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "batchlog"}}]},
                              "scopeLogs": [{"logRecords": [{"timeUnixNano": now, "severityText": "INFO",
                                                             "body": {"stringValue": "hello from s3"}}] * 2}]}]}
    metrics = {"resourceMetrics": [{"resource": {"attributes": []}, "scopeMetrics": [{"metrics": [{
        "name": "s3.metric", "gauge": {"dataPoints": [{"timeUnixNano": now, "asDouble": 1.5}] * 3}}]}]}]}
    client = env.s3.client()
    client.put_object(Bucket=env.bucket, Key="signals/app.json", Body=json.dumps(logs).encode())
    client.put_object(Bucket=env.bucket, Key="signals/m.json.gz", Body=gzip.compress(json.dumps(metrics).encode()))
    r = call(env, "POST", "/v3/ingestion-sources",
             body=source_body(env, "signals", prefix="signals/", file_extensions=[".json", ".json.gz"],
                              application_ids=["sigproj"]))
    assert r.status_code == 201, r.text
    sid = r.json()["data"]["id"]
    assert wait_file(env, sid, "signals/app.json", "completed")["spans_count"] == 2
    assert wait_file(env, sid, "signals/m.json.gz", "completed")["spans_count"] == 3

    def rows(path):
        return requests.get(env.server.url + path, params={"project_id": "sigproj"}, timeout=30).json()["rows"]

    wait_for(lambda: len(rows("/api/logs")) == 2, "2 log records in sigproj")
    wait_for(lambda: len(rows("/api/metrics/points")) == 3, "3 data points in sigproj")
    assert call(env, "DELETE", f"/v3/ingestion-sources/{sid}").status_code == 200


def test_patch_and_scan_state(env):
    r = call(env, "PATCH", f"/v3/ingestion-sources/{env.sid}", body={"description": "changed", "scan_interval_seconds": 5})
    assert r.status_code == 400 and "'scan_interval_seconds'" in r.text
    r = call(env, "PATCH", f"/v3/ingestion-sources/{env.sid}", body={"description": "changed"})
    assert r.status_code == 200 and r.json()["data"]["description"] == "changed"
    r = call(env, "PATCH", f"/v3/ingestion-sources/{env.sid}", body={"name": ""})
    assert r.status_code == 400 and "'name'" in r.text
    # The bucket vanishes: the next scan says so.
    r = call(env, "POST", "/v3/ingestion-sources", body=source_body(env, "vanishing", bucket="vanishing-bucket"))
    sid = r.json()["data"]["id"]
    wait_for(lambda: "NoSuchBucket" in (call(env, "GET", f"/v3/ingestion-sources/{sid}").json()["data"]["scan"]["error"] or ""),
             "the scan to report NoSuchBucket", timeout=30, interval=0.3)
    env.s3.create_bucket("vanishing-bucket")
    env.s3.client().put_object(Bucket="vanishing-bucket", Key="traces/a.json", Body=seed_file(trace_id="7c0a1b2c3d4e5f60718293a4b5c6d7e8").encode())
    call(env, "PATCH", f"/v3/ingestion-sources/{sid}", body={"description": "wake"})
    wait_file(env, sid, "traces/a.json", "completed")
    assert call(env, "DELETE", f"/v3/ingestion-sources/{sid}").status_code == 200


def cli(e, *args, key="admin", extra_env=None):
    environ = {k: v for k, v in os.environ.items() if k != "OTLAKE_API_KEY"}
    if key:
        environ["OTLAKE_API_KEY"] = e.admin if key == "admin" else key
    environ.update(extra_env or {})
    r = subprocess.run([otlake_bin(), "sources", *args, "-D", str(e.base)], capture_output=True, text=True,
                       env=environ, timeout=120)
    e.answers.append(r.stdout + r.stderr)
    return r


def test_cli(env):
    r = cli(env, "list")
    assert r.returncode == 0, r.stderr
    assert "my-agent-traces" in r.stdout and "NAME" in r.stdout.splitlines()[0]
    r = cli(env, "show", env.sid)
    assert r.returncode == 0 and "total_spans_ingested" in r.stdout and env.s3.secret not in r.stdout
    r = cli(env, "files", env.sid, "--status", "failed")
    assert r.returncode == 0 and "traces/short_id.json" in r.stdout and "invalid TraceID length" in r.stdout, r.stdout
    r = cli(env, "test", env.sid)
    assert r.returncode == 0 and r.stdout.startswith("success: "), r.stdout
    r = cli(env, "retry", env.sid)
    assert r.returncode == 0 and "queued again" in r.stdout
    r = cli(env, "add", "--name", "from-cli", "--bucket", env.bucket, "--application-id", "cliproj",
            "--prefix", "nothing-here/", "--credential-type", "access_key", "--access-key-id", env.s3.key_id,
            "--endpoint-url", env.s3.endpoint, "--scan-interval", "30",
            extra_env={"OTLAKE_SOURCE_SECRET_ACCESS_KEY": env.s3.secret})
    assert r.returncode == 0 and r.stdout.startswith("created source "), (r.stdout, r.stderr)
    new_id = r.stdout.split()[2]
    r = cli(env, "test", new_id)
    assert r.returncode == 0 and "0 file(s) found" in r.stdout, r.stdout
    r = cli(env, "add", "--name", "bad", "--bucket", env.bucket, "--application-id", "p", "--scan-interval", "5")
    assert r.returncode == 1 and "'scan_interval_seconds'" in r.stderr, r.stderr
    r = cli(env, "list", key=None)
    assert r.returncode == 1 and "HTTP 401" in r.stderr
    r = cli(env, "list", key=env.ingest)
    assert r.returncode == 1 and "HTTP 403" in r.stderr
    assert cli(env, "bogus").returncode == 2
    assert call(env, "DELETE", f"/v3/ingestion-sources/{new_id}").status_code == 200


def test_restart_keeps_state_and_does_not_reingest(env):
    before = call(env, "GET", f"/v3/ingestion-sources/{env.sid}/stats").json()["data"]
    env.server.stop()
    env.server.start()
    after = call(env, "GET", f"/v3/ingestion-sources/{env.sid}/stats").json()["data"]
    assert after["completed"] == before["completed"] and after["total_spans_ingested"] == before["total_spans_ingested"]
    time.sleep(2)
    assert len(spans_of(env, APP)) == 4


def test_secrets_are_never_shown_logged_or_stored(env):
    secret, key_id = env.s3.secret, env.s3.key_id
    lst = call(env, "GET", "/v3/ingestion-sources")
    assert lst.status_code == 200
    for body in env.answers:
        assert secret not in body and key_id not in body
    with open(env.server.log_path, "rb") as f:
        log = f.read()
    assert secret.encode() not in log and key_id.encode() not in log
    configs = os.path.join(env.server.root, "configs")
    for name in ("sources.sqlite", "sources.sqlite-wal", "sources.key"):
        p = os.path.join(configs, name)
        if not os.path.exists(p):
            continue
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, name
        with open(p, "rb") as f:
            data = f.read()
        assert secret.encode() not in data and key_id.encode() not in data, name


def jsonl_file(trace_id, docs=3, spans_per_doc=5, app=APP):
    now = time.time_ns()
    lines = []
    for d in range(docs):
        spans = [{"traceId": trace_id, "spanId": f"{d * 100 + i + 1:016x}", "name": f"doc{d}_span{i}", "kind": 1,
                  "startTimeUnixNano": str(now - 1_000_000), "endTimeUnixNano": str(now)}
                 for i in range(spans_per_doc)]
        lines.append(json.dumps({"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "batch"}}]},
            "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]}))
    return "\n".join(lines) + "\n"


def test_kill_9_during_processing_ingests_each_object_exactly_once(tmp_path):
    """kill -9 while files are being ingested, three times; every object's spans end up in the lake
    exactly once. The server waits 400 ms between an object's last durable WAL append and marking
    it completed (test hook), so the kills land in the window an at-least-once design duplicates."""
    s3 = MotoS3()
    try:
        bucket = s3.create_bucket("crash-bucket")
        client = s3.client()
        traces = [f"{i + 1:032x}" for i in range(16)]
        for i, t in enumerate(traces):
            key = f"batch/2026/04/{i:02d}.jsonl" if i % 2 else f"batch/2026/04/{i:02d}.json"
            body = jsonl_file(t) if i % 2 else jsonl_file(t, docs=1, spans_per_doc=15)
            client.put_object(Bucket=bucket, Key=key, Body=body.encode())
        subprocess.run([otlake_bin(), "init", "-D", str(tmp_path)], check=True, capture_output=True)
        admin = subprocess.run([otlake_bin(), "keys", "create", "--scope", "admin", "-D", str(tmp_path)],
                               capture_output=True, text=True, check=True).stdout.strip()
        h = {"Authorization": "Bearer " + admin}
        srv = Server(tmp_path, env={"OTLAKE_SOURCES_TEST_COMPLETE_DELAY_MS": "400"}).start()
        r = requests.post(srv.url + "/v3/ingestion-sources", headers=h, timeout=30, data=json.dumps({
            "name": "crash", "bucket": bucket, "prefix": "batch/", "file_extensions": [".json", ".jsonl"],
            "credential_type": "access_key", "access_key_id": s3.key_id, "secret_access_key": s3.secret,
            "endpoint_url": s3.endpoint, "region": "us-east-1", "scan_interval_seconds": 10,
            "application_ids": ["crashproj"]}))
        assert r.status_code == 201, r.text
        sid = r.json()["data"]["id"]

        def stats():
            return requests.get(f"{srv.url}/v3/ingestion-sources/{sid}/stats", headers=h, timeout=30).json()["data"]

        for round_ in range(3):
            done_before = stats()["completed"]
            wait_for(lambda: stats()["processing"] > 0 or stats()["completed"] == len(traces), "processing", timeout=60)
            time.sleep(0.2 + 0.1 * round_)
            srv.stop(sig=signal.SIGKILL)
            srv.start()
            if stats()["completed"] == len(traces):
                break
            assert stats()["completed"] >= done_before
        wait_for(lambda: stats()["completed"] == len(traces), "every file completed", timeout=120, interval=0.3)
        st = stats()
        assert st["failed"] == 0 and st["total_spans_ingested"] == 15 * len(traces), st
        srv.wait_persisted()
        for t in traces:
            rows = requests.get(srv.url + "/api/spans", params={"project_id": "crashproj", "trace_id": t, "limit": 1000},
                                timeout=30).json()["rows"]
            assert len(rows) == 15, (t, len(rows))
            assert len({r["span_id"] for r in rows}) == 15
        with open(srv.log_path, "rb") as f:
            log = f.read().decode(errors="replace")
        # The kills landed where at-least-once would have duplicated, and recovery settled them.
        assert "was fully in the WAL when otlake stopped: completed" in log or "resuming them after" in log, log[-3000:]
        assert srv.stop() == 0
    finally:
        s3.stop()


def test_iam_role_through_sts_with_external_id(tmp_path):
    """credential_type iam_role with role_arn + external_id: otlake assumes the role through STS
    (moto's, IAM auth on: the trust policy requires the external id, the role may only list and
    read) with the default credential chain as the caller, and ingests with the role's temporary
    credentials; a wrong external id is refused by STS and the connection test says AccessDenied."""
    import boto3
    s3 = MotoS3()
    try:
        iam = boto3.client("iam", endpoint_url=s3.endpoint, region_name="us-east-1",
                           aws_access_key_id=s3.key_id, aws_secret_access_key=s3.secret)
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/otlake"},
            "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "ext-7f3a"}}}]}
        role = iam.create_role(RoleName="otlake-reader", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        iam.put_role_policy(RoleName="otlake-reader", PolicyName="read", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"],
                                                    "Resource": "*"}]}))
        bucket = s3.create_bucket("role-bucket")
        tid = "9a" * 16
        s3.client().put_object(Bucket=bucket, Key="traces/role.json", Body=seed_file(trace_id=tid, n=3).encode())
        subprocess.run([otlake_bin(), "init", "-D", str(tmp_path)], check=True, capture_output=True)
        admin = subprocess.run([otlake_bin(), "keys", "create", "--scope", "admin", "-D", str(tmp_path)],
                               capture_output=True, text=True, check=True).stdout.strip()
        h = {"Authorization": "Bearer " + admin}
        # The default chain (environment) is the caller; STS is moto's (AWS_ENDPOINT_URL_STS).
        srv = Server(tmp_path, env={"AWS_ACCESS_KEY_ID": s3.key_id, "AWS_SECRET_ACCESS_KEY": s3.secret,
                                    "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_STS": s3.endpoint,
                                    "AWS_EC2_METADATA_DISABLED": "true"}).start()
        try:
            def create(name, external_id):
                r = requests.post(srv.url + "/v3/ingestion-sources", headers=h, timeout=30, data=json.dumps({
                    "name": name, "bucket": bucket, "prefix": "traces/", "credential_type": "iam_role",
                    "role_arn": role["Arn"], "external_id": external_id, "endpoint_url": s3.endpoint,
                    "region": "us-east-1", "scan_interval_seconds": 10, "application_ids": ["roleproj"]}))
                assert r.status_code == 201, r.text
                assert external_id not in r.text  # write-only
                return r.json()["data"]["id"]

            wrong = create("wrong-external-id", "not-the-id")
            t = requests.post(f"{srv.url}/v3/ingestion-sources/{wrong}/test", headers=h, timeout=60).json()
            assert t["status"] == "error" and t["message"].startswith("AccessDenied: could not assume role"), t
            requests.delete(f"{srv.url}/v3/ingestion-sources/{wrong}", headers=h, timeout=30)
            sid = create("role", "ext-7f3a")
            t = requests.post(f"{srv.url}/v3/ingestion-sources/{sid}/test", headers=h, timeout=60).json()
            assert t == {"status": "success", "files_found": 1}, t

            def done():
                items = requests.get(f"{srv.url}/v3/ingestion-sources/{sid}/files", headers=h, timeout=30).json()
                items = items["data"]["items"]
                return items if items and items[0]["status"] == "completed" else None

            assert wait_for(done, "the file ingested with the role's credentials", timeout=60, interval=0.3)[0]["spans_count"] == 3
            wait_for(lambda: len(requests.get(srv.url + "/api/spans", params={"project_id": "roleproj", "trace_id": tid},
                                              timeout=30).json()["rows"]) == 3, "3 spans in roleproj")
            with open(srv.log_path, "rb") as f:
                assert b"ext-7f3a" not in f.read()
        finally:
            srv.stop()
    finally:
        s3.stop()


def test_many_small_objects_under_date_prefixes_each_ingested_once(env):
    """10,000 small objects (OTLAKE_SLOW=1; 400 otherwise) under YYYY/MM/DD/ prefixes of several
    days, found across listing pages and ingested exactly once: every object completed, the
    source's span total and the project's rows equal what was written, each trace's spans once."""
    n = 10_000 if os.environ.get("OTLAKE_SLOW") else 400
    spans_per_object = 3
    project = "bulk-project"
    s3 = env.s3.client()
    days = ["2026/04/10", "2026/04/11", "2026/04/12", "2026/05/01"]
    keys = [f"bulk/{days[i % len(days)]}/agent-run-{i:05d}.json" for i in range(n)]

    def put(chunk):
        c = env.s3.client()
        for i in chunk:
            c.put_object(Bucket=env.bucket, Key=keys[i],
                         Body=seed_file(trace_id=f"{i + 1:032x}", app=project, n=spans_per_object).encode())

    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(put, [range(w, n, 8) for w in range(8)]))
    s3.put_object(Bucket=env.bucket, Key="bulk/2026/04/10/readme.txt", Body=b"not listed")
    r = call(env, "POST", "/v3/ingestion-sources",
             body=source_body(env, "bulk", prefix="bulk/", application_ids=[project]))
    assert r.status_code == 201, r.text
    sid = r.json()["data"]["id"]

    def stats():
        return call(env, "GET", f"/v3/ingestion-sources/{sid}/stats").json()["data"]

    st = wait_for(lambda: (lambda s: s if s["completed"] + s["failed"] == n else None)(stats()),
                  f"{n} objects processed", timeout=1800 if n > 1000 else 300, interval=1)
    assert (st["total_files"], st["completed"], st["failed"], st["pending"], st["processing"]) == (n, n, 0, 0, 0), st
    assert st["total_spans_ingested"] == n * spans_per_object
    env.server.wait_persisted(timeout=120)
    rows = [x for x in read_table(env.server, "spans", columns=["project_id", "trace_id", "span_id"])
            if x["project_id"] == project]
    assert len(rows) == n * spans_per_object
    assert len({(x["trace_id"], x["span_id"]) for x in rows}) == n * spans_per_object
