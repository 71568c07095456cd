"""Read API and CLI over a real server: whole traces with nested events and links, /api/days and
/api/services against independent readers, many small files, queries during ingest, and
`otlake view` / `otlake trace` with the server stopped."""
import base64
import json
import os
import random
import shutil
import subprocess
import threading
import time

import requests

from conftest import Server, otlake_bin, read_table


def now_ns():
    return time.time_ns()


def trace_body(trace_id, n_spans, service="svc", t0=None, events=True, links=True):
    t0 = t0 or now_ns() - 60_000_000_000
    spans = []
    root = f"{random.getrandbits(64):016x}"
    for i in range(n_spans):
        sid = root if i == 0 else f"{random.getrandbits(64):016x}"
        s = {"traceId": trace_id, "spanId": sid, "name": f"op-{i}", "kind": 2 if i == 0 else 3,
             "startTimeUnixNano": str(t0 + i * 1_000_000), "endTimeUnixNano": str(t0 + i * 1_000_000 + 500_000),
             "attributes": [{"key": "i", "value": {"intValue": str(i)}}]}
        if i:
            s["parentSpanId"] = root
        if events and i == 1:
            s["events"] = [{"timeUnixNano": str(t0 + 1_100_000), "name": "retry", "attributes": [{"key": "n", "value": {"intValue": "1"}}]},
                           {"timeUnixNano": str(t0 + 1_200_000), "name": "done"}]
        if links and i == 2:
            s["links"] = [{"traceId": "ffffffffffffffffffffffffffffffff", "spanId": "eeeeeeeeeeeeeeee"}]
        spans.append(s)
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                               "scopeSpans": [{"scope": {"name": "lib"}, "spans": spans}]}]}


def post(srv, body, signal="traces"):
    r = requests.post(f"{srv.url}/v1/{signal}", data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 200, r.text
    return r


def run_cli(*args):
    return subprocess.run([otlake_bin(), *args], capture_output=True, text=True, timeout=60)


def test_trace_lookup_nests_events_and_links_and_needs_no_dates(server):
    tid = f"{random.getrandbits(128):032x}"
    post(server, trace_body(tid, 5))
    # Noise in other traces and files.
    for _ in range(3):
        post(server, trace_body(f"{random.getrandbits(128):032x}", 4))
    server.wait_persisted()
    r = requests.get(f"{server.url}/api/traces/{tid.upper()}", timeout=30)
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["trace_id"] == tid and t["count"] == 5 and t["events"] == 2 and t["links"] == 1
    by_name = {s["name"]: s for s in t["spans"]}
    assert [s["name"] for s in t["spans"]] == [f"op-{i}" for i in range(5)]  # by start time
    assert [e["name"] for e in by_name["op-1"]["events"]] == ["retry", "done"]
    assert by_name["op-1"]["events"][0]["event_attrs_json"] == {"n": 1}
    assert by_name["op-2"]["links"][0]["linked_trace_id"] == "f" * 32
    assert by_name["op-0"]["events"] == [] and by_name["op-0"]["links"] == []
    assert all(s["trace_id"] == tid for s in t["spans"])
    assert t["scan"]["files_read"] >= 1
    assert requests.get(f"{server.url}/api/traces/{'0' * 31}1", timeout=30).status_code == 404
    assert requests.get(f"{server.url}/api/traces/xyz", timeout=30).status_code == 400
    assert requests.get(f"{server.url}/api/traces/{tid}?format=tree", timeout=30).status_code == 400
    # Path traversal through the route is just an invalid id.
    r = requests.get(f"{server.url}/api/traces/..%2F..%2Fetc%2Fpasswd", timeout=30)
    assert r.status_code in (400, 404) and "root:" not in r.text


def test_days_and_services_match_independent_readers(server):
    post(server, trace_body(f"{random.getrandbits(128):032x}", 7, service="a"))
    post(server, trace_body(f"{random.getrandbits(128):032x}", 3, service="b", events=False, links=False))
    post(server, {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "a"}}]},
                                    "scopeLogs": [{"logRecords": [{"timeUnixNano": str(now_ns()), "body": {"stringValue": "x"}}] * 4}]}]},
         signal="logs")
    server.wait_persisted()
    days = requests.get(f"{server.url}/api/days", timeout=30).json()
    assert days["count"] == 1
    d = days["days"][0]
    assert d["storage"] == "local"
    for table, info in d["tables"].items():
        df = read_table(server, table, reader="deltalake", day=d["day"])
        assert info["rows"] == len(df), table
        assert info["bytes"] > 0 and info["files"] >= 1
        if len(df):
            ts = [row["event_ts"] for row in df]
            assert info["min_event_ts"] == min(ts) and info["max_event_ts"] == max(ts)
    assert d["tables"]["spans"]["rows"] == 10 and d["tables"]["logs"]["rows"] == 4
    svc = requests.get(f"{server.url}/api/services", timeout=30).json()["services"]
    got = {(s["service_name"], s["spans"], s["logs"]) for s in svc}
    assert got == {("a", 7, 4), ("b", 3, 0)}
    assert requests.get(f"{server.url}/api/services?date_from=2001-01-01", timeout=30).json()["count"] == 0
    assert requests.get(f"{server.url}/api/services?date_from=nope", timeout=30).status_code == 400
    assert requests.get(f"{server.url}/api/days?x=1", timeout=30).status_code == 400
    assert requests.post(f"{server.url}/api/days", timeout=30).status_code == 405
    assert requests.get(f"{server.url}/api/nothing", timeout=30).status_code == 404


def test_many_small_files_and_trace_lookup_prunes(tmp_path):
    # One file per request: a day of many small files, as before compaction.
    srv = Server(tmp_path, extra_args=["--flush-rows", "1", "--compact-min-files", "0"]).start()
    try:
        ids = [f"{random.getrandbits(128):032x}" for _ in range(150)]
        for tid in ids:
            post(srv, trace_body(tid, 2, events=False, links=False))
        srv.wait_persisted()
        days = requests.get(f"{srv.url}/api/days", timeout=30).json()["days"]
        assert days[0]["tables"]["spans"]["files"] >= 10  # flushes group a few requests
        r = requests.get(f"{srv.url}/api/spans?max_rows=1000&select=trace_id", timeout=60).json()
        assert r["count"] == 300 and {x["trace_id"] for x in r["rows"]} == set(ids)
        # newest first, limited: only the newest files need reading
        r = requests.get(f"{srv.url}/api/spans?max_rows=2&select=trace_id", timeout=60).json()
        assert r["count"] == 2 and r["scan"]["files_read"] < r["scan"]["files_total"]
        t = requests.get(f"{srv.url}/api/traces/{ids[77]}", timeout=60).json()
        assert t["count"] == 2
        # min/max stats and bloom filters skip most files' row groups
        assert t["scan"]["row_groups_read"] <= 5, t["scan"]
    finally:
        assert srv.stop() == 0, srv.read_log()


def test_queries_during_ingest_see_consistent_tables(server):
    stop = threading.Event()
    errors = []
    sent = []

    def writer():
        while not stop.is_set():
            tid = f"{random.getrandbits(128):032x}"
            try:
                post(server, trace_body(tid, 3, events=False, links=False))
                sent.append(tid)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        deadline = time.time() + 4
        last = 0
        while time.time() < deadline:
            r = requests.get(f"{server.url}/api/spans?max_rows=10000&select=trace_id", timeout=30)
            assert r.status_code == 200, r.text
            n = r.json()["count"]
            assert n % 3 == 0 and n >= last  # whole commits only, never going backwards
            last = n
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[:3]
    server.wait_persisted()
    r = requests.get(f"{server.url}/api/spans?max_rows=10000&select=trace_id", timeout=30).json()
    assert r["count"] == 3 * len(sent)


def test_view_and_trace_cli_read_the_lake_with_the_server_stopped(tmp_path):
    srv = Server(tmp_path).start()
    tid = f"{random.getrandbits(128):032x}"
    post(srv, trace_body(tid, 4, service="checkout"))
    srv.wait_persisted()
    assert srv.stop() == 0
    base = ["-D", str(tmp_path)]
    r = run_cli("view", *base, "-t", "spans", "-n", "2", "-s", "name,service_name,duration_ms")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["name", "service_name", "duration_ms"] and set(lines[1]) <= {"-", " "}
    assert [l.split()[0] for l in lines[2:]] == ["op-3", "op-2"]
    r = run_cli("view", *base, "-t", "1", "--json", "service_name=checkout", "name_like=op-%", "-s", "name")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["count"] == 4
    r = run_cli("view", *base, "-t", "spans", "--ndjson", "attr.i>=2", "-s", "name", "--order", "asc")
    assert [json.loads(l)["name"] for l in r.stdout.splitlines()] == ["op-2", "op-3"]
    r = run_cli("view", *base, "-t", "logs")
    assert r.returncode == 0 and "No rows" in r.stderr
    assert run_cli("view", *base, "-t", "bogus").returncode == 2
    assert run_cli("view", *base, "-t", "spans", "nope=1").returncode == 2
    assert run_cli("view", "-D", str(tmp_path / "missing"), "-t", "spans").returncode == 1
    r = run_cli("view", *base)  # no -t and no terminal: usage error, not a hang
    assert r.returncode == 2 and "-t" in r.stderr
    r = run_cli("trace", *base, tid)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0].startswith(f"trace {tid}: 4 spans, 1 events".replace("1 events", "2 events"))
    # Children indented under the root; each span's events listed beneath it ("• +offset name").
    assert out[1].startswith("op-0") and all(l.startswith("  op-") or l.lstrip().startswith("\u2022 ")
                                             for l in out[2:]), out
    assert sum(l.lstrip().startswith("\u2022 ") for l in out) == 2, out
    assert run_cli("trace", *base, "0" * 32).returncode == 1
    assert run_cli("trace", *base, "xyz").returncode == 2


def test_paging_cursor_walks_every_row_once_even_with_ties_and_new_arrivals(server):
    t0 = now_ns() - 3_600_000_000_000
    spans = []
    for i in range(25):  # five spans share each millisecond: ties across page boundaries
        spans.append({"traceId": f"{i + 1:032x}", "spanId": f"{i + 1:016x}", "name": f"s{i}", "kind": 1,
                      "startTimeUnixNano": str(t0 + (i // 5) * 1_000_000), "endTimeUnixNano": str(t0 + 10_000_000)})
    post(server, {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})
    server.wait_persisted()
    for order in ("desc", "asc"):
        seen, cursor, pages = [], None, 0
        while True:
            url = f"{server.url}/api/spans?max_rows=7&select=name,event_ts&order={order}"
            if cursor:
                url += f"&cursor={cursor}"
            page = requests.get(url, timeout=30).json()
            seen += [r["name"] for r in page["rows"]]
            ts = [r["event_ts"] for r in page["rows"]]
            assert ts == sorted(ts, reverse=order == "desc")
            pages += 1
            if pages == 2:  # newer rows arriving mid-walk must not disturb it
                post(server, trace_body(f"{random.getrandbits(128):032x}", 2, events=False, links=False,
                                        t0=t0 + 7_200_000_000_000 if order == "asc" else None))
                server.wait_persisted()
            cursor = page["next_cursor"]
            if cursor is None:
                break
        original = [n for n in seen if n.startswith("s")]
        assert sorted(original) == sorted(f"s{i}" for i in range(25)) and len(original) == 25, (order, seen)
    assert requests.get(f"{server.url}/api/spans?cursor=garbage", timeout=30).status_code == 400


def test_trace_as_otlp_json_round_trips_through_the_official_protobuf_parser(server):
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    import otlp_model

    tid = f"{random.getrandbits(128):032x}"
    body = trace_body(tid, 4)
    span = body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["traceState"] = "k=v"
    span["status"] = {"code": 2, "message": "boom"}
    span["droppedAttributesCount"] = 3
    span["attributes"] += [
        {"key": "d", "value": {"doubleValue": 2.0}}, {"key": "b", "value": {"boolValue": True}},
        {"key": "bytes", "value": {"bytesValue": "AP8="}},
        {"key": "arr", "value": {"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "x"}]}}},
        {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "$bytes", "value": {"stringValue": "not bytes"}}]}}},
        {"key": "nan", "value": {"doubleValue": "NaN"}}]
    # A second resource and scope in the same trace.
    other = json.loads(json.dumps(body["resourceSpans"][0]))
    other["resource"]["attributes"][0]["value"]["stringValue"] = "other"
    other["resource"]["droppedAttributesCount"] = 1
    other["schemaUrl"] = "https://opentelemetry.io/schemas/1.24.0"
    other["scopeSpans"][0]["scope"] = {"name": "lib2", "version": "2.0", "attributes": [{"key": "s", "value": {"intValue": "5"}}]}
    for s in other["scopeSpans"][0]["spans"]:
        s["spanId"] = f"{random.getrandbits(64):016x}"
        s.pop("events", None)
    body["resourceSpans"].append(other)
    post(server, body)
    server.wait_persisted()
    r = requests.get(f"{server.url}/api/traces/{tid}?format=otlp", timeout=30)
    assert r.status_code == 200, r.text
    exported = r.json()
    # Strict parse: an unknown or mistyped field fails here.
    def b64_ids(node):
        if isinstance(node, dict):
            return {k: (base64.b64encode(bytes.fromhex(v)).decode() if k in ("traceId", "spanId", "parentSpanId") else b64_ids(v))
                    for k, v in node.items()}
        return [b64_ids(x) for x in node] if isinstance(node, list) else node

    fixed = trace_service_pb2.ExportTraceServiceRequest()
    json_format.ParseDict(b64_ids(exported), fixed, ignore_unknown_fields=False)
    original = otlp_model.pb_from_otlp_json("traces", json.dumps(body))
    got = otlp_model.canonical("traces", otlp_model.records_from_request("traces", fixed))
    want = otlp_model.canonical("traces", otlp_model.records_from_request("traces", original))
    assert got == want
    assert len(exported["resourceSpans"]) == 2
    # What otlake exports, otlake (and any OTLP/JSON receiver) takes back.
    r = requests.post(f"{server.url}/v1/traces", data=json.dumps(exported), headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert requests.get(f"{server.url}/api/traces/{tid}?format=xml", timeout=30).status_code == 400


def test_empty_and_missing_days_answer_and_broken_data_fails_naming_it(server):
    """Days with nothing to read are no error; a log or data file that cannot be read fails the
    query with a 500 naming it, never a shorter 200 (docs/delta.md "Readers and deleted files")."""
    tid = f"{random.getrandbits(128):032x}"
    post(server, trace_body(tid, 2, events=False, links=False))
    server.wait_persisted()
    days = os.path.join(server.root, "staging", "days")
    os.makedirs(os.path.join(days, "2026-01-01"))                       # empty day
    os.makedirs(os.path.join(days, "2026-01-02", "otel", "spans"))      # table folder, no log
    os.makedirs(os.path.join(days, "not-a-day", "otel", "spans"))       # ignored name
    r = requests.get(f"{server.url}/api/spans?date_from=2026-01-01&date_to=2030-01-01&select=trace_id", timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == 2 and {x["trace_id"] for x in body["rows"]} == {tid}
    assert "warnings" not in body
    assert [s["table"] for s in body["scan"]["snapshots"]] == ["spans"], body["scan"]
    broken = os.path.join(days, "2026-01-03", "otel", "spans", "_delta_log")
    os.makedirs(broken)
    with open(os.path.join(broken, "00000000000000000000.json"), "w") as f:
        f.write("{not json\n")
    r = requests.get(f"{server.url}/api/spans?date_from=2026-01-01&date_to=2030-01-01&select=trace_id", timeout=30)
    assert r.status_code == 500 and "2026-01-03/otel/spans" in r.json()["error"], r.text
    t = requests.get(f"{server.url}/api/traces/{tid}", timeout=30)
    assert t.status_code == 500 and "2026-01-03/otel/spans" in t.json()["error"], t.text
    # Other days still answer when the query leaves the broken one out.
    r = requests.get(f"{server.url}/api/spans?date_from=2026-01-04&date_to=2030-01-01&select=trace_id", timeout=30)
    assert r.status_code == 200 and r.json()["count"] == 2, r.text
    days_answer = requests.get(f"{server.url}/api/days", timeout=30)
    assert days_answer.status_code == 200
    by_day = {d["day"]: d for d in days_answer.json()["days"]}
    assert "error" in by_day["2026-01-03"]["tables"]["spans"] and "not-a-day" not in by_day
    assert by_day["2026-01-01"]["tables"] == {}
    shutil.rmtree(os.path.join(days, "2026-01-03"))
    # A data file removed behind otlake's back: an error naming it, not the rows of the others.
    today = requests.get(f"{server.url}/api/spans?select=trace_id", timeout=30).json()
    post(server, trace_body(f"{random.getrandbits(128):032x}", 2, events=False, links=False))
    server.wait_persisted()
    parquet = sorted(f for f in os.listdir(server.table_path("spans")) if f.endswith(".parquet"))
    os.remove(os.path.join(server.table_path("spans"), parquet[0]))
    r = requests.get(f"{server.url}/api/spans?select=trace_id", timeout=30)
    assert r.status_code == 500 and parquet[0] in r.json()["error"], r.text
    assert today["count"] == 2
