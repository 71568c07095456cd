"""`otlake replay`: a Collector-layout archive (awss3exporter's keys and object formats), in a local
directory and in a real S3 server (moto with IAM auth), replayed over OTLP/HTTP into a real otlake
server and read back from its API; corrupt objects reported; 429 + Retry-After honoured; bad
settings refused with exit 2 naming the setting.
"""
import base64
import datetime
import gzip
import http.server
import json
import os
import random
import subprocess
import threading
import time
import urllib.request
import zoneinfo

import pytest
import requests
import zstandard
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from conftest import Server, otlake_bin
from s3_server import MotoS3

BUCKET = "archive"
UTC = datetime.timezone.utc
NY = zoneinfo.ZoneInfo("America/New_York")
MINUTE_FMT = "year=%Y/month=%m/day=%d/hour=%H/minute=%M"
HOUR_FMT = "%Y/%m/%d/%H"
WINDOW_START = datetime.datetime(2025, 6, 25, 14, 0, tzinfo=UTC)
WINDOW_END = datetime.datetime(2025, 6, 25, 16, 0, tzinfo=UTC)

# Two exporter configurations writing into one bucket, each replayed with its own settings.
CONFIGS = {
    "minute-utc": {"prefix": "minute-utc", "format": MINUTE_FMT, "tz": UTC, "tz_name": "UTC", "file_prefix": "",
                   "start": "2025-06-25T14:00:00Z", "end": "2025-06-25 16:00"},
    "hour-ny": {"prefix": "hour-ny", "format": HOUR_FMT, "tz": NY, "tz_name": "America/New_York",
                "file_prefix": "app-", "start": "2025-06-25 10:00", "end": "2025-06-25 12:00"},  # 14:00-16:00Z
}


# ---------------------------------------------------------------------------------------------
# The fixture archive


def _attrs(**kv):
    return [{"key": k, "value": {"stringValue": v}} for k, v in kv.items()]


def _ids_as_base64(v):
    if isinstance(v, dict):
        return {k: base64.b64encode(bytes.fromhex(x)).decode() if k in ("traceId", "spanId", "parentSpanId")
                else _ids_as_base64(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_ids_as_base64(x) for x in v]
    return v


class Archive:
    def __init__(self, seed=7):
        self.rng = random.Random(seed)
        self.objects = {}      # key -> bytes
        self.encodings = {}    # key -> Content-Encoding the exporter sets
        self.span_ids = {c: set() for c in CONFIGS}   # replayable content, per config
        self.log_bodies = {c: set() for c in CONFIGS}
        self.bad = {c: set() for c in CONFIGS}        # keys that must be reported
        self.window_keys = {c: set() for c in CONFIGS}  # every key inside the window
        self.t_event = time.time_ns() - 3_600_000_000_000  # in the server's default query range

    def key(self, cfg, when, signal, marshaler, compression):
        c = CONFIGS[cfg]
        part = when.astimezone(c["tz"]).strftime(c["format"])
        ext = {"otlp_json": ".json", "otlp_proto": ".binpb"}[marshaler]
        ext += {"none": "", "gzip": ".gz", "zstd": ".zst"}[compression]
        unique = str(self.rng.randrange(100000000, 999999999))
        return f"{c['prefix']}/{part}/{c['file_prefix']}{signal}_{unique}{ext}"

    def traces(self, n, record_into):
        spans = []
        tid = f"{self.rng.getrandbits(128):032x}"
        for i in range(n):
            sid = f"{self.rng.getrandbits(64):016x}"
            spans.append({"traceId": tid, "spanId": sid, "name": f"op-{i}", "kind": 2,
                          "startTimeUnixNano": str(self.t_event + i), "endTimeUnixNano": str(self.t_event + i + 500),
                          "attributes": _attrs(route=f"/r{i}")})
            if record_into is not None:
                record_into.add(sid)
        return {"resourceSpans": [{"resource": {"attributes": _attrs(**{"service.name": "archived"})},
                                   "scopeSpans": [{"scope": {"name": "lib"}, "spans": spans}]}]}

    def logs(self, n, record_into):
        recs = []
        for i in range(n):
            body = f"archived line {self.rng.getrandbits(48):012x}"
            recs.append({"timeUnixNano": str(self.t_event + i), "severityNumber": 9, "body": {"stringValue": body}})
            if record_into is not None:
                record_into.add(body)
        return {"resourceLogs": [{"resource": {"attributes": _attrs(**{"service.name": "archived"})},
                                  "scopeLogs": [{"logRecords": recs}]}]}

    @staticmethod
    def encode(doc, signal, marshaler, compression):
        if marshaler == "otlp_json":
            data = json.dumps(doc, separators=(",", ":")).encode()
        else:
            msg = (trace_service_pb2.ExportTraceServiceRequest() if signal == "traces"
                   else logs_service_pb2.ExportLogsServiceRequest())
            json_format.ParseDict(_ids_as_base64(doc), msg)  # protobuf JSON wants bytes as base64
            data = msg.SerializeToString()
        if compression == "gzip":
            data = gzip.compress(data)
        elif compression == "zstd":
            data = zstandard.ZstdCompressor().compress(data)
        return data

    def add(self, cfg, when, signal, marshaler, compression, n, in_window=True, corrupt=None):
        key = self.key(cfg, when, signal, marshaler, compression)
        into = None
        if in_window and corrupt is None:
            into = self.span_ids[cfg] if signal == "traces" else self.log_bodies[cfg]
        doc = self.traces(n, into) if signal == "traces" else self.logs(n, into)
        data = self.encode(doc, signal, marshaler, compression)
        if corrupt == "corrupt":
            data = bytes(b ^ 0x5A for b in data[:20]) + data[20:]
        elif corrupt == "truncated":
            data = data[: len(data) * 2 // 3]
        if in_window:
            self.window_keys[cfg].add(key)
        if corrupt and in_window:
            self.bad[cfg].add(key)
        self.objects[key] = data
        if compression != "none":
            self.encodings[key] = {"gzip": "gzip", "zstd": "zstd"}[compression]
        return key


def build_archive():
    a = Archive()
    at = lambda h, m: datetime.datetime(2025, 6, 25, h, m, 30, tzinfo=UTC)
    # Minute partitions, UTC, no file prefix: both marshalers x none/gzip/zstd.
    a.add("minute-utc", at(14, 0), "traces", "otlp_json", "none", 5)
    a.add("minute-utc", at(14, 0), "logs", "otlp_json", "gzip", 4)
    a.add("minute-utc", at(14, 9), "traces", "otlp_proto", "zstd", 6)
    a.add("minute-utc", at(14, 9), "traces", "otlp_json", "zstd", 3)
    a.add("minute-utc", at(15, 1), "logs", "otlp_proto", "none", 7)
    a.add("minute-utc", at(15, 1), "traces", "otlp_proto", "gzip", 2)
    a.add("minute-utc", at(15, 59), "logs", "otlp_proto", "zstd", 3)
    a.add("minute-utc", at(15, 30), "traces", "otlp_json", "gzip", 1, corrupt="corrupt")
    a.add("minute-utc", at(15, 31), "logs", "otlp_proto", "zstd", 9, corrupt="truncated")
    a.add("minute-utc", at(13, 59), "traces", "otlp_json", "none", 4, in_window=False)  # before
    a.add("minute-utc", at(16, 0), "logs", "otlp_json", "none", 4, in_window=False)     # end exclusive
    # Hour partitions in New York, file prefix "app-".
    a.add("hour-ny", at(14, 5), "traces", "otlp_json", "gzip", 4)
    a.add("hour-ny", at(14, 6), "logs", "otlp_proto", "zstd", 5)
    a.add("hour-ny", at(15, 40), "traces", "otlp_proto", "none", 3)
    a.add("hour-ny", at(15, 41), "logs", "otlp_json", "none", 2)
    a.add("hour-ny", at(15, 42), "traces", "otlp_proto", "gzip", 2, corrupt="truncated")
    a.add("hour-ny", at(16, 10), "traces", "otlp_json", "none", 3, in_window=False)     # 12:10 New York
    return a


def write_dir(a, root):
    for key, data in a.objects.items():
        path = os.path.join(root, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)


def upload(a, moto):
    s3 = moto.client()
    s3.create_bucket(Bucket=BUCKET)
    for key, data in a.objects.items():
        extra = {"ContentEncoding": a.encodings[key]} if key in a.encodings else {}
        s3.put_object(Bucket=BUCKET, Key=key, Body=data, **extra)


# ---------------------------------------------------------------------------------------------
# Running the command


def replay(*args, env=None, base=None, timeout=120):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "AWS_"))}
    e.update(env or {})
    extra = ["-D", str(base)] if base else []
    return subprocess.run([otlake_bin(), "replay", *args, *extra], capture_output=True, text=True,
                          timeout=timeout, env=e)


def source_args(cfg, source):
    c = CONFIGS[cfg]
    return [*source, "--s3-prefix", c["prefix"], "--s3-partition-format", c["format"],
            "--s3-partition-timezone", c["tz_name"], "--file-prefix", c["file_prefix"],
            "--start", c["start"], "--end", c["end"]]


def s3_source(moto):
    return ["--s3-bucket", BUCKET, "--endpoint", moto.endpoint, "--region", "us-east-1", "--s3-force-path-style"]


def s3_env(moto):
    return {"AWS_ACCESS_KEY_ID": moto.key_id, "AWS_SECRET_ACCESS_KEY": moto.secret}


def rows(srv, route, column):
    r = requests.get(f"{srv.url}/api/{route}", params={"select": column, "max_rows": 10000,
                                                       "service_name": "archived"}, timeout=60,
                     verify=getattr(srv, "ca_file", None) or True)  # a --tls-cert server's CA
    assert r.status_code == 200, r.text
    return [row[column] for row in r.json()["rows"]]


def check_report_and_rows(a, srv, results):
    """Every replayable record once, and exactly the bad objects reported."""
    expected_spans, expected_logs = set(), set()
    for cfg, proc in results.items():
        assert proc.returncode == 1, proc.stdout + proc.stderr  # corrupt objects in each config
        rep = json.loads(proc.stdout)
        assert {f["key"] for f in rep["failures"]} == a.bad[cfg], rep["failures"]
        for f in rep["failures"]:
            assert f["reason"], f
        assert rep["records"] == len(a.span_ids[cfg]) + len(a.log_bodies[cfg])
        assert rep["objects_ok"] == len(a.window_keys[cfg]) - len(a.bad[cfg]), rep
        assert rep["objects_failed"] == len(a.bad[cfg])
        expected_spans |= a.span_ids[cfg]
        expected_logs |= a.log_bodies[cfg]
    srv.wait_persisted()
    spans = rows(srv, "spans", "span_id")
    logs = rows(srv, "logs", "body")
    assert len(spans) == len(expected_spans) and set(spans) == expected_spans
    assert len(logs) == len(expected_logs) and set(logs) == expected_logs


@pytest.fixture(scope="module")
def moto():
    m = MotoS3()
    yield m
    m.stop()


@pytest.fixture(scope="module")
def archive():
    return build_archive()


def test_replay_local_dir_and_s3_into_otlake(tmp_path, moto, archive):
    src = tmp_path / "archive"
    write_dir(archive, str(src))
    upload(archive, moto)
    for name, source, env in (("local", ["--source-dir", str(src)], {}),
                              ("s3", s3_source(moto), s3_env(moto))):
        srv = Server(tmp_path / f"srv-{name}").start()
        try:
            results = {}
            for cfg in CONFIGS:
                results[cfg] = replay(*source_args(cfg, source), "--to-otlp", srv.url, "--json",
                                      "--parallelism", "3", env=env, base=tmp_path)
            check_report_and_rows(archive, srv, results)
            # Secrets never printed.
            for p in results.values():
                assert moto.secret not in p.stdout + p.stderr
        finally:
            assert srv.stop() == 0, srv.read_log()


def test_dry_run_lists_without_sending_and_text_report(tmp_path, archive):
    src = tmp_path / "archive"
    write_dir(archive, str(src))
    p = replay(*source_args("minute-utc", ["--source-dir", str(src)]), "--dry-run", "--json", base=tmp_path)
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    in_window = archive.window_keys["minute-utc"]
    assert sorted(o["key"] for o in rep["listed"]) == sorted(in_window)
    assert rep["objects"] == len(in_window) and rep["step"] == "minute" and rep["partitions"] == 120
    assert rep["bytes_listed"] == sum(len(archive.objects[k]) for k in in_window)
    # Text report of a real run names the failed keys with their reasons.
    out = tmp_path / "out"
    p = replay(*source_args("minute-utc", ["--source-dir", str(src)]), "--to-dir", str(out), base=tmp_path)
    assert p.returncode == 1, p.stdout + p.stderr
    for key in archive.bad["minute-utc"]:
        assert key in p.stdout
    assert "failed 2:" in p.stdout


def test_to_dir_writes_json_lines_and_binpb_that_replay_again(tmp_path, archive):
    src, out = tmp_path / "archive", tmp_path / "out"
    write_dir(archive, str(src))
    cfg = "hour-ny"
    p = replay(*source_args(cfg, ["--source-dir", str(src)]), "--to-dir", str(out), "--json", base=tmp_path)
    assert p.returncode == 1 and len(json.loads(p.stdout)["failures"]) == 1, p.stdout + p.stderr
    files = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    assert all(f.endswith((".jsonl", ".binpb")) for f in files), files
    assert len(files) == 4, files
    spans = set()
    for f in files:
        if f.endswith(".jsonl") and "traces_" in f:
            for line in open(os.path.join(out, f)):
                for rs in json.loads(line)["resourceSpans"]:
                    for ss in rs["scopeSpans"]:
                        spans |= {s["spanId"] for s in ss["spans"]}
    # The output is an uncompressed archive of the same layout: replay it into a server.
    srv = Server(tmp_path / "srv").start()
    try:
        p = replay(*source_args(cfg, ["--source-dir", str(out)]), "--to-otlp", srv.url, "--json", base=tmp_path)
        assert p.returncode == 0, p.stdout + p.stderr
        assert json.loads(p.stdout)["records"] == len(archive.span_ids[cfg]) + len(archive.log_bodies[cfg])
        srv.wait_persisted()
        assert set(rows(srv, "spans", "span_id")) == archive.span_ids[cfg]
        assert spans < archive.span_ids[cfg] and spans  # the JSON ones, at least
    finally:
        assert srv.stop() == 0, srv.read_log()


class Gate:
    """A loopback OTLP/HTTP front: answers the first `refuse` POSTs 429 with Retry-After, and
    /v1/logs with 400 when `reject_logs`; forwards everything else to the real server."""

    def __init__(self, target, refuse=2, retry_after="1", reject_logs=False, refuse_code=429):
        self.times, self.answers = [], []
        gate = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gate.times.append(time.monotonic())
                if len(gate.times) <= refuse:
                    return self._answer(refuse_code, b"slow down", {"Retry-After": retry_after})
                if reject_logs and self.path.endswith("/v1/logs"):
                    return self._answer(400, b"logs refused here", {})
                req = urllib.request.Request(target + self.path, data=body, method="POST", headers={
                    "Content-Type": self.headers["Content-Type"],
                    "Content-Encoding": self.headers.get("Content-Encoding", "identity")})
                with urllib.request.urlopen(req, timeout=30) as r:
                    self._answer(r.status, r.read(), {})

            def _answer(self, code, body, headers):
                gate.answers.append(code)
                self.send_response(code)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("code", [429, 503])
def test_429_retry_after_is_honoured_then_data_arrives(tmp_path, archive, code):
    src = tmp_path / "archive"
    write_dir(archive, str(src))
    srv = Server(tmp_path / "srv").start()
    gate = Gate(srv.url, refuse=2, retry_after="1", refuse_code=code)
    try:
        t0 = time.monotonic()
        p = replay(*source_args("minute-utc", ["--source-dir", str(src)]), "--signal", "traces",
                   "--to-otlp", gate.url, "--parallelism", "1", "--json", base=tmp_path)
        assert p.returncode == 1, p.stdout + p.stderr  # the corrupt traces object
        rep = json.loads(p.stdout)
        assert rep["retries"] == 2
        assert gate.answers[:2] == [code, code] and set(gate.answers[2:]) == {200}
        # One sender: each retry waited the server's second.
        assert gate.times[1] - gate.times[0] >= 0.95 and gate.times[2] - gate.times[1] >= 0.95
        assert time.monotonic() - t0 >= 2
        srv.wait_persisted()
        assert set(rows(srv, "spans", "span_id")) == archive.span_ids["minute-utc"]
    finally:
        gate.stop()
        assert srv.stop() == 0, srv.read_log()


def test_a_4xx_is_a_permanent_failure_of_that_object(tmp_path, archive):
    src = tmp_path / "archive"
    write_dir(archive, str(src))
    srv = Server(tmp_path / "srv").start()
    gate = Gate(srv.url, refuse=0, reject_logs=True)
    try:
        p = replay(*source_args("hour-ny", ["--source-dir", str(src)]), "--to-otlp", gate.url, "--json",
                   base=tmp_path)
        assert p.returncode == 1
        rep = json.loads(p.stdout)
        logs_keys = {k for k in archive.objects if k.startswith("hour-ny/") and "/app-logs_" in k}
        refused = {f["key"] for f in rep["failures"] if "HTTP 400" in f["reason"]}
        assert refused == logs_keys, rep["failures"]
        assert "logs refused here" in json.dumps(rep["failures"])
        assert gate.answers.count(400) == len(logs_keys)  # not retried
        srv.wait_persisted()
        assert set(rows(srv, "spans", "span_id")) == archive.span_ids["hour-ny"]
    finally:
        gate.stop()
        assert srv.stop() == 0, srv.read_log()


def test_event_time_keeps_only_records_whose_own_time_is_in_the_window(tmp_path):
    hour = datetime.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start, end = hour - datetime.timedelta(hours=3), hour - datetime.timedelta(hours=1)
    ns = lambda t: str(int(t.timestamp()) * 1_000_000_000)
    minutes = lambda m: start + datetime.timedelta(minutes=m)
    kept, dropped = set(), set()
    spans = []
    for i, (t, ok) in enumerate([(minutes(10), True), (minutes(-30), False), (minutes(119), True),
                                 (minutes(120), False), (minutes(150), False)]):
        sid = f"{i + 1:016x}"
        (kept if ok else dropped).add(sid)
        spans.append({"traceId": "0102030405060708090a0b0c0d0e0f10", "spanId": sid, "name": "op",
                      "startTimeUnixNano": ns(t), "endTimeUnixNano": ns(t)})
    doc = {"resourceSpans": [{"resource": {"attributes": _attrs(**{"service.name": "archived"})},
                              "scopeSpans": [{"spans": spans}]}]}
    logs = {"resourceLogs": [{"resource": {"attributes": _attrs(**{"service.name": "archived"})},
                              "scopeLogs": [{"logRecords": [
                                  {"timeUnixNano": ns(minutes(5)), "body": {"stringValue": "inside"}},
                                  {"timeUnixNano": ns(minutes(-5)), "body": {"stringValue": "before"}}]}]}]}
    src = tmp_path / "archive"
    part = minutes(30).strftime(HOUR_FMT)  # uploaded in the window
    objects = {f"{part}/traces_1.binpb.zst": Archive.encode(doc, "traces", "otlp_proto", "zstd"),
               f"{part}/logs_2.json.gz": Archive.encode(logs, "logs", "otlp_json", "gzip")}
    for k, v in objects.items():
        os.makedirs(os.path.dirname(src / k), exist_ok=True)
        (src / k).write_bytes(v)
    srv = Server(tmp_path / "srv").start()
    try:
        p = replay("--source-dir", str(src), "--s3-partition-format", HOUR_FMT,
                   "--start", start.isoformat(), "--end", end.isoformat(), "--event-time",
                   "--to-otlp", srv.url, "--json", base=tmp_path)
        assert p.returncode == 0, p.stdout + p.stderr
        rep = json.loads(p.stdout)
        assert rep["records"] == 3 and rep["records_dropped"] == 4, rep
        srv.wait_persisted()
        assert set(rows(srv, "spans", "span_id")) == kept
        assert rows(srv, "logs", "body") == ["inside"]
    finally:
        assert srv.stop() == 0, srv.read_log()


def test_records_the_destination_rejects_are_reported(tmp_path):
    good, bad = "00000000000000aa", "abcd"  # a 2-byte span ID: otlake rejects that span alone
    doc = {"resourceSpans": [{"resource": {"attributes": _attrs(**{"service.name": "archived"})},
                              "scopeSpans": [{"spans": [
                                  {"traceId": "0102030405060708090a0b0c0d0e0f10", "spanId": sid, "name": "op",
                                   "startTimeUnixNano": str(time.time_ns() - 10**12)} for sid in (good, bad)]}]}]}
    key = "year=2025/month=06/day=25/hour=14/minute=09/traces_1.json"
    (tmp_path / "a" / os.path.dirname(key)).mkdir(parents=True)
    (tmp_path / "a" / key).write_text(json.dumps(doc))
    srv = Server(tmp_path / "srv").start()
    try:
        p = replay("--source-dir", str(tmp_path / "a"), "--start", "2025-06-25 14:00", "--end", "2025-06-25 15:00",
                   "--to-otlp", srv.url, "--json", base=tmp_path)
        assert p.returncode == 1, p.stdout + p.stderr
        rep = json.loads(p.stdout)
        assert rep["objects_ok"] == 1 and rep["records"] == 2 and rep["records_rejected"] == 1, rep
        assert [r["key"] for r in rep["rejections"]] == [key] and "1 records rejected" in rep["rejections"][0]["reason"]
        srv.wait_persisted()
        assert rows(srv, "spans", "span_id") == [good]
    finally:
        assert srv.stop() == 0, srv.read_log()


@pytest.mark.parametrize("args,needle", [
    (["--start", "25-06-2025", "--end", "2025-06-26"], "--start"),
    (["--start", "2025-06-25", "--end", "2025-06-25T25:00:00Z"], "--end"),
    (["--start", "2025-06-26", "--end", "2025-06-25"], "is not after --start"),
    (["--start", "2025-06-25", "--end", "2025-06-26", "--s3-partition-format", "year=%Y/%Q"], "--s3-partition-format"),
    (["--start", "2025-06-25", "--end", "2025-06-26", "--s3-partition-format", "year=%Y/second=%S"], "--s3-partition-format"),
    (["--start", "2025-06-25", "--end", "2025-06-26", "--s3-partition-timezone", "Europe/Nowhere"], "--s3-partition-timezone"),
    (["--start", "2025-06-25", "--end", "2025-06-26", "--signal", "events"], "--signal"),
    (["--start", "2025-06-25", "--end", "2025-06-26", "--parallelism", "0"], "--parallelism"),
    (["--end", "2025-06-26"], "--start"),
])
def test_bad_settings_exit_2_naming_the_setting(tmp_path, args, needle):
    p = replay("--source-dir", str(tmp_path), "--dry-run", *args, base=tmp_path)
    assert p.returncode == 2, p.stdout + p.stderr
    assert needle in p.stderr, p.stderr


def test_missing_source_destination_and_credentials(tmp_path, moto):
    w = ["--start", "2025-06-25", "--end", "2025-06-26"]
    p = replay(*w, "--to-dir", str(tmp_path / "o"), base=tmp_path)
    assert p.returncode == 2 and "--s3-bucket" in p.stderr, p.stderr
    # No destination: the lake, through the running server; none runs for this instance.
    p = replay(*w, "--source-dir", str(tmp_path), base=tmp_path)
    assert p.returncode == 1 and "otlake start" in p.stderr and "--to-otlp" in p.stderr, p.stderr
    p = replay(*w, "--source-dir", str(tmp_path), "--to-dir", str(tmp_path / "o"), "--event-time", base=tmp_path)
    assert p.returncode == 2 and "--event-time" in p.stderr, p.stderr
    p = replay(*w, "--source-dir", str(tmp_path / "nope"), "--dry-run", base=tmp_path)
    assert p.returncode == 2 and "--source-dir" in p.stderr, p.stderr
    p = replay(*w, "--source-dir", str(tmp_path), "--to-otlp", "ftp://127.0.0.1:1", base=tmp_path)
    assert p.returncode == 2 and "--to-otlp" in p.stderr, p.stderr
    # Bucket given, no access key: the missing variable is named, the secret never printed.
    p = replay(*w, *s3_source(moto), "--dry-run", env={"AWS_SECRET_ACCESS_KEY": moto.secret}, base=tmp_path)
    assert p.returncode == 2 and "AWS_ACCESS_KEY_ID" in p.stderr, p.stderr
    assert moto.secret not in p.stdout + p.stderr
    # Wrong secret, wrong key id: refused before listing, exit 2 naming the variables; no secret shown.
    for kid, secret in ((moto.key_id, "wrong-" + moto.secret), ("AKIANOSUCHKEY0000000", moto.secret)):
        p = replay(*w, *s3_source(moto), "--dry-run", env={"AWS_ACCESS_KEY_ID": kid, "AWS_SECRET_ACCESS_KEY": secret},
                   base=tmp_path)
        assert p.returncode == 2 and "AWS_SECRET_ACCESS_KEY" in p.stderr and "refused" in p.stderr, p.stderr
        assert moto.secret not in p.stdout + p.stderr
    # A bucket that does not exist is not an empty archive.
    args = s3_source(moto)
    args[1] = "no-such-bucket"
    p = replay(*w, *args, "--dry-run", env=s3_env(moto), base=tmp_path)
    assert p.returncode == 2 and "--s3-bucket: bucket 'no-such-bucket' does not exist" in p.stderr, p.stderr
    # An endpoint that does not answer: exit 1 (not a setting the command can judge).
    args = s3_source(moto)
    args[3] = "http://127.0.0.1:1"
    p = replay(*w, *args, "--dry-run", env=s3_env(moto), base=tmp_path)
    assert p.returncode == 1 and "cannot reach bucket" in p.stderr, p.stderr


def test_help_lists_replay():
    p = subprocess.run([otlake_bin(), "--help"], capture_output=True, text=True)
    assert "replay" in p.stdout
    p = subprocess.run([otlake_bin(), "replay", "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "--s3-partition-format" in p.stdout and "--to-otlp" in p.stdout


def test_replay_over_tls_to_an_otlp_endpoint_and_into_a_tls_servers_lake(tmp_path, archive):
    """https:// destinations (docs/tls.md): --to-otlp with --tls-ca, and replay into the lake of a
    server started with --tls-cert, which the CLI finds (and trusts) through its server.json."""
    import ssl
    from tls_pki import make_ca, make_cert
    pki = str(tmp_path / "pki")
    os.makedirs(pki)
    make_ca(pki, "ca")
    make_cert(pki, "ca", "server")
    ctx = ssl.create_default_context(cafile=f"{pki}/ca.pem")
    tls = ["--tls-cert", f"{pki}/server.pem", "--tls-key", f"{pki}/server.key", "--grpc-port", "0"]
    src = tmp_path / "archive"
    write_dir(archive, str(src))
    cfg = "minute-utc"

    dest = Server(tmp_path / "dest", extra_args=tls, ssl_context=ctx).start()
    dest.ca_file = f"{pki}/ca.pem"
    try:
        assert dest.url.startswith("https://")
        p = replay(*source_args(cfg, ["--source-dir", str(src)]), "--to-otlp", dest.url,
                   "--tls-ca", f"{pki}/ca.pem", "--json", base=tmp_path)
        check_report_and_rows(archive, dest, {cfg: p})
    finally:
        assert dest.stop() == 0, dest.read_log()

    lake = Server(tmp_path / "lake", extra_args=tls, ssl_context=ctx).start()
    lake.ca_file = f"{pki}/ca.pem"
    try:
        p = replay(*source_args(cfg, ["--source-dir", str(src)]), "--json", base=tmp_path / "lake")
        assert p.returncode == 1, p.stdout + p.stderr  # the config's corrupt objects are reported
        lake.wait_persisted()
        assert set(rows(lake, "spans", "span_id")) == archive.span_ids[cfg]
        assert set(rows(lake, "logs", "body")) == archive.log_bodies[cfg]
    finally:
        assert lake.stop() == 0, lake.read_log()
