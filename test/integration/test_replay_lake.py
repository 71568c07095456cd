"""`otlake replay` and POST /api/replay into this instance's lake: a Collector-layout archive in a
real S3 server (moto, IAM auth on) written as awss3exporter writes it -- both marshalers x
none/gzip/zstd x minute/hour/day partitions x UTC and a non-UTC zone, s3_base_prefix + s3_prefix,
file_prefix, Content-Encoding on compressed objects -- from requests the real OpenTelemetry SDK
encoded; the lake's rows (read by an independent Delta reader) compared field by field with what
was archived; corrupt, truncated and wrongly-compressed objects reported while the rest lands;
exactly once across re-runs and kill -9 of the server or of the CLI; the API's answers, errors and
authorization.
"""
import base64
import datetime
import gzip
import json
import os
import signal
import subprocess
import time
import zoneinfo

import pytest
import requests
import zstandard
from google.protobuf import json_format
from opentelemetry import metrics as metrics_api
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter as InMemoryLogExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

import otlp_model as m
from conftest import Server, otlake_bin, read_table, wait_for
from s3_server import MotoS3

BUCKET = "otel-archive"
UTC = datetime.timezone.utc
KOLKATA = zoneinfo.ZoneInfo("Asia/Kolkata")  # +05:30: partitions fall mid-hour in UTC
FORMATS = {"minute": "year=%Y/month=%m/day=%d/hour=%H/minute=%M", "hour": "%Y/%m/%d/%H", "day": "dt=%Y-%m-%d"}
SIGNALS = ["traces", "logs", "metrics"]


# ---------------------------------------------------------------------------------------------
# Requests encoded by the real SDK


class Requests:
    """Export*ServiceRequest messages from the SDK's own encoders, each with distinct records."""

    def __init__(self):
        self.n = 0

    def resource(self):
        return Resource({"service.name": "archived", "service.version": "2.0", "host.name": f"node-{self.n}",
                         "process.pid": 100 + self.n, "cpu.weight": 0.25, "tags": ["a", "b"]},
                        schema_url="https://opentelemetry.io/schemas/1.26.0")

    def traces(self):
        self.n += 1
        exp = InMemorySpanExporter()
        provider = TracerProvider(resource=self.resource())
        provider.add_span_processor(SimpleSpanProcessor(exp))
        tracer = provider.get_tracer("archive.lib", "1.2", schema_url="https://opentelemetry.io/schemas/1.24.0")
        for i in range(3):
            with tracer.start_as_current_span(f"op-{self.n}-{i}", kind=[SpanKind.SERVER, SpanKind.CLIENT,
                                                                        SpanKind.INTERNAL][i],
                                              attributes={"route": f"/r/{i}", "code": 200 + i, "ratio": 0.5 * i,
                                                          "ok": i % 2 == 0, "list": [1, 2], "u": "naïve ☃"}) as span:
                span.add_event("cache.miss", {"key": f"k{i}", "size": i})
                with tracer.start_as_current_span(f"child-{self.n}-{i}"):
                    pass
                if i == 1:
                    span.set_status(Status(StatusCode.ERROR, "boom"))
        provider.shutdown()
        return encode_spans(exp.get_finished_spans())

    def logs(self):
        self.n += 1
        exp = InMemoryLogExporter()
        provider = LoggerProvider(resource=self.resource())
        provider.add_log_record_processor(SimpleLogRecordProcessor(exp))
        logger = provider.get_logger("archive.logs", "0.1")
        from opentelemetry._logs import LogRecord
        for i in range(4):
            body = f"line {self.n}-{i}" if i != 3 else {"msg": f"structured {self.n}", "n": i, "nested": [1, "x"]}
            logger.emit(LogRecord(timestamp=time.time_ns() - 10_000 * i, severity_number=SeverityNumber.WARN,
                                  severity_text="WARN", body=body, attributes={"i": i, "s": "v"}))
        provider.shutdown()
        return encode_logs(exp.get_finished_logs())

    def metrics(self):
        self.n += 1
        reader = InMemoryMetricReader()
        provider = MeterProvider(resource=self.resource(), metric_readers=[reader])
        meter = provider.get_meter("archive.metrics", "1.0")
        counter = meter.create_counter(f"requests.{self.n}", unit="1", description="served")
        hist = meter.create_histogram(f"latency.{self.n}", unit="ms")
        gauge = meter.create_gauge(f"temp.{self.n}", unit="Cel")
        for i in range(5):
            counter.add(i + 1, {"route": f"/r{i % 2}"})
            hist.record(i * 3.5, {"route": "/x"})
            gauge.set(20 + i, {"room": "a"})
        data = reader.get_metrics_data()
        provider.shutdown()
        return encode_metrics(data)

    def make(self, signal):
        return getattr(self, signal)()


def otlp_json(req):
    """The Collector's otlp_json marshaler output: OTLP/JSON with hex IDs and integer enums."""
    d = json_format.MessageToDict(req, use_integers_for_enums=True)

    def fix(node):
        if isinstance(node, dict):
            for k, v in list(node.items()):
                if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                    node[k] = base64.b64decode(v).hex()
                else:
                    fix(v)
        elif isinstance(node, list):
            for x in node:
                fix(x)

    fix(d)
    return json.dumps(d).encode()


def encode(req, marshaler, compression):
    data = otlp_json(req) if marshaler == "otlp_json" else req.SerializeToString()
    if compression == "gzip":
        data = gzip.compress(data)
    elif compression == "zstd":
        data = zstandard.ZstdCompressor().compress(data)
    return data


# ---------------------------------------------------------------------------------------------
# The archive, laid out as awss3exporter writes it


class Exporter:
    """One awss3exporter configuration: base prefix, prefix, partition format and zone, file prefix."""

    def __init__(self, name, fmt, tz, tz_name, file_prefix):
        self.name, self.fmt, self.tz, self.tz_name, self.file_prefix = name, fmt, tz, tz_name, file_prefix
        self.base_prefix, self.prefix = "archive-base", name

    def key(self, when, signal, marshaler, compression, unique):
        ext = {"otlp_json": ".json", "otlp_proto": ".binpb"}[marshaler]
        ext += {"none": "", "gzip": ".gz", "zstd": ".zst"}[compression]
        part = when.astimezone(self.tz).strftime(FORMATS[self.fmt])
        return f"{self.base_prefix}/{self.prefix}/{part}/{self.file_prefix}{signal}_{unique}{ext}"


class Archive:
    def __init__(self):
        self.objects = {}    # key -> (bytes, content-encoding or None)
        self.sent = {}       # exporter name -> {signal: [requests replayable in its window]}
        self.bad = {}        # exporter name -> {key: expected reason fragment}
        self.window = {}     # exporter name -> (start, end) as given to replay
        self.exporters = []
        self.unique = 100000000

    def put(self, exp, when, signal, marshaler, compression, req, in_window=True, corrupt=None):
        self.unique += 7919
        key = exp.key(when, signal, marshaler, compression, self.unique)
        data = encode(req, marshaler, compression)
        reason = None
        if corrupt == "corrupt":
            data = data[:10] + bytes(b ^ 0x5A for b in data[10:30]) + data[30:]
            reason = "corrupt"
        elif corrupt == "truncated":
            data = data[: len(data) * 2 // 3]
            reason = "truncated" if compression == "none" else "corrupt"
        elif corrupt == "wrong-compression":  # a .zst name holding gzip bytes
            data = gzip.compress(encode(req, marshaler, "none"))
            reason = "corrupt zstd"
        encoding = {"gzip": "gzip", "zstd": "zstd"}.get(compression)
        self.objects[key] = (data, encoding)
        if in_window and reason:
            self.bad.setdefault(exp.name, {})[key] = reason
        elif in_window:
            self.sent.setdefault(exp.name, {}).setdefault(signal, []).append(req)
        return key


def build_archive():
    a = Archive()
    gen = Requests()
    day = datetime.datetime(2025, 6, 25, tzinfo=UTC)
    for fmt in FORMATS:
        for tz, tz_name in ((UTC, "UTC"), (KOLKATA, "Asia/Kolkata")):
            exp = Exporter(f"{fmt}-{tz_name.replace('/', '-').lower()}", fmt, tz, tz_name,
                           "edge-" if tz is KOLKATA else "")
            a.exporters.append(exp)
            # The window: 2025-06-25 10:00-12:00 in the exporter's zone (a whole day for day layouts).
            local0 = datetime.datetime(2025, 6, 25, 10, 0, tzinfo=tz)
            if fmt == "day":
                a.window[exp.name] = ("2025-06-25", "2025-06-26")
                inside = [local0 + datetime.timedelta(hours=h) for h in (0, 3, 7, 9, 11, 13)]
                outside = local0 + datetime.timedelta(hours=15)  # the next local day
            else:
                a.window[exp.name] = ("2025-06-25 10:00", "2025-06-25 12:00")
                inside = [local0 + datetime.timedelta(minutes=mm) for mm in (0, 17, 33, 59, 61, 119)]
                outside = local0 + datetime.timedelta(minutes=120)  # the end is exclusive
            i = 0
            for marshaler in ("otlp_json", "otlp_proto"):
                for compression in ("none", "gzip", "zstd"):
                    sig = SIGNALS[(i + len(a.exporters)) % 3]
                    a.put(exp, inside[i], sig, marshaler, compression, gen.make(sig))
                    i += 1
            a.put(exp, outside, "traces", "otlp_json", "none", gen.traces(), in_window=False)
            # Objects that must be reported and skipped.
            if fmt == "minute":
                a.put(exp, inside[1], "traces", "otlp_json", "gzip", gen.traces(), corrupt="corrupt")
                a.put(exp, inside[2], "logs", "otlp_proto", "none", gen.logs(), corrupt="truncated")
                a.put(exp, inside[3], "metrics", "otlp_proto", "zstd", gen.metrics(), corrupt="wrong-compression")
    del day
    return a


def upload(a, moto):
    s3 = moto.client()
    s3.create_bucket(Bucket=BUCKET)
    for key, (data, encoding) in a.objects.items():
        extra = {"ContentEncoding": encoding} if encoding else {}
        s3.put_object(Bucket=BUCKET, Key=key, Body=data, **extra)


# ---------------------------------------------------------------------------------------------
# Running


def replay(base, *args, env=None, timeout=180):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "AWS_", "OTLAKE_API_KEY"))}
    e.update(env or {})
    return subprocess.run([otlake_bin(), "replay", "-D", str(base), *args], capture_output=True, text=True,
                          timeout=timeout, env=e)


def exporter_args(exp, a):
    start, end = a.window[exp.name]
    return ["--s3-prefix", f"{exp.base_prefix}/{exp.prefix}", "--s3-partition-format", FORMATS[exp.fmt],
            "--s3-partition-timezone", exp.tz_name, "--file-prefix", exp.file_prefix, "--start", start, "--end", end]


def s3_args(moto):
    return ["--s3-bucket", BUCKET, "--endpoint", moto.endpoint, "--region", "us-east-1", "--s3-force-path-style"]


def s3_env(moto):
    return {"AWS_ACCESS_KEY_ID": moto.key_id, "AWS_SECRET_ACCESS_KEY": moto.secret}


def lake_records(srv, signal):
    if signal == "traces":
        return m.spans_from_rows(read_table(srv, "spans"), read_table(srv, "span_events"),
                                 read_table(srv, "span_links"))
    if signal == "logs":
        return m.logs_from_rows(read_table(srv, "logs"))
    return m.metrics_from_rows(read_table(srv, "metrics_points"), read_table(srv, "metrics_hist"))


@pytest.fixture(scope="module")
def moto():
    s = MotoS3()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def archive(moto):
    a = build_archive()
    upload(a, moto)
    return a


def test_matrix_replayed_into_the_lake_field_by_field_then_again_adds_nothing(tmp_path, moto, archive):
    srv = Server(tmp_path).start()
    try:
        sent = {s: [] for s in SIGNALS}
        for exp in archive.exporters:
            p = replay(tmp_path, *s3_args(moto), *exporter_args(exp, archive), "--json", "--parallelism", "3",
                       env=s3_env(moto))
            bad = archive.bad.get(exp.name, {})
            assert p.returncode == (1 if bad else 0), p.stdout + p.stderr
            rep = json.loads(p.stdout)
            assert rep["status"] == "done", rep
            assert {f["key"]: f["reason"] for f in rep["failures"]}.keys() == bad.keys(), rep["failures"]
            for f in rep["failures"]:
                assert bad[f["key"]] in f["reason"], f
            good = archive.sent[exp.name]
            assert rep["objects_ok"] == sum(len(v) for v in good.values()), rep
            expected_records = sum(len(m.records_from_request(s, r)) for s, reqs in good.items() for r in reqs)
            assert rep["records"] == expected_records, rep
            assert rep["objects_already"] == 0
            for s, reqs in good.items():
                sent[s].extend(reqs)
            assert moto.secret not in p.stdout + p.stderr
        srv.wait_persisted()
        for s in SIGNALS:
            want = m.canonical(s, [r for req in sent[s] for r in m.records_from_request(s, req)])
            got = m.canonical(s, lake_records(srv, s))
            assert len(got) == len(want), (s, len(got), len(want))
            for w, g in zip(want, got):
                assert g == w
        spans_before = len(read_table(srv, "spans"))
        # The same replays again: every object is found in the ledger, nothing is read or stored twice.
        for exp in archive.exporters:
            p = replay(tmp_path, *s3_args(moto), *exporter_args(exp, archive), "--json", env=s3_env(moto))
            rep = json.loads(p.stdout)
            good = archive.sent[exp.name]
            assert rep["objects_already"] == sum(len(v) for v in good.values()), rep
            assert rep["objects_ok"] == 0 and rep["records"] == 0, rep
        srv.wait_persisted()
        assert len(read_table(srv, "spans")) == spans_before
        # The secret is in no answer, log line or state file.
        log = open(srv.log_path, "rb").read()
        assert moto.secret.encode() not in log
        for name in os.listdir(os.path.join(srv.root, "configs")):
            assert moto.secret.encode() not in open(os.path.join(srv.root, "configs", name), "rb").read(), name
        r = requests.get(srv.url + "/api/replay", timeout=10)
        assert r.status_code == 200 and moto.secret not in r.text
        assert len(r.json()["items"]) == 2 * len(archive.exporters)
    finally:
        assert srv.stop() == 0, srv.read_log()


def make_spans_archive(root, objects, spans_per_object):
    """A local-directory archive of `objects` proto+zstd trace objects; returns every span id."""
    ids = []
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    t0 = datetime.datetime(2025, 6, 25, 14, 0, tzinfo=UTC)
    for o in range(objects):
        req = trace_service_pb2.ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        rs.resource.attributes.add(key="service.name").value.string_value = "kill9"
        ss = rs.scope_spans.add()
        for i in range(spans_per_object):
            sp = ss.spans.add(name=f"op-{o}-{i}", start_time_unix_nano=time.time_ns(),
                              end_time_unix_nano=time.time_ns() + 1000)
            sp.trace_id = o.to_bytes(8, "big") + i.to_bytes(8, "big")
            sp.span_id = (o * 100000 + i + 1).to_bytes(8, "big")
            ids.append(sp.span_id.hex())
        when = t0 + datetime.timedelta(seconds=30 * o)
        key = f"{when.strftime(FORMATS['minute'])}/traces_{100000000 + o}.binpb.zst"
        path = os.path.join(root, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(zstandard.ZstdCompressor().compress(req.SerializeToString()))
    return ids


def assert_exactly_once(srv, ids):
    srv.wait_persisted()
    got = [r["span_id"] for r in read_table(srv, "spans", columns=["span_id"])]
    assert len(got) == len(set(got)), f"{len(got) - len(set(got))} duplicated spans"
    assert set(got) == set(ids), (len(set(ids) - set(got)), "missing")
    assert len(got) == len(ids)


def jobs(srv):
    return requests.get(srv.url + "/api/replay", timeout=10).json()["items"]


def test_kill_9_of_the_server_mid_replay_then_rerun_stores_every_record_once(tmp_path):
    src = tmp_path / "archive"
    ids = make_spans_archive(str(src), objects=40, spans_per_object=50)
    window = ["--source-dir", str(src), "--start", "2025-06-25 14:00", "--end", "2025-06-25 15:00"]
    # Each object waits 150 ms between its last durable WAL append and 'completed': kills land where
    # an at-least-once design would store it twice.
    env = {"OTLAKE_REPLAY_TEST_COMPLETE_DELAY_MS": "150"}
    kills = 0
    for round_ in range(3):
        srv = Server(tmp_path, env=env).start()
        cli = subprocess.Popen([otlake_bin(), "replay", "-D", str(tmp_path), *window, "--json",
                                "--parallelism", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        done_before = sum(j["objects_done"] for j in jobs(srv))
        target = 6 * (round_ + 1)
        wait_for(lambda: any(j["status"] == "running" and j["objects_done"] >= target for j in jobs(srv))
                 or cli.poll() is not None, "replay progress")
        if cli.poll() is not None:
            srv.stop()
            break
        srv.stop(sig=signal.SIGKILL)
        kills += 1
        out, err = cli.communicate(timeout=60)
        assert cli.returncode == 1 and "Run the same command again" in err, (out, err)
        del done_before
    assert kills >= 2
    srv = Server(tmp_path, env=env).start()
    try:
        # The jobs the kills cut short say so.
        assert any(j["status"] == "interrupted" for j in jobs(srv))
        p = replay(tmp_path, *window, "--json")
        assert p.returncode == 0, p.stdout + p.stderr
        rep = json.loads(p.stdout)
        assert rep["objects_already"] + rep["objects_ok"] == 40 and rep["objects_already"] > 0, rep
        assert_exactly_once(srv, ids)
        assert "was fully in the WAL when otlake stopped" in srv.read_log() or rep["objects_already"] >= 12
    finally:
        assert srv.stop() == 0, srv.read_log()


def test_kill_9_of_the_cli_leaves_the_job_running_and_a_rerun_adds_nothing_twice(tmp_path):
    src = tmp_path / "archive"
    ids = make_spans_archive(str(src), objects=20, spans_per_object=20)
    window = ["--source-dir", str(src), "--start", "2025-06-25 14:00", "--end", "2025-06-25 15:00"]
    srv = Server(tmp_path, env={"OTLAKE_REPLAY_TEST_COMPLETE_DELAY_MS": "100"}).start()
    try:
        cli = subprocess.Popen([otlake_bin(), "replay", "-D", str(tmp_path), *window, "--parallelism", "1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: any(j["objects_done"] >= 3 for j in jobs(srv)), "first objects")
        cli.kill()
        cli.wait()
        # A second run while the first job still runs on the server: each object once.
        p = replay(tmp_path, *window, "--json", "--parallelism", "4")
        assert p.returncode == 0, p.stdout + p.stderr
        rep = json.loads(p.stdout)
        assert rep["objects_already"] >= 3, rep
        wait_for(lambda: all(j["status"] != "running" for j in jobs(srv)), "the first job to finish")
        assert_exactly_once(srv, ids)
    finally:
        assert srv.stop() == 0, srv.read_log()


def test_api_jobs_errors_and_cancel(tmp_path, moto, archive):
    # Each object takes >= 20 ms after its records are durable: the cancelled job cannot finish
    # its 30 objects before the DELETE arrives.
    srv = Server(tmp_path, env={"OTLAKE_REPLAY_TEST_COMPLETE_DELAY_MS": "20"}).start()
    try:
        exp = archive.exporters[0]
        start, end = archive.window[exp.name]
        body = {"s3_bucket": BUCKET, "endpoint": moto.endpoint, "region": "us-east-1",
                "access_key_id": moto.key_id, "secret_access_key": moto.secret,
                "s3_prefix": f"{exp.base_prefix}/{exp.prefix}", "s3_partition_format": FORMATS[exp.fmt],
                "starttime": start, "endtime": end, "project": "imported"}
        # Bad input: 400 naming the setting; the secret is never echoed.
        for change, needle in ((dict(starttime="25-06-2025"), "starttime"),
                               (dict(endtime="2025-06-24"), "endtime"),
                               (dict(s3_partition_format="year=%Y/%Q"), "s3_partition_format"),
                               (dict(s3_bucket=""), "s3_bucket"),
                               (dict(s3_bucket="no-such-bucket"), "s3_bucket"),
                               (dict(secret_access_key="wrong-" + moto.secret), "access_key_id / secret_access_key"),
                               (dict(signals=["events"]), "signals"),
                               (dict(bucket="x"), "unknown setting 'bucket'")):
            r = requests.post(srv.url + "/api/replay", json={**body, **change}, timeout=30)
            assert r.status_code == 400, (change, r.status_code, r.text)
            assert needle in r.json()["error"], (change, r.text)
            assert moto.secret not in r.text
        r = requests.post(srv.url + "/api/replay", data="not json", timeout=10)
        assert r.status_code == 400
        # A job: 202 with its id, then its report.
        r = requests.post(srv.url + "/api/replay", json=body, timeout=30)
        assert r.status_code == 202, r.text
        job = r.json()
        assert moto.secret not in r.text and job["request"]["has_credentials"] is True
        assert r.headers["Location"] == "/api/replay/" + job["id"]
        done = wait_for(lambda: (lambda j: j if j["status"] not in ("listing", "running") else None)(
            requests.get(srv.url + "/api/replay/" + job["id"], timeout=10).json()), "the job")
        assert done["status"] == "done" and done["project"] == "imported", done
        assert done["objects_ok"] == sum(len(v) for v in archive.sent[exp.name].values())
        assert {f["key"] for f in done["failures"]} == set(archive.bad[exp.name])
        for k in ("records", "bytes", "records_per_second", "bytes_per_second", "objects_total", "seconds"):
            assert k in done
        srv.wait_persisted()
        assert {r["project_id"] for r in read_table(srv, "spans", columns=["project_id"])} == {"imported"}
        assert [j["id"] for j in requests.get(srv.url + "/api/replay", timeout=10).json()["items"]] == [job["id"]]
        assert requests.get(srv.url + "/api/replay/nope", timeout=10).status_code == 404
        assert requests.delete(srv.url + "/api/replay/nope", timeout=10).status_code == 404
        assert requests.put(srv.url + "/api/replay", timeout=10).status_code == 405
        # Cancel: a job over a slow local archive stops before its last objects.
        src = tmp_path / "slow"
        make_spans_archive(str(src), objects=30, spans_per_object=5)
        r = requests.post(srv.url + "/api/replay", json={"source_dir": str(src), "starttime": "2025-06-25 14:00",
                                                          "endtime": "2025-06-25 15:00", "parallelism": 1,
                                                          "project": "slow"}, timeout=30)
        assert r.status_code == 202, r.text
        jid = r.json()["id"]
        r = requests.delete(srv.url + "/api/replay/" + jid, timeout=10)
        assert r.status_code == 202
        j = wait_for(lambda: (lambda j: j if j["status"] not in ("listing", "running") else None)(
            requests.get(srv.url + "/api/replay/" + jid, timeout=10).json()), "the cancelled job")
        assert j["status"] == "cancelled" and j["objects_cancelled"] > 0, j
    finally:
        assert srv.stop() == 0, srv.read_log()
    assert moto.secret.encode() not in open(srv.log_path, "rb").read()


def keys_create(base, *args):
    p = subprocess.run([otlake_bin(), "keys", "create", "-D", str(base), *args], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return [w for w in p.stdout.split() if w.startswith("otlk_")][0]


def test_auth_required_needs_an_ingest_key_for_the_project(tmp_path):
    src = tmp_path / "archive"
    make_spans_archive(str(src), objects=2, spans_per_object=3)
    subprocess.run([otlake_bin(), "init", "-D", str(tmp_path)], check=True, capture_output=True)
    admin = keys_create(tmp_path, "--scope", "admin", "--name", "a")
    ingest_p = keys_create(tmp_path, "--scope", "ingest", "--project", "p", "--name", "i")
    read = keys_create(tmp_path, "--scope", "read", "--name", "r")
    srv = Server(tmp_path, extra_args=["--auth", "required"]).start()
    try:
        body = {"source_dir": str(src), "starttime": "2025-06-25 14:00", "endtime": "2025-06-25 15:00"}
        post = lambda key, b: requests.post(srv.url + "/api/replay", json=b, timeout=30,
                                            headers={"Authorization": f"Bearer {key}"} if key else {})
        assert post(None, body).status_code == 401
        assert post(read, body).status_code == 403
        assert post(ingest_p, {**body, "project": "q"}).status_code == 403  # another project
        r = post(ingest_p, body)  # its own project, but source_dir reads the server's disk
        assert r.status_code == 403 and "admin" in r.json()["error"], r.text
        r = post(admin, {**body, "project": "p"})
        assert r.status_code == 202, r.text
        jid = r.json()["id"]
        h = lambda k: {"Authorization": f"Bearer {k}"}
        assert requests.get(srv.url + "/api/replay/" + jid, headers=h(read), timeout=10).status_code == 200
        assert requests.get(srv.url + "/api/replay/" + jid, timeout=10).status_code == 401
        assert requests.delete(srv.url + "/api/replay/" + jid, headers=h(read), timeout=10).status_code == 403
        assert requests.delete(srv.url + "/api/replay/" + jid, headers=h(ingest_p), timeout=10).status_code == 202
        # The CLI passes the key; without one the server's refusal is exit 2.
        w = ["--source-dir", str(src), "--start", "2025-06-25 14:00", "--end", "2025-06-25 15:00"]
        p = replay(tmp_path, *w)
        assert p.returncode == 2 and "401" in p.stderr, p.stderr
        p = replay(tmp_path, *w, "--key", admin, "--project", "p", "--json")
        assert p.returncode == 0, p.stdout + p.stderr
    finally:
        assert srv.stop() == 0, srv.read_log()


def test_s3_errors_are_retried_with_backoff_then_every_object_lands(tmp_path, moto, archive):
    """The first two GETs of every object answer 503 SlowDown / 500 InternalError: retried (the S3
    client's backoff, then the replay's own download attempts), nothing lost or failed."""
    from s3_server import FaultProxy
    proxy = FaultProxy(moto.port)
    failed = {}

    def fail_if(method, path):
        if method != "GET" or "?" in path or not path.startswith(f"/{BUCKET}/"):
            return None  # listings pass; object reads fail twice each
        n = failed.get(path, 0)
        failed[path] = n + 1
        return (503, 500)[n] if n < 2 else None

    proxy.fail_if = fail_if
    srv = Server(tmp_path).start()
    try:
        exp = archive.exporters[1]  # minute partitions, Asia/Kolkata, file prefix
        args = ["--s3-bucket", BUCKET, "--endpoint", proxy.endpoint, "--region", "us-east-1"]
        p = replay(tmp_path, *args, *exporter_args(exp, archive), "--json", env=s3_env(moto))
        rep = json.loads(p.stdout)
        good = archive.sent[exp.name]
        assert rep["objects_ok"] == sum(len(v) for v in good.values()), rep
        assert {f["key"] for f in rep["failures"]} == set(archive.bad[exp.name]), rep["failures"]
        assert proxy.stats["503"] >= len(failed) and proxy.stats["500"] >= len(failed), proxy.stats
        assert all(n >= 3 for n in failed.values()), failed
        srv.wait_persisted()
        want = sum(len(m.records_from_request("traces", r)) for r in good.get("traces", []))
        assert len(read_table(srv, "spans")) == want
    finally:
        proxy.stop()
        assert srv.stop() == 0, srv.read_log()


def test_otlakes_own_archive_replayed_into_a_second_instance_gives_identical_rows(tmp_path, moto):
    """Instance A archives what it ingests (its archive writer, otlp_proto + zstd, to moto);
    `otlake replay` of that archive into instance B stores the same records, field by field."""
    bucket = moto.create_bucket("own-archive")
    a = Server(tmp_path / "a", env=s3_env(moto), extra_args=[
        "--archive-s3-bucket", bucket, "--archive-endpoint", moto.endpoint, "--archive-region", "us-east-1",
        "--archive-s3-prefix", "own", "--archive-marshaler", "otlp_proto", "--archive-compression", "zstd",
        "--archive-max-age-s", "1"]).start()
    gen = Requests()
    sent = {s: [gen.make(s), gen.make(s)] for s in SIGNALS}
    try:
        for s, reqs in sent.items():
            for req in reqs:
                r = requests.post(f"{a.url}/v1/{s}", data=req.SerializeToString(),
                                  headers={"Content-Type": "application/x-protobuf"}, timeout=30)
                assert r.status_code == 200, r.text
        wait_for(lambda: (lambda h: h.get("enabled") is not False and h.get("backlog_lsns") == 0
                          and h.get("requests", 0) >= 6)(a.health().get("archive", {})), "the archive", timeout=60)
        a.wait_persisted()
        rows_a = {s: m.canonical(s, lake_records(a, s)) for s in SIGNALS}
    finally:
        assert a.stop() == 0, a.read_log()
    assert any(k.endswith(".binpb.zst") for k in moto.keys(bucket, "own/"))
    b = Server(tmp_path / "b").start()
    try:
        now = datetime.datetime.now(UTC)
        p = replay(tmp_path / "b", "--s3-bucket", bucket, "--endpoint", moto.endpoint, "--region", "us-east-1",
                   "--s3-prefix", "own", "--start", (now - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "--end", (now + datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"), "--json",
                   env=s3_env(moto))
        assert p.returncode == 0, p.stdout + p.stderr
        b.wait_persisted()
        for s in SIGNALS:
            want = m.canonical(s, [r for req in sent[s] for r in m.records_from_request(s, req)])
            got_b = m.canonical(s, lake_records(b, s))
            assert rows_a[s] == want, s  # A stored what was sent
            assert got_b == rows_a[s], s  # B stored what A archived
    finally:
        assert b.stop() == 0, b.read_log()
