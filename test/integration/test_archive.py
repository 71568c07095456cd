"""The archive writer (issue 19 §2): `otlake start --archive-s3-bucket ...` writes every
acknowledged record to S3 exactly as the Collector's awss3exporter lays it out, fed from the WAL.

Against moto with IAM auth (s3_server.py): key layout per settings (minute/hour/day formats, a
non-UTC zone, base prefix, prefix, file prefix), both marshalers x none/gzip/zstd decoded in
Python and compared record by record (field by field, via the protobuf messages) with what was
sent, Content-Encoding; S3 down then back (nothing lost or doubled); kill -9 while archiving;
the backlog limit turning into a recorded gap without blocking ingest; partially rejected
records absent; bad settings exit 2 naming the flag. The real OTel SDK sends in the first test.
"""
import base64
import datetime
import gzip
import json
import os
import random
import re
import signal
import subprocess
import time
import urllib.request
import uuid
import zoneinfo

import pytest
import zstandard
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from conftest import Server, otlake_bin, wait_for
from s3_server import FaultProxy, MotoS3

REQ = {"traces": ExportTraceServiceRequest, "logs": ExportLogsServiceRequest, "metrics": ExportMetricsServiceRequest}
ID_KEYS = {"traceId", "spanId", "parentSpanId"}


@pytest.fixture(scope="module")
def moto():
    m = MotoS3()
    yield m
    m.stop()


_bucket_n = [0]


def new_bucket(moto):
    _bucket_n[0] += 1
    return moto.create_bucket(f"archive-{os.getpid()}-{_bucket_n[0]}")


def start(tmp_path, moto, bucket, *args, endpoint=None, instance="default"):
    env = {"AWS_ACCESS_KEY_ID": moto.key_id, "AWS_SECRET_ACCESS_KEY": moto.secret, "AWS_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true"}
    extra = ["--archive-s3-bucket", bucket, "--archive-endpoint", endpoint or moto.endpoint,
             "--archive-max-age-s", "1", "--archive-poll-ms", "100"] + list(args)
    return Server(tmp_path, instance=instance, extra_args=extra, env=env).start()


# ---------------------------------------------------------------------------------------------
# What we send: protobuf messages built with opentelemetry-proto, sent as protobuf or OTLP/JSON.

def kv(k, v):
    a = common_pb2.AnyValue()
    if isinstance(v, bool):
        a.bool_value = v
    elif isinstance(v, int):
        a.int_value = v
    elif isinstance(v, float):
        a.double_value = v
    elif isinstance(v, list):
        a.array_value.values.extend(kv("x", e).value for e in v)
    else:
        a.string_value = v
    return common_pb2.KeyValue(key=k, value=a)


def make_traces(i, n=3):
    rng = random.Random(i)
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend([kv("service.name", f"svc-{i % 2}"), kv("host.name", "h1")])
    rs.schema_url = "https://opentelemetry.io/schemas/1.21.0"
    ss = rs.scope_spans.add()
    ss.scope.name, ss.scope.version = "lib", "1.2"
    now = time.time_ns()
    for k in range(n):
        sp = ss.spans.add()
        sp.trace_id, sp.span_id = rng.randbytes(16), rng.randbytes(8)
        if k:
            sp.parent_span_id = ss.spans[0].span_id
        sp.name, sp.kind = f"span-{i}-{k}", trace_pb2.Span.SPAN_KIND_SERVER
        sp.start_time_unix_nano, sp.end_time_unix_nano = now - 5_000_000, now
        sp.attributes.extend([kv("http.route", f"/r/{k}"), kv("n", k), kv("ratio", 0.25 * k), kv("ok", True),
                              kv("tags", ["a", "b"])])
        ev = sp.events.add(time_unix_nano=now - 1000, name="ev")
        ev.attributes.append(kv("e", "x"))
        sp.links.add(trace_id=rng.randbytes(16), span_id=rng.randbytes(8))
        sp.status.code, sp.status.message = trace_pb2.Status.STATUS_CODE_ERROR, "boom"
    return req


def make_logs(i, n=2):
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(kv("service.name", f"svc-{i % 2}"))
    sl = rl.scope_logs.add()
    sl.scope.name = "logger"
    for k in range(n):
        lr = sl.log_records.add(time_unix_nano=time.time_ns(), observed_time_unix_nano=time.time_ns(),
                                severity_number=9, severity_text="INFO")
        lr.body.string_value = f"log-{i}-{k}"
        lr.attributes.append(kv("k", k))
        lr.trace_id, lr.span_id = random.Random(i * 100 + k).randbytes(16), random.Random(k).randbytes(8)
    return req


def make_metrics(i):
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.append(kv("service.name", f"svc-{i % 2}"))
    sm = rm.scope_metrics.add()
    sm.scope.name = "meter"
    now = time.time_ns()
    g = sm.metrics.add(name=f"gauge-{i}", unit="1", description="a gauge")
    g.gauge.data_points.add(time_unix_nano=now, as_double=1.5 + i).attributes.append(kv("p", "x"))
    s = sm.metrics.add(name=f"sum-{i}")
    s.sum.aggregation_temporality, s.sum.is_monotonic = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE, True
    s.sum.data_points.add(start_time_unix_nano=now - 10**9, time_unix_nano=now, as_int=i)
    h = sm.metrics.add(name=f"hist-{i}")
    h.histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    h.histogram.data_points.add(time_unix_nano=now, count=3, sum=6.0, bucket_counts=[1, 2, 0],
                                explicit_bounds=[1.0, 5.0], min=1.0, max=3.0)
    return req


def hexify(o):
    """protobuf's JSON (base64 bytes) -> OTLP/JSON (hex IDs)."""
    if isinstance(o, dict):
        return {k: (base64.b64decode(v).hex() if k in ID_KEYS and isinstance(v, str) else hexify(v))
                for k, v in o.items()}
    if isinstance(o, list):
        return [hexify(e) for e in o]
    return o


def unhexify(o):
    if isinstance(o, dict):
        return {k: (base64.b64encode(bytes.fromhex(v)).decode() if k in ID_KEYS and isinstance(v, str) else unhexify(v))
                for k, v in o.items()}
    if isinstance(o, list):
        return [unhexify(e) for e in o]
    return o


def post(server, signal_name, req, as_json=False):
    if as_json:
        body = json.dumps(hexify(json_format.MessageToDict(req))).encode()
        ctype = "application/json"
    else:
        body, ctype = req.SerializeToString(), "application/x-protobuf"
    r = urllib.request.Request(f"{server.url}/v1/{signal_name}", data=body, method="POST",
                               headers={"Content-Type": ctype})
    with urllib.request.urlopen(r, timeout=30) as resp:
        assert resp.status == 200
        return resp.read()


def flatten(signal_name, req):
    """Each record with its resource and scope (and metric), serialized: a multiset to compare."""
    d = lambda m: m.SerializeToString(deterministic=True)  # noqa: E731
    out = []
    if signal_name == "traces":
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                out += [(d(rs.resource), rs.schema_url, d(ss.scope), ss.schema_url, d(sp)) for sp in ss.spans]
    elif signal_name == "logs":
        for rl in req.resource_logs:
            for sl in rl.scope_logs:
                out += [(d(rl.resource), rl.schema_url, d(sl.scope), sl.schema_url, d(lr)) for lr in sl.log_records]
    else:
        for rm in req.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    kind = m.WhichOneof("data")
                    data = getattr(m, kind)
                    head = metrics_pb2.Metric()
                    head.CopyFrom(m)
                    getattr(head, kind).ClearField("data_points")
                    out += [(d(rm.resource), d(sm.scope), d(head), d(p)) for p in data.data_points]
    return sorted(out)


# ---------------------------------------------------------------------------------------------
# What the archive holds.

NAME_RE = re.compile(r"^(?P<fp>.*?)(?P<signal>traces|logs|metrics)_(?P<uuid>[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-"
                     r"[89ab][0-9a-f]{3}-[0-9a-f]{12})\.(?P<ext>json|binpb)(?P<comp>\.gz|\.zst)?$")


def decode_object(key, data):
    m = NAME_RE.match(key.rsplit("/", 1)[-1])
    assert m, key
    if m["comp"] == ".gz":
        data = gzip.decompress(data)
    elif m["comp"] == ".zst":
        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    cls = REQ[m["signal"]]
    if m["ext"] == "binpb":
        return m["signal"], cls.FromString(data)
    assert b"\n" not in data.strip(), "otlp_json is one document, not JSON lines"
    return m["signal"], json_format.ParseDict(unhexify(json.loads(data)), cls())


def archived(moto, bucket, prefix=""):
    """{signal: sorted flattened records} over every object, plus the objects' keys."""
    c = moto.client()
    out = {"traces": [], "logs": [], "metrics": []}
    keys = sorted(moto.keys(bucket, prefix))
    for k in keys:
        body = c.get_object(Bucket=bucket, Key=k)["Body"].read()
        sig, req = decode_object(k, body)
        out[sig] += flatten(sig, req)
    return {s: sorted(v) for s, v in out.items()}, keys


def wait_archived(server, timeout=60):
    def done():
        a = server.health()["archive"]
        return a["backlog_lsns"] == 0 and a["pending"] is None and a["archived_lsn"] > 0 and a
    return wait_for(done, "the archive to catch up", timeout=timeout, interval=0.1)


def uuid_ms(u):
    return uuid.UUID(u).int >> 80


# ---------------------------------------------------------------------------------------------

CONFIGS = [
    # Everything default: minute partitions in UTC, otlp_json, no compression, no prefixes.
    dict(marshaler="otlp_json", compression="none", fmt=None, tz=None, base="", prefix="", fp=""),
    dict(marshaler="otlp_proto", compression="gzip", fmt="year=%Y/month=%m/day=%d/hour=%H", tz="Asia/Kolkata",
         base="environment/prod", prefix="otel", fp="app-"),
    dict(marshaler="otlp_json", compression="zstd", fmt="%Y/%m/%d/%H/%M", tz="America/New_York", base="", prefix="baz",
         fp=""),
    dict(marshaler="otlp_proto", compression="none", fmt="year=%Y/month=%m/day=%d", tz="UTC", base="root", prefix="",
         fp="x_"),
    dict(marshaler="otlp_json", compression="gzip", fmt=None, tz="Europe/Berlin", base="", prefix="p", fp=""),
    dict(marshaler="otlp_proto", compression="zstd", fmt="year=%Y/month=%m/day=%d/hour=%H", tz=None, base="", prefix="",
         fp=""),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c['marshaler']}-{c['compression']}-{c['tz'] or 'default'}")
def test_objects_in_the_exporters_layout_hold_exactly_what_was_sent(tmp_path, moto, cfg):
    bucket = new_bucket(moto)
    args = ["--archive-marshaler", cfg["marshaler"], "--archive-compression", cfg["compression"]]
    if cfg["fmt"]:
        args += ["--archive-s3-partition-format", cfg["fmt"]]
    if cfg["tz"]:
        args += ["--archive-s3-partition-timezone", cfg["tz"]]
    for flag, k in (("--archive-s3-base-prefix", "base"), ("--archive-s3-prefix", "prefix"), ("--archive-file-prefix", "fp")):
        if cfg[k]:
            args += [flag, cfg[k]]
    s = start(tmp_path, moto, bucket, *args)
    t0 = time.time()
    sent = {"traces": [], "logs": [], "metrics": []}
    try:
        for i in range(6):
            for sig, make in (("traces", make_traces), ("logs", make_logs), ("metrics", make_metrics)):
                req = make(i)
                post(s, sig, req, as_json=(i % 2 == 1))  # both body formats go through the WAL
                sent[sig] += flatten(sig, req)
        if cfg is CONFIGS[0]:
            sent["traces"] += sdk_spans(s)
        wait_archived(s)
        t1 = time.time()
        got, keys = archived(moto, bucket)
        for sig in sent:
            assert got[sig] == sorted(sent[sig]), f"{sig}: archived records differ from those sent"
        # Exact key layout: [base/][prefix/]<strftime(format, t in zone)>/<file_prefix><signal>_<uuidv7>.<ext>[.gz|.zst]
        fmt = cfg["fmt"] or "year=%Y/month=%m/day=%d/hour=%H/minute=%M"
        tz = zoneinfo.ZoneInfo(cfg["tz"] or "UTC")
        ext = {"otlp_json": ".json", "otlp_proto": ".binpb"}[cfg["marshaler"]] + \
            {"none": "", "gzip": ".gz", "zstd": ".zst"}[cfg["compression"]]
        lead = "/".join(p for p in (cfg["base"], cfg["prefix"]) if p)
        c = moto.client()
        for k in keys:
            m = NAME_RE.match(k.rsplit("/", 1)[-1])
            assert m and m["fp"] == cfg["fp"] and k.endswith(ext), k
            ms = uuid_ms(m["uuid"])
            assert t0 - 5 <= ms / 1000 <= t1 + 5, (k, ms, t0, t1)
            part = datetime.datetime.fromtimestamp(ms / 1000, tz).strftime(fmt)
            assert k == "/".join(p for p in (lead, part, k.rsplit("/", 1)[-1]) if p), (k, part)
            head = c.head_object(Bucket=bucket, Key=k)
            want_ce = {"none": None, "gzip": "gzip", "zstd": "zstd"}[cfg["compression"]]
            assert head.get("ContentEncoding") == want_ce, (k, head.get("ContentEncoding"))
        h = s.health()["archive"]
        assert h["objects"] == len(keys) and h["gaps_total"] == 0 and h["failures"] == 0
    finally:
        assert s.stop() == 0, s.read_log()


def sdk_spans(server):
    """Spans sent by the real OTel SDK exporter (http/protobuf), as flattened records."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    mem = InMemorySpanExporter()
    tp = TracerProvider(resource=Resource.create({"service.name": "sdk-svc"}))
    tp.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=server.url + "/v1/traces")))
    tp.add_span_processor(SimpleSpanProcessor(mem))
    tracer = tp.get_tracer("sdk-test", "0.1")
    for n in range(3):
        with tracer.start_as_current_span(f"sdk-{n}") as sp:
            sp.set_attribute("n", n)
    tp.shutdown()
    # The same spans as the SDK encodes them (what went over the wire).
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    return flatten("traces", encode_spans(mem.get_finished_spans()))


def test_s3_outage_then_recovery_loses_and_doubles_nothing(tmp_path, moto):
    bucket = new_bucket(moto)
    proxy = FaultProxy(moto.port)
    proxy.fail_if = lambda method, path: 503 if method == "PUT" else None  # S3 "down" for writes
    s = start(tmp_path, moto, bucket, "--archive-marshaler", "otlp_proto", "--archive-compression", "zstd",
              "--archive-max-object-bytes", "4096", endpoint=proxy.endpoint)
    sent = []
    try:
        for i in range(20):
            req = make_traces(i, n=5)
            post(s, "traces", req)  # ingest is never held up
            sent += flatten("traces", req)
        a = wait_for(lambda: (lambda x: x["failures"] >= 2 and x)(s.health()["archive"]), "archive failures")
        assert a["backlog_lsns"] > 0 and a["ok"] is False and a["last_error"]
        time.sleep(1.2)
        assert s.health()["archive"]["lag_s"] >= 1.0
        assert moto.keys(bucket) == {}
        metrics = urllib.request.urlopen(s.url + "/metrics", timeout=10).read().decode()
        assert re.search(r"^otlake_archive_backlog_lsns [1-9]", metrics, re.M), metrics[-2000:]
        st = subprocess.run([otlake_bin(), "status", "-P", str(s.port)], capture_output=True, text=True)
        assert "archive: to s3://" in st.stdout and "ARCHIVE FAILING" in st.stdout, st.stdout
        proxy.fail_if = None  # back
        a = wait_archived(s, timeout=90)
        got, keys = archived(moto, bucket)
        assert got["traces"] == sorted(sent)
        assert len(keys) > 1 and a["gaps_total"] == 0
    finally:
        assert s.stop() == 0, s.read_log()
        proxy.stop()


def test_kill_9_while_archiving_loses_nothing_and_no_record_is_in_two_objects(tmp_path, moto):
    bucket = new_bucket(moto)
    proxy = FaultProxy(moto.port, slow_bytes_per_s=200_000)  # uploads take a while: kills land mid-PUT
    sent = []
    rounds = 8 if os.environ.get("OTLAKE_SLOW") else 3
    rng = random.Random(7)
    n = 0
    for r in range(rounds):
        s = start(tmp_path, moto, bucket, "--archive-marshaler", "otlp_json", "--archive-compression", "gzip",
                  "--archive-max-object-bytes", "8192", "--archive-max-age-s", "1", endpoint=proxy.endpoint)
        for _ in range(15):
            req = make_traces(n, n=4)
            n += 1
            post(s, "traces", req)  # acknowledged: must be archived
            sent += flatten("traces", req)
        time.sleep(rng.uniform(0.3, 1.5))
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait(timeout=30)
        s.proc = None
    proxy.slow_bytes_per_s = None
    s = start(tmp_path, moto, bucket, "--archive-marshaler", "otlp_json", "--archive-compression", "gzip",
              "--archive-max-object-bytes", "8192", endpoint=proxy.endpoint)
    try:
        wait_archived(s, timeout=90)
        got, keys = archived(moto, bucket)
        assert len(got["traces"]) == len(sent), f"{len(got['traces'])} archived records, {len(sent)} sent"
        assert got["traces"] == sorted(sent)
        assert s.health()["archive"]["gaps_total"] == 0
    finally:
        assert s.stop() == 0, s.read_log()
        proxy.stop()


def test_backlog_limit_records_a_gap_and_never_blocks_ingest(tmp_path, moto):
    bucket = new_bucket(moto)
    proxy = FaultProxy(moto.port)
    proxy.fail_if = lambda method, path: 503 if method == "PUT" else None
    s = start(tmp_path, moto, bucket, "--archive-marshaler", "otlp_proto", "--archive-backlog-limit-bytes",
              str(1 << 20), "--wal-segment-bytes", str(1 << 20), "--wal-buffered-io", endpoint=proxy.endpoint)
    try:
        big = "x" * 2000
        after = []
        for i in range(400):  # ~3.5 MB of WAL: 3 segments past the 1 MiB limit
            req = make_traces(i, n=4)
            for sp in req.resource_spans[0].scope_spans[0].spans:
                sp.attributes.append(kv("pad", big))
            post(s, "traces", req)
        a = wait_for(lambda: (lambda x: x["gaps_total"] >= 1 and x)(s.health()["archive"]), "a recorded gap")
        g = a["gaps"][0]
        assert g["from_lsn"] == 1 and g["to_lsn"] > 1 and g["first_arrival_utc"] and "backlog limit" in g["reason"]
        assert a["backlog_bytes"] <= (1 << 20) + (2 << 20)
        assert "GAP: WAL records 1.." in s.read_log()
        assert s.health()["signals"]["traces"]["rejected"] == 0
        # S3 back: what came after the gap is archived.
        proxy.fail_if = None
        for i in range(1000, 1005):
            req = make_traces(i)
            post(s, "traces", req)
            after += flatten("traces", req)
        wait_archived(s, timeout=90)
        got, _ = archived(moto, bucket)
        assert set(after) <= set(got["traces"])
        st = subprocess.run([otlake_bin(), "archive", "status", "-D", s.base_dir], capture_output=True, text=True)
        assert st.returncode == 0 and "gaps: 1" in st.stdout and "backlog limit" in st.stdout, st.stdout + st.stderr
    finally:
        assert s.stop() == 0, s.read_log()
        proxy.stop()


def test_partially_rejected_records_are_not_archived(tmp_path, moto):
    bucket = new_bucket(moto)
    s = start(tmp_path, moto, bucket, "--archive-marshaler", "otlp_proto")
    try:
        req = make_traces(1, n=4)
        bad = req.resource_spans[0].scope_spans[0].spans[2]
        bad.span_id = b"\x01" * 7  # rejected alone (span_id must be 8 bytes)
        for as_json in (False, True):
            post(s, "traces", req, as_json=as_json)
        lg = make_logs(2)
        lg.resource_logs[0].scope_logs[0].log_records[0].trace_id = b"\x02" * 5
        post(s, "logs", lg)
        assert s.health()["signals"]["traces"]["rejected"] == 2
        wait_archived(s)
        got, _ = archived(moto, bucket)
        keep = [sp for i, sp in enumerate(req.resource_spans[0].scope_spans[0].spans) if i != 2]
        want = ExportTraceServiceRequest()
        want.CopyFrom(req)
        del want.resource_spans[0].scope_spans[0].spans[:]
        want.resource_spans[0].scope_spans[0].spans.extend(keep)
        assert got["traces"] == sorted(flatten("traces", want) * 2)
        lw = ExportLogsServiceRequest()
        lw.CopyFrom(lg)
        del lw.resource_logs[0].scope_logs[0].log_records[0]
        assert got["logs"] == flatten("logs", lw)
    finally:
        assert s.stop() == 0, s.read_log()


@pytest.mark.parametrize("flag,value,needle", [
    ("--archive-marshaler", "sumo_ic", "--archive-marshaler"),
    ("--archive-compression", "brotli", "--archive-compression"),
    ("--archive-s3-partition-format", "year=%Y/%Q", "%Q"),
    ("--archive-s3-partition-timezone", "Mars/Olympus", "Mars/Olympus"),
    ("--archive-storage-class", "GLACIER", "--archive-storage-class"),
    ("--archive-unique-key-func-name", "random", "--archive-unique-key-func-name"),
    ("--archive-max-age-s", "0", "--archive-max-age-s"),
])
def test_bad_settings_exit_2_naming_the_setting(tmp_path, moto, flag, value, needle):
    subprocess.run([otlake_bin(), "init", "-D", str(tmp_path)], check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    env.update({"AWS_ACCESS_KEY_ID": moto.key_id, "AWS_SECRET_ACCESS_KEY": moto.secret})
    p = subprocess.run([otlake_bin(), "start", "-F", "-D", str(tmp_path), "-P", "0", "--archive-s3-bucket", "bkt-x",
                        "--archive-endpoint", moto.endpoint, flag, value], capture_output=True, text=True, env=env,
                       timeout=30)
    assert p.returncode == 2, p.stderr
    assert needle in p.stderr, p.stderr
    assert moto.secret not in p.stderr


def test_incomplete_credentials_exit_2(tmp_path, moto):
    subprocess.run([otlake_bin(), "init", "-D", str(tmp_path)], check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    p = subprocess.run([otlake_bin(), "start", "-F", "-D", str(tmp_path), "-P", "0", "--archive-s3-bucket", "bkt-x",
                        "--archive-endpoint", moto.endpoint], capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 2 and "AWS_ACCESS_KEY_ID" in p.stderr, p.stderr


# ---------------------------------------------------------------------------------------------
# otlake archive backfill (docs/archive.md "Backfill"): the lake's records of an event-time window,
# widened to whole partitions, written again in the archive's layout and format.

def backfill(base, moto, bucket, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_", "ARCHIVE_"))}
    env.update({"AWS_ACCESS_KEY_ID": moto.key_id, "AWS_SECRET_ACCESS_KEY": moto.secret, "AWS_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true"})
    bucket_args = ["--archive-s3-bucket", bucket, "--archive-endpoint", moto.endpoint] if bucket else []
    return subprocess.run([otlake_bin(), "archive", "backfill", "-D", str(base), *bucket_args, *args],
                          capture_output=True, text=True, env=env, timeout=300)


def event_ms(sig, rec):
    """The event time (ms) otlake files a flattened record under (docs/tables.md event_ts)."""
    if sig == "traces":
        return trace_pb2.Span.FromString(rec[-1]).start_time_unix_nano // 10**6
    if sig == "logs":
        lr = logs_pb2.LogRecord.FromString(rec[-1])
        return (lr.time_unix_nano or lr.observed_time_unix_nano) // 10**6
    kind = metrics_pb2.Metric.FromString(rec[2]).WhichOneof("data")
    cls = {"gauge": metrics_pb2.NumberDataPoint, "sum": metrics_pb2.NumberDataPoint,
           "histogram": metrics_pb2.HistogramDataPoint, "summary": metrics_pb2.SummaryDataPoint,
           "exponential_histogram": metrics_pb2.ExponentialHistogramDataPoint}[kind]
    p = cls.FromString(rec[3])
    return (p.time_unix_nano or p.start_time_unix_nano) // 10**6


def shifted(req, delta_ns):
    """`req` with every time moved by delta_ns."""
    for rs in getattr(req, "resource_spans", []):
        for ss in rs.scope_spans:
            for sp in ss.spans:
                sp.start_time_unix_nano += delta_ns
                sp.end_time_unix_nano += delta_ns
                for ev in sp.events:
                    ev.time_unix_nano += delta_ns
    for rl in getattr(req, "resource_logs", []):
        for sl in rl.scope_logs:
            for lr in sl.log_records:
                lr.time_unix_nano += delta_ns
                lr.observed_time_unix_nano += delta_ns
    return req


def objects(moto, bucket, keys):
    """{signal: sorted flattened records} and the decoded requests of `keys`."""
    c = moto.client()
    out, reqs = {"traces": [], "logs": [], "metrics": []}, []
    for k in keys:
        sig, req = decode_object(k, c.get_object(Bucket=bucket, Key=k)["Body"].read())
        out[sig] += flatten(sig, req)
        reqs.append((sig, req))
    return {s: sorted(v) for s, v in out.items()}, reqs


def test_backfill_of_a_gap_writes_its_window_once_in_the_writers_layout_and_replays_to_the_same_rows(tmp_path, moto):
    import collections

    import otlp_model as m
    from conftest import read_table

    bucket = new_bucket(moto)
    proxy = FaultProxy(moto.port)
    proxy.fail_if = lambda method, path: 503 if method == "PUT" else None  # S3 down: the backlog grows
    layout = ["--archive-marshaler", "otlp_proto", "--archive-compression", "zstd", "--archive-s3-prefix", "bf"]
    s = start(tmp_path, moto, bucket, *layout, "--archive-backlog-limit-bytes", str(1 << 20),
              "--wal-segment-bytes", str(1 << 20), "--wal-buffered-io", endpoint=proxy.endpoint)
    sent = {"traces": [], "logs": [], "metrics": []}
    try:
        big = "x" * 2000
        for i in range(400):  # ~3.5 MB of WAL past a 1 MiB limit: the oldest segments become a gap
            req = make_traces(i, n=4)
            for sp in req.resource_spans[0].scope_spans[0].spans:
                sp.attributes.append(kv("pad", big))
            post(s, "traces", req)
            sent["traces"] += flatten("traces", req)
            if i % 40 == 0:
                for sig, make in (("logs", make_logs), ("metrics", make_metrics)):
                    r = make(i)
                    post(s, sig, r, as_json=(i % 80 == 0))
                    sent[sig] += flatten(sig, r)
        wait_for(lambda: s.health()["archive"]["gaps_total"] >= 1, "a recorded gap")
        proxy.fail_if = None
        for i in range(1000, 1005):
            for sig, make in (("traces", make_traces), ("logs", make_logs), ("metrics", make_metrics)):
                r = make(i)
                post(s, sig, r)
                sent[sig] += flatten(sig, r)
        # Records whose event time is two hours old (archived live): outside the gap's window.
        old = {"traces": [], "logs": []}
        for i in range(2000, 2004):
            r = shifted(make_traces(i), -2 * 3600 * 10**9)
            post(s, "traces", r)
            old["traces"] += flatten("traces", r)
            r = shifted(make_logs(i), -2 * 3600 * 10**9 - 90 * 10**9 * (i % 2))  # two minute partitions
            post(s, "logs", r)
            old["logs"] += flatten("logs", r)
        for sig in old:
            sent[sig] += old[sig]
        wait_archived(s, timeout=90)
        s.wait_persisted()
        live, live_keys = archived(moto, bucket)
        missing = {sig: set(sent[sig]) - set(live[sig]) for sig in sent}
        assert missing["traces"] and missing["logs"] and missing["metrics"], "the gap lost records of every signal"

        # --gaps: the gap's window (its arrival times, 60 s earlier for event times before arrival),
        # read from the lake while the server runs.
        p = backfill(s.base_dir, moto, bucket, *layout, "--gaps", "--json")
        assert p.returncode == 0, p.stdout + p.stderr
        rep = json.loads(p.stdout)
        assert len(rep["runs"]) == 1 and rep["runs"][0]["gap"]["from_lsn"] == 1, rep
        run = rep["runs"][0]
        bf_keys = run["keys"]
        assert bf_keys and set(bf_keys).isdisjoint(live_keys)
        assert moto.secret not in p.stdout + p.stderr
        union, all_keys = archived(moto, bucket)
        assert set(all_keys) == set(live_keys) | set(bf_keys)
        bf, bf_reqs = objects(moto, bucket, bf_keys)
        lo, hi = run["window_from_unix_nanos"] // 10**6, run["window_to_unix_nanos"] // 10**6
        assert lo % 60000 == 0 and hi % 60000 == 0, "the window is whole minute partitions"
        for sig in sent:
            in_window = sorted(r for r in sent[sig] if lo <= event_ms(sig, r) < hi)
            # The backfill holds exactly the window's records, each once, field by field as sent.
            assert bf[sig] == in_window, sig
            assert run[{"traces": "spans", "logs": "logs", "metrics": "points"}[sig]] == len(in_window)
            # Every acknowledged record is archived; the live objects hold none twice.
            assert set(live[sig]) | set(bf[sig]) == set(sent[sig]), sig
            assert max(collections.Counter(live[sig]).values()) == 1
            assert collections.Counter(union[sig]) == collections.Counter(live[sig]) + collections.Counter(bf[sig])
            # In two objects: exactly the live-archived records whose event time is in the window.
            assert set(live[sig]) & set(bf[sig]) == {r for r in live[sig] if lo <= event_ms(sig, r) < hi}, sig
            assert missing[sig] <= set(bf[sig]), sig
        assert run["records"] == sum(len(bf[sig]) for sig in sent)
        # The writer's layout: bf/<minute partition of the key time>/<signal>_<uuidv7>.binpb.zst, Content-Encoding.
        c = moto.client()
        for k in bf_keys:
            name = NAME_RE.match(k.rsplit("/", 1)[-1])
            ms = uuid_ms(name["uuid"])
            assert ms % 60000 == 0 and lo <= ms < hi, k
            part = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime(
                "year=%Y/month=%m/day=%d/hour=%H/minute=%M")
            assert k == f"bf/{part}/{name['signal']}_{name['uuid']}.binpb.zst", k
            assert c.head_object(Bucket=bucket, Key=k).get("ContentEncoding") == "zstd"

        # The gap is marked: status says so, and --gaps has nothing left to do.
        st = subprocess.run([otlake_bin(), "archive", "status", "-D", s.base_dir], capture_output=True, text=True)
        assert st.returncode == 0 and "backfilled" in st.stdout, st.stdout + st.stderr
        st = subprocess.run([otlake_bin(), "archive", "status", "-D", s.base_dir, "--json"], capture_output=True,
                            text=True)
        assert json.loads(st.stdout)["backfill"]["gaps"][0]["from_lsn"] == 1
        p = backfill(s.base_dir, moto, bucket, *layout, "--gaps", "--json")
        assert p.returncode == 0 and json.loads(p.stdout)["runs"] == [], p.stdout + p.stderr
        # The same window again (and a narrower one inside it): the same keys, the same bytes.
        before = {k: c.get_object(Bucket=bucket, Key=k)["Body"].read() for k in bf_keys}
        iso = lambda ms: datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime(  # noqa: E731
            "%Y-%m-%dT%H:%M:%S.%fZ")
        for frm, to in ((lo, hi), (lo + 1000, hi - 1000)):
            p = backfill(s.base_dir, moto, bucket, *layout, "--from", iso(frm), "--to", iso(to), "--json")
            assert p.returncode == 0, p.stdout + p.stderr
            again = json.loads(p.stdout)["runs"][0]
            assert sorted(again["keys"]) == sorted(bf_keys) and again["objects_removed"] == 0
            assert sorted(moto.keys(bucket)) == sorted(all_keys)
            assert {k: c.get_object(Bucket=bucket, Key=k)["Body"].read() for k in bf_keys} == before
        # A window of old data the live archive also holds: exactly its records, each once more.
        olo = min(event_ms(sig, r) for sig in old for r in old[sig])
        ohi = max(event_ms(sig, r) for sig in old for r in old[sig]) + 1
        p = backfill(s.base_dir, moto, bucket, *layout, "--from", iso(olo), "--to", iso(ohi), "--json")
        assert p.returncode == 0, p.stdout + p.stderr
        orun = json.loads(p.stdout)["runs"][0]
        minutes = {event_ms(sig, r) // 60000 for sig in old for r in old[sig]}
        assert orun["partitions"] == len(minutes) >= 2 and orun["step"] == "minute", orun
        got, _ = objects(moto, bucket, orun["keys"])
        assert got == {"traces": sorted(old["traces"]), "logs": sorted(old["logs"]), "metrics": []}
        assert set(orun["keys"]).isdisjoint(bf_keys) and set(orun["keys"]).isdisjoint(live_keys)
    finally:
        assert s.stop() == 0, s.read_log()
        proxy.stop()

    # `otlake replay` of the backfilled objects alone into a second instance stores the same rows.
    copy = new_bucket(moto)
    for k in bf_keys:
        c.put_object(Bucket=copy, Key=k, Body=before[k], ContentEncoding="zstd")
    b = Server(tmp_path / "b").start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
        env.update({"AWS_ACCESS_KEY_ID": moto.key_id, "AWS_SECRET_ACCESS_KEY": moto.secret})
        p = subprocess.run([otlake_bin(), "replay", "-D", b.base_dir, "--s3-bucket", copy, "--endpoint",
                            moto.endpoint, "--region", "us-east-1", "--s3-prefix", "bf", "--start", iso(lo),
                            "--end", iso(hi), "--json"], capture_output=True, text=True, env=env, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        assert json.loads(p.stdout)["objects_ok"] == len(bf_keys)
        b.wait_persisted()
        rows = {"traces": m.spans_from_rows(read_table(b, "spans"), read_table(b, "span_events"),
                                            read_table(b, "span_links")),
                "logs": m.logs_from_rows(read_table(b, "logs")),
                "metrics": m.metrics_from_rows(read_table(b, "metrics_points"), read_table(b, "metrics_hist"))}
        for sig in sent:
            want = [r for s_, req in bf_reqs if s_ == sig for r in m.records_from_request(sig, req)]
            assert len(want) == len(bf[sig])
            assert m.canonical(sig, rows[sig]) == m.canonical(sig, want), sig
    finally:
        assert b.stop() == 0, b.read_log()


@pytest.mark.parametrize("args,needle", [
    (["--from", "2026-01-01"], "--to"),
    (["--from", "2026-01-01 10:00", "--to", "2026-01-01 09:00"], "--to"),
    (["--from", "25-06-2025", "--to", "2026-01-01"], "--from"),
    (["--from", "2026-01-01", "--to", "2026-01-02", "--gaps"], "--gaps"),
    ([], "--gaps"),
    (["--from", "2026-01-01", "--to", "2026-01-02", "--signal", "spans"], "--signal"),
    (["--from", "2026-01-01", "--to", "2026-01-02", "--archive-s3-partition-format", "x=%Q"], "%Q"),
])
def test_backfill_bad_input_exits_2_naming_the_setting(tmp_path, moto, args, needle):
    subprocess.run([otlake_bin(), "init", "-D", str(tmp_path)], check=True, capture_output=True)
    p = backfill(tmp_path, moto, "bkt-x", *args)
    assert p.returncode == 2, p.stdout + p.stderr
    assert needle in p.stderr, p.stderr
    assert moto.secret not in p.stderr


def test_backfill_without_an_archive_configured_exits_2(tmp_path, moto):
    subprocess.run([otlake_bin(), "init", "-D", str(tmp_path)], check=True, capture_output=True)
    p = backfill(tmp_path, moto, None, "--from", "2026-01-01", "--to", "2026-01-02")
    assert p.returncode == 2 and "--archive-s3-bucket" in p.stderr, p.stderr


def any_value(v):
    a = common_pb2.AnyValue()
    if v is None:
        pass
    elif isinstance(v, bytes):
        a.bytes_value = v
    elif isinstance(v, dict):
        a.kvlist_value.values.extend(common_pb2.KeyValue(key=k, value=any_value(x)) for k, x in v.items())
    elif isinstance(v, list):
        a.array_value.values.extend(any_value(x) for x in v)
    else:
        a.CopyFrom(kv("x", v).value)
    return a


def attrs(**kw):
    return [common_pb2.KeyValue(key=k, value=any_value(v)) for k, v in kw.items()]


def rich_requests(t0):
    """One request per signal setting every OTLP field the data model has (times from t0 ns)."""
    rng = random.Random(99)
    tr = ExportTraceServiceRequest()
    rs = tr.resource_spans.add(schema_url="https://example.com/r/1")
    rs.resource.attributes.extend(attrs(**{"service.name": "rich", "blob": b"\x00\xff", "nan": float("nan"),
                                           "inf": float("-inf"), "nested": {"a": [1, 2.5, "x", None], "b": {"c": True}},
                                           "$bytes": "not an escape"}))
    rs.resource.dropped_attributes_count = 3
    ss = rs.scope_spans.add(schema_url="https://example.com/s/1")
    ss.scope.name, ss.scope.version = "rich.lib", "9.9"
    ss.scope.attributes.extend(attrs(scope_attr=7))
    ss.scope.dropped_attributes_count = 1
    for k in range(4):  # the last one with a kind and a status code outside their enums
        sp = ss.spans.add(trace_id=rng.randbytes(16), span_id=rng.randbytes(8), trace_state="vendor=a,other=b",
                          flags=0x301, name=f"rich-{k}", kind=[1, 2, 3, 9][k], start_time_unix_nano=t0 + k,
                          end_time_unix_nano=t0 + 10**6 * (k + 1), dropped_attributes_count=2,
                          dropped_events_count=4, dropped_links_count=5)
        if k:
            sp.parent_span_id = ss.spans[0].span_id
        sp.attributes.extend(attrs(i=-(2**63), d=0.1, b=False, s="naïve ☃", empty=None, arr=[]))
        for e in range(2):  # events out of time order: their index order must survive
            ev = sp.events.add(time_unix_nano=t0 + 1000 - e, name=f"ev{e}", dropped_attributes_count=e)
            ev.attributes.extend(attrs(e=e))
        ln = sp.links.add(trace_id=rng.randbytes(16), span_id=rng.randbytes(8), trace_state="k=v", flags=1,
                          dropped_attributes_count=6)
        ln.attributes.extend(attrs(l="x"))
        sp.status.code, sp.status.message = [1, 2, 0, 7][k], ["", "bad", "", "odd"][k]
    lg = ExportLogsServiceRequest()
    rl = lg.resource_logs.add(schema_url="https://example.com/r/2")
    rl.resource.attributes.extend(attrs(**{"service.name": "rich"}))
    sl = rl.scope_logs.add()
    sl.scope.name = "rich.logger"
    bodies = ["text", {"msg": "kv", "n": 2}, b"\x01\x02", 42, 2.0, True, [1, "a"], None, '{"a":1}']
    for k, body in enumerate(bodies):
        lr = sl.log_records.add(time_unix_nano=t0 + k if k != 4 else 0, observed_time_unix_nano=t0 + 5 + k,
                                severity_number=k * 2, severity_text=["", "DEBUG"][k % 2], flags=k,
                                dropped_attributes_count=k, event_name=f"ev.{k}" if k % 3 == 0 else "")
        if body is not None:
            lr.body.CopyFrom(any_value(body))
        lr.attributes.extend(attrs(k=k, pi=3.14))
        if k % 2:
            lr.trace_id, lr.span_id = rng.randbytes(16), rng.randbytes(8)
    mt = ExportMetricsServiceRequest()
    rm = mt.resource_metrics.add(schema_url="https://example.com/r/3")
    rm.resource.attributes.extend(attrs(**{"service.name": "rich"}))
    sm = rm.scope_metrics.add(schema_url="https://example.com/s/3")
    sm.scope.name, sm.scope.version = "rich.meter", "1"

    def exemplars(p):
        p.exemplars.add(time_unix_nano=t0 + 1, as_double=0.5, trace_id=rng.randbytes(16),
                        span_id=rng.randbytes(8)).filtered_attributes.extend(attrs(f="x"))
        p.exemplars.add(time_unix_nano=t0 + 2, as_int=-7)
        p.exemplars.add(time_unix_nano=t0 + 3)

    g = sm.metrics.add(name="g", description="gauge d", unit="By")
    g.metadata.extend(attrs(meta="m", n=1))
    p = g.gauge.data_points.add(time_unix_nano=t0, as_int=-5, flags=1)
    p.attributes.extend(attrs(a="1"))
    exemplars(p)
    g.gauge.data_points.add(time_unix_nano=t0 + 1, start_time_unix_nano=t0 - 10, as_double=float("inf"))
    g.gauge.data_points.add(time_unix_nano=t0 + 2)  # no value at all
    s = sm.metrics.add(name="s")
    s.sum.aggregation_temporality, s.sum.is_monotonic = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA, False
    s.sum.data_points.add(time_unix_nano=t0, start_time_unix_nano=t0 - 1, as_double=-0.0)
    h = sm.metrics.add(name="h", unit="ms")
    h.histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    hp = h.histogram.data_points.add(time_unix_nano=t0, count=2**63 - 1, bucket_counts=[2**64 - 1, 0, 3],
                                     explicit_bounds=[float("-inf"), 1.5], flags=1)
    exemplars(hp)
    h.histogram.data_points.add(time_unix_nano=t0 + 1, count=4, sum=1.0, min=-1.0, max=2.0)
    e = sm.metrics.add(name="e")
    e.exponential_histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    ep = e.exponential_histogram.data_points.add(time_unix_nano=t0, count=9, sum=3.5, scale=-3, zero_count=2,
                                                 zero_threshold=1e-9, min=0.0, max=10.0)
    ep.positive.offset, ep.negative.offset = -2, 5
    ep.positive.bucket_counts.extend([1, 0, 4])
    ep.negative.bucket_counts.extend([2])
    ep.attributes.extend(attrs(x=True))
    exemplars(ep)
    e.exponential_histogram.data_points.add(time_unix_nano=t0 + 1, count=0, scale=0)
    su = sm.metrics.add(name="su", description="summary")
    sp_ = su.summary.data_points.add(time_unix_nano=t0, start_time_unix_nano=t0 - 5, count=3, sum=6.0, flags=1)
    sp_.quantile_values.add(quantile=0.0, value=1.0)
    sp_.quantile_values.add(quantile=0.99, value=float("nan"))
    return {"traces": tr, "logs": lg, "metrics": mt}


@pytest.mark.parametrize("marshaler,compression", [("otlp_json", "gzip"), ("otlp_proto", "none")])
def test_backfill_renders_every_otlp_field_back_as_sent(tmp_path, moto, marshaler, compression):
    """Every field of the data model survives lake -> backfilled object, for both marshalers, in a
    non-UTC hourly layout with a file prefix, for records of a past hour."""
    bucket = new_bucket(moto)
    layout = ["--archive-marshaler", marshaler, "--archive-compression", compression, "--archive-s3-prefix", "rich",
              "--archive-s3-partition-format", "%Y/%m/%d/%H", "--archive-s3-partition-timezone", "Asia/Kolkata",
              "--archive-file-prefix", "app-"]
    s = start(tmp_path, moto, bucket, *layout)
    hour = (time.time_ns() // (3600 * 10**9) - 30) * 3600 * 10**9  # a past hour, 30 hours ago
    t0 = hour + 1800 * 10**9  # Kolkata hours start at :30 UTC: t0 opens one
    reqs = rich_requests(t0)
    try:
        for sig, req in reqs.items():
            post(s, sig, req, as_json=(sig == "logs"))
        s.wait_persisted()
        tz = zoneinfo.ZoneInfo("Asia/Kolkata")
        frm = datetime.datetime.fromtimestamp((t0 + 60 * 10**9) // 10**9, tz).strftime("%Y-%m-%d %H:%M")
        p = backfill(s.base_dir, moto, bucket, *layout, "--from", frm, "--to",
                     datetime.datetime.fromtimestamp((t0 + 120 * 10**9) // 10**9, tz).strftime("%Y-%m-%d %H:%M"),
                     "--json")
        assert p.returncode == 0, p.stdout + p.stderr
        run = json.loads(p.stdout)["runs"][0]
        assert run["step"] == "hour" and run["window_from_unix_nanos"] == t0, run
        assert run["window_to_unix_nanos"] == t0 + 3600 * 10**9
        got, _ = objects(moto, bucket, run["keys"])
        for sig, req in reqs.items():
            assert got[sig] == flatten(sig, req), sig
        local = datetime.datetime.fromtimestamp(t0 // 10**9, tz).strftime("%Y/%m/%d/%H")
        ext = {"otlp_json": ".json", "otlp_proto": ".binpb"}[marshaler] + {"gzip": ".gz", "none": ""}[compression]
        for k in run["keys"]:
            assert k.startswith(f"rich/{local}/app-") and k.endswith(ext), k
    finally:
        assert s.stop() == 0, s.read_log()


def test_backfill_cuts_objects_by_size_and_a_rerun_with_fewer_objects_removes_the_rest(tmp_path, moto):
    bucket = new_bucket(moto)
    layout = ["--archive-marshaler", "otlp_json", "--archive-compression", "none", "--archive-s3-prefix", "cut"]
    s = start(tmp_path, moto, bucket, *layout)
    sent = {"traces": [], "logs": []}
    try:
        for i in range(30):
            for sig, make in (("traces", make_traces), ("logs", make_logs)):
                r = make(i, n=5)
                post(s, sig, r)
                sent[sig] += flatten(sig, r)
        s.wait_persisted()
        now = time.time_ns() // 10**6
        iso = lambda ms: datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime(  # noqa: E731
            "%Y-%m-%dT%H:%M:%S.%fZ")
        window = ["--from", iso(now - 600_000), "--to", iso(now + 60_000), "--signal", "traces,logs", "--json"]

        def run(max_bytes):
            p = backfill(s.base_dir, moto, bucket, *layout, "--archive-max-object-bytes", str(max_bytes), *window)
            assert p.returncode == 0, p.stdout + p.stderr
            return json.loads(p.stdout)["runs"][0]

        small = run(4096)
        assert small["objects"] >= 10, small  # ~300 records of ~0.5 KB stored: cut into many objects
        again = run(4096)
        assert again["keys"] == small["keys"] and again["objects_removed"] == 0
        got, _ = objects(moto, bucket, small["keys"])
        assert got["traces"] == sorted(sent["traces"]) and got["logs"] == sorted(sent["logs"])
        big = run(1 << 24)
        assert big["objects"] < small["objects"] and big["objects_removed"] == small["objects"] - big["objects"]
        assert set(big["keys"]) <= set(small["keys"])  # the same keys from index 0; the rest removed
        bf_keys = [k for k in moto.keys(bucket, "cut/") if k in set(small["keys"])]
        assert sorted(bf_keys) == sorted(big["keys"])
        got, _ = objects(moto, bucket, big["keys"])
        assert got["traces"] == sorted(sent["traces"]) and got["logs"] == sorted(sent["logs"])
    finally:
        assert s.stop() == 0, s.read_log()
