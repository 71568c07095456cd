"""OTLP/gRPC (docs/grpc.md): the real OpenTelemetry Python SDK's gRPC exporters (grpcio) against the
real otlake binary, compared field by field with what they encoded, through three Delta readers;
status codes a gRPC client acts on (INVALID_ARGUMENT, RESOURCE_EXHAUSTED with RetryInfo,
UNAUTHENTICATED, UNIMPLEMENTED); the memory budget under load with the SDK's own retries (nothing
lost, nothing doubled); kill -9 while clients send; /healthz and /metrics counts."""
import os
import signal
import socket
import ssl
import subprocess
import threading
import time

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client.parser import text_string_to_metric_families

from conftest import READERS, Server, otlake_bin, read_table, wait_for
from tls_pki import pki, read  # noqa: F401  (pki is a fixture)
import otlp_model as m

TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
LOGS = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
RESOURCE = Resource({"service.name": "grpc-checkout", "service.version": "2.0.1", "process.pid": 7,
                     "cpu.weight": 0.25, "feature.flags": ["a", "b"]})


def start_grpc(base, *args, instance="default", ssl_context=None):
    s = Server(base, instance=instance, extra_args=["--grpc-port", "any", *args], ssl_context=ssl_context).start()
    line = s.proc.stdout.readline().decode()
    assert "listening for OTLP/gRPC on " in line, line
    s.grpc_target = line.strip().rsplit(" ", 1)[1]
    return s


@pytest.fixture
def gserver(tmp_path):
    s = start_grpc(tmp_path)
    yield s
    rc = s.stop()
    assert rc in (0, None), f"otlake exited with {rc}; log: {s.read_log()}"


class Tee:
    """Wraps an SDK gRPC exporter to keep the exact request it encoded (the SDK's own encoder)."""

    def __init__(self, exporter, encode):
        self.exporter, self.encode, self.sent = exporter, encode, []

    def export(self, batch, *a, **kw):
        result = self.exporter.export(batch, *a, **kw)
        if result.name == "SUCCESS":
            self.sent.append(self.encode(batch))
        return result

    def __getattr__(self, name):
        return getattr(self.exporter, name)


def compare(signal_name, sent_requests, records):
    sent = m.canonical(signal_name, [r for req in sent_requests for r in m.records_from_request(signal_name, req)])
    got = m.canonical(signal_name, records)
    assert len(got) == len(sent), (len(got), len(sent))
    for s, g in zip(sent, got):
        assert g == s


def test_sdk_grpc_exporters_round_trip_every_field(gserver):
    span_exp = Tee(OTLPSpanExporter(endpoint=gserver.grpc_target, insecure=True,
                                    compression=grpc.Compression.Gzip), encode_spans)
    tp = TracerProvider(resource=RESOURCE)
    tp.add_span_processor(SimpleSpanProcessor(span_exp))
    tracer = tp.get_tracer("grpc.scope", "1.0", attributes={"scope.flag": True})
    for i in range(4):
        with tracer.start_as_current_span(f"op-{i}", kind=SpanKind.SERVER,
                                          attributes={"i": i, "ratio": i / 3, "tags": ["x", "y"], "ok": i % 2 == 0,
                                                      "unicode": "naïve ☃"}) as span:
            span.add_event("evt", {"n": i})
            with tracer.start_as_current_span("child", kind=SpanKind.CLIENT):
                pass
            if i == 1:
                span.set_status(Status(StatusCode.ERROR, "boom"))
    tp.shutdown()

    log_exp = Tee(OTLPLogExporter(endpoint=gserver.grpc_target, insecure=True), encode_logs)
    lp = LoggerProvider(resource=RESOURCE)
    lp.add_log_record_processor(SimpleLogRecordProcessor(log_exp))
    logger = lp.get_logger("grpc.logs")
    now = time.time_ns()
    for i, body in enumerate(["text", {"k": [1, 2.5, {"z": True}]}, 7, b"\x00\xff"]):
        logger.emit(LogRecord(timestamp=now + i, observed_timestamp=now + i, severity_text="INFO",
                              severity_number=SeverityNumber.INFO, body=body, attributes={"n": i}))
    lp.shutdown()

    metric_exp = Tee(OTLPMetricExporter(endpoint=gserver.grpc_target, insecure=True), encode_metrics)
    reader = PeriodicExportingMetricReader(metric_exp, export_interval_millis=3_600_000)
    mp = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = mp.get_meter("grpc.metrics")
    counter = meter.create_counter("requests")
    hist = meter.create_histogram("latency", unit="ms")
    gauge = meter.create_gauge("temp")
    for i in range(10):
        counter.add(i, {"route": f"/r{i % 2}"})
        hist.record(i * 1.5, {"route": "/x"})
        gauge.set(20 + i)
    reader.force_flush()
    mp.shutdown()

    assert span_exp.sent and log_exp.sent and metric_exp.sent
    gserver.wait_persisted()
    for reader_name in READERS:
        compare("traces", span_exp.sent, m.spans_from_rows(read_table(gserver, "spans", reader_name),
                                                            read_table(gserver, "span_events", reader_name),
                                                            read_table(gserver, "span_links", reader_name)))
        compare("logs", log_exp.sent, m.logs_from_rows(read_table(gserver, "logs", reader_name)))
        compare("metrics", metric_exp.sent, m.metrics_from_rows(read_table(gserver, "metrics_points", reader_name),
                                                                read_table(gserver, "metrics_hist", reader_name)))
    h = gserver.health()
    assert h["grpc"]["by_code"].get("OK", 0) >= 3
    assert h["signals"]["traces"]["accepted"] >= 8


def raw_call(target, method, body, **kw):
    with grpc.insecure_channel(target) as ch:
        fn = ch.unary_unary(method, request_serializer=None, response_deserializer=None)
        return fn.with_call(body, timeout=10, **kw)


def rpc_error(target, method, body, **kw):
    with pytest.raises(grpc.RpcError) as e:
        raw_call(target, method, body, **kw)
    return e.value


def details(err):
    """The google.rpc.Status in grpc-status-details-bin, or None."""
    for k, v in err.trailing_metadata() or ():
        if k == "grpc-status-details-bin":
            st = status_pb2.Status()
            st.ParseFromString(v)
            return st
    return None


def one_span_request(name="s", project_attr=None, trace_byte=1, span_byte=1):
    req = trace_service_pb2.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "raw"
    span = rs.scope_spans.add().spans.add(name=name, trace_id=bytes([trace_byte]) * 16, span_id=bytes([span_byte]) * 8,
                                          start_time_unix_nano=time.time_ns() - 1000,
                                          end_time_unix_nano=time.time_ns())
    if project_attr:
        span.attributes.add(key="p").value.string_value = project_attr
    return req.SerializeToString()


def test_bad_requests_get_the_status_codes_clients_act_on(tmp_path):
    s = start_grpc(tmp_path, "--grpc-max-message-bytes", "100000")
    try:
        err = rpc_error(s.grpc_target, TRACES, b"\x0a\x05\xff\xff\xff\xff\xff")
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert err.details(), "a message naming the problem"
        assert details(err).code == 3

        err = rpc_error(s.grpc_target, "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export", b"")
        assert err.code() == grpc.StatusCode.UNIMPLEMENTED
        assert "unknown method" in err.details()

        big = one_span_request(name="x" * 200_000)
        err = rpc_error(s.grpc_target, TRACES, big)
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "exceeds the limit of 100000 bytes" in err.details() and "--grpc-max-message-bytes" in err.details()
        assert not details(err).details, "too large is final: no RetryInfo, so clients do not retry it"

        # gzip: the exporter's compression; a bomb is capped by --max-decompressed-bytes like HTTP.
        resp, call = raw_call(s.grpc_target, TRACES, one_span_request("gz"), compression=grpc.Compression.Gzip)
        assert call.code() == grpc.StatusCode.OK
        assert resp == b""  # ExportTraceServiceResponse with nothing rejected

        # A partially invalid request: the good span is stored, the answer says what was rejected.
        req = trace_service_pb2.ExportTraceServiceRequest()
        ss = req.resource_spans.add().scope_spans.add()
        ss.spans.add(name="good", trace_id=b"\x02" * 16, span_id=b"\x02" * 8, start_time_unix_nano=1, end_time_unix_nano=2)
        ss.spans.add(name="bad-id", trace_id=b"\x03" * 5, span_id=b"\x03" * 8)
        resp, call = raw_call(s.grpc_target, TRACES, req.SerializeToString())
        out = trace_service_pb2.ExportTraceServiceResponse()
        out.ParseFromString(resp)
        assert call.code() == grpc.StatusCode.OK
        assert out.partial_success.rejected_spans == 1
        assert "trace_id must be 16 bytes" in out.partial_success.error_message
        h = s.health()
        assert h["grpc"]["by_code"]["INVALID_ARGUMENT"] >= 1
        assert h["grpc"]["by_code"]["UNIMPLEMENTED"] == 1
        assert h["grpc"]["by_code"]["RESOURCE_EXHAUSTED"] == 1
        assert h["signals"]["traces"]["rejected_by_reason"]
    finally:
        assert s.stop() in (0, None)


def test_memory_budget_is_retried_by_the_sdk_nothing_lost_nothing_doubled(tmp_path):
    # A 1 MiB budget, almost all of it held by an HTTP request whose announced body never comes
    # (a body of known length is reserved before it is read): every gRPC export meanwhile gets
    # RESOURCE_EXHAUSTED with RetryInfo. Once that request goes, the exporters' retries get in.
    budget = 1 << 20
    s = start_grpc(tmp_path, "--max-buffered-bytes", str(budget))
    try:
        errors = []
        exporters = []
        staller = socket.create_connection(("127.0.0.1", s.port))
        staller.sendall(f"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                        f"Content-Length: {budget - 16384}\r\n\r\n".encode())
        wait_for(lambda: s.health()["memory"]["request_bytes"] >= budget - 16384, "the stalled body reserved")

        def worker(w):
            try:
                exp = Tee(OTLPSpanExporter(endpoint=s.grpc_target, insecure=True, timeout=60), encode_spans)
                exporters.append(exp)
                tp = TracerProvider(resource=Resource({"service.name": f"load-{w}"}))
                from opentelemetry.sdk.trace.export import BatchSpanProcessor
                tp.add_span_processor(BatchSpanProcessor(exp, max_export_batch_size=200, schedule_delay_millis=50))
                tracer = tp.get_tracer("load")
                for i in range(1500):
                    with tracer.start_as_current_span(f"w{w}-{i}") as sp:
                        sp.set_attribute("payload", "p" * 300)
                assert tp.force_flush(120_000)
                tp.shutdown()
            except Exception as e:  # noqa: BLE001  (reported below, with the thread's name)
                errors.append(f"worker {w}: {e!r}")

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        refusals = wait_for(lambda: s.health()["grpc"]["by_code"].get("RESOURCE_EXHAUSTED", 0) >= 4,
                            "exports refused while the budget is held", timeout=60)
        staller.close()  # the reservation goes with the connection
        for t in threads:
            t.join(180)
        assert not errors, errors
        s.wait_persisted(timeout=60)
        h = s.health()
        refusals = h["grpc"]["by_code"].get("RESOURCE_EXHAUSTED", 0)
        sent_names = sorted(r["name"] for e in exporters for req in e.sent for r in m.records_from_request("traces", req))
        assert len(sent_names) == 4 * 1500
        rows = read_table(s, "spans", columns=["name", "span_id"])
        assert sorted(r["name"] for r in rows) == sorted(f"w{w}-{i}" for w in range(4) for i in range(1500))
        assert len({r["span_id"] for r in rows}) == len(rows), "a span stored twice"
        assert h["rejections"]["memory"] == refusals
        assert h["memory"]["request_bytes"] == 0
    finally:
        assert s.stop() in (0, None)


def test_auth_required_needs_a_key_in_metadata(tmp_path):
    subprocess.run([otlake_bin(), "init", "-D", str(tmp_path)], check=True, capture_output=True)
    token = subprocess.run([otlake_bin(), "keys", "create", "--scope", "ingest", "--project", "shop", "-D", str(tmp_path)],
                           check=True, capture_output=True, text=True).stdout.strip()
    s = start_grpc(tmp_path, "--auth", "required")
    try:
        err = rpc_error(s.grpc_target, TRACES, one_span_request("nokey"))
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED
        err = rpc_error(s.grpc_target, TRACES, one_span_request("badkey"), metadata=[("authorization", "Bearer otlk_nope")])
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED
        err = rpc_error(s.grpc_target, TRACES, one_span_request("other"),
                        metadata=[("authorization", f"Bearer {token}"), ("x-otlake-project-id", "other")])
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
        _, call = raw_call(s.grpc_target, TRACES, one_span_request("withkey"), metadata=[("authorization", f"Bearer {token}")])
        assert call.code() == grpc.StatusCode.OK
        s.wait_persisted()
        rows = read_table(s, "spans", columns=["name", "project_id"])
        assert [(r["name"], r["project_id"]) for r in rows] == [("withkey", "shop")]
        assert s.health()["auth"]["unauthenticated"] >= 2
    finally:
        assert s.stop() in (0, None)


def test_project_metadata_and_metrics_text(gserver):
    _, call = raw_call(gserver.grpc_target, TRACES, one_span_request("p1"), metadata=[("x-otlake-project-id", "team-a")])
    assert call.code() == grpc.StatusCode.OK
    rpc_error(gserver.grpc_target, LOGS, b"\xff")
    gserver.wait_persisted()
    assert [(r["name"], r["project_id"]) for r in read_table(gserver, "spans", columns=["name", "project_id"])] == \
        [("p1", "team-a")]
    import urllib.request
    text = urllib.request.urlopen(gserver.url + "/metrics", timeout=10).read().decode()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    calls = {s.labels["code"]: s.value for s in fams["otlake_grpc_calls"].samples if s.name == "otlake_grpc_calls_total"}
    assert calls["OK"] == 1 and calls["INVALID_ARGUMENT"] == 1
    assert "otlake_grpc_connections" in fams


def test_port_in_use_and_bad_flags(tmp_path, gserver):
    port = gserver.grpc_target.rsplit(":", 1)[1]
    subprocess.run([otlake_bin(), "init", "-D", str(tmp_path / "b")], check=True, capture_output=True)
    r = subprocess.run([otlake_bin(), "start", "-F", "-D", str(tmp_path / "b"), "-P", "0", "--grpc-port", "nope"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--grpc-port" in r.stderr
    subprocess.run([otlake_bin(), "init", "-D", str(tmp_path / "c")], check=True, capture_output=True)
    r = subprocess.run([otlake_bin(), "start", "-F", "-D", str(tmp_path / "c"), "-H", "127.0.0.1", "-P", "0",
                        "--grpc-port", port], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and f"cannot listen for gRPC on 127.0.0.1:{port}" in r.stderr


def test_kill9_while_grpc_clients_send_keeps_every_acknowledged_span_once(tmp_path):
    rounds = int(os.environ.get("OTLAKE_GRPC_KILL_ROUNDS", "2"))
    acked = set()
    s = None
    for rnd in range(rounds):
        s = start_grpc(tmp_path)
        stop = threading.Event()
        lock = threading.Lock()

        def sender(w):
            with grpc.insecure_channel(s.grpc_target) as ch:
                fn = ch.unary_unary(TRACES, request_serializer=None, response_deserializer=None)
                i = 0
                while not stop.is_set():
                    name = f"r{rnd}-w{w}-{i}"
                    try:
                        fn(one_span_request(name, trace_byte=rnd + 1, span_byte=w + 1), timeout=5)
                    except grpc.RpcError:
                        return  # the server died: this one was never acknowledged
                    with lock:
                        acked.add(name)
                    i += 1

        threads = [threading.Thread(target=sender, args=(w,)) for w in range(3)]
        for t in threads:
            t.start()
        wait_for(lambda: len(acked) > (rnd + 1) * 100, "spans acknowledged")
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait(30)
        stop.set()
        for t in threads:
            t.join(30)
    s = start_grpc(tmp_path)
    try:
        s.wait_persisted()
        names = [r["name"] for r in read_table(s, "spans", columns=["name"])]
        assert len(names) == len(set(names)), "a span stored twice"
        missing = acked - set(names)
        assert not missing, f"{len(missing)} acknowledged spans lost, e.g. {sorted(missing)[:3]}"
    finally:
        assert s.stop() in (0, None)


# --- TLS ---------------------------------------------------------------------------------------

def tls_call(target, d, client=None, body=None):
    creds = grpc.ssl_channel_credentials(
        root_certificates=read(os.path.join(d, "ca.pem")),
        private_key=read(os.path.join(d, f"{client}.key")) if client else None,
        certificate_chain=read(os.path.join(d, f"{client}.pem")) if client else None)
    with grpc.secure_channel(target, creds) as ch:
        fn = ch.unary_unary(TRACES, request_serializer=None, response_deserializer=None)
        return fn.with_call(body or one_span_request("tls"), timeout=10)


def test_tls_with_the_sdk_exporter_and_plaintext_refused(tmp_path, pki):
    s = start_grpc(tmp_path, "--tls-cert", f"{pki}/server.pem", "--tls-key", f"{pki}/server.key",
                   ssl_context=ssl.create_default_context(cafile=f"{pki}/ca.pem"))
    try:
        exp = OTLPSpanExporter(endpoint=s.grpc_target, credentials=grpc.ssl_channel_credentials(read(f"{pki}/ca.pem")))
        tp = TracerProvider(resource=RESOURCE)
        tp.add_span_processor(SimpleSpanProcessor(exp))
        with tp.get_tracer("tls").start_as_current_span("over-tls"):
            pass
        tp.shutdown()
        with pytest.raises(grpc.RpcError) as e:
            raw_call(s.grpc_target, TRACES, one_span_request("plaintext"))
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE
        s.wait_persisted()
        assert [r["name"] for r in read_table(s, "spans", columns=["name"])] == ["over-tls"]
    finally:
        assert s.stop() in (0, None)


def test_mutual_tls_requires_a_client_certificate_from_the_ca(tmp_path, pki):
    s = start_grpc(tmp_path, "--tls-cert", f"{pki}/server.pem", "--tls-key", f"{pki}/server.key",
                   "--tls-client-ca", f"{pki}/ca.pem")
    try:
        _, call = tls_call(s.grpc_target, pki, client="client")
        assert call.code() == grpc.StatusCode.OK
        for client in (None, "stranger"):
            with pytest.raises(grpc.RpcError) as e:
                tls_call(s.grpc_target, pki, client=client)
            assert e.value.code() == grpc.StatusCode.UNAVAILABLE, client
    finally:
        assert s.stop() in (0, None)


def test_bad_certificate_files_are_refused_at_start_naming_the_path(tmp_path, pki):
    subprocess.run([otlake_bin(), "init", "-D", str(tmp_path)], check=True, capture_output=True)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cases = [
        (["--tls-cert", f"{pki}/missing.pem", "--tls-key", f"{pki}/server.key"], f"{pki}/missing.pem"),
        (["--tls-cert", str(garbage), "--tls-key", f"{pki}/server.key"], str(garbage)),
        (["--tls-cert", f"{pki}/server.pem", "--tls-key", f"{pki}/client.key"], f"{pki}/client.key"),
        (["--tls-cert", f"{pki}/server.pem"], "--tls-key"),
        (["--tls-cert", f"{pki}/server.pem", "--tls-key", f"{pki}/server.key", "--tls-client-ca", str(garbage)],
         str(garbage)),
    ]
    for args, named in cases:
        r = subprocess.run([otlake_bin(), "start", "-F", "-D", str(tmp_path), "-H", "127.0.0.1", "-P", "0",
                            "--grpc-port", "any", *args], capture_output=True, text=True, timeout=30)
        assert r.returncode == 1, (args, r.stderr)
        assert named in r.stderr, (args, r.stderr)
        assert "BEGIN" not in r.stderr  # no key material echoed


def test_sighup_reloads_the_certificate_without_dropping_connections(tmp_path, pki):
    import shutil
    cert, key = str(tmp_path / "live.pem"), str(tmp_path / "live.key")
    shutil.copy(f"{pki}/server.pem", cert)
    shutil.copy(f"{pki}/server.key", key)
    s = start_grpc(tmp_path, "--tls-cert", cert, "--tls-key", key,
                   ssl_context=ssl.create_default_context(cafile=f"{pki}/ca.pem"))
    try:
        host, port = s.grpc_target.rsplit(":", 1)

        def served_cert():
            return ssl.get_server_certificate((host, int(port)))

        assert served_cert().strip() == read(f"{pki}/server.pem").decode().strip()
        creds = grpc.ssl_channel_credentials(read(f"{pki}/ca.pem"))
        with grpc.secure_channel(s.grpc_target, creds) as ch:  # one connection, kept open
            fn = ch.unary_unary(TRACES, request_serializer=None, response_deserializer=None)
            fn(one_span_request("before"), timeout=10)
            shutil.copy(f"{pki}/server2.pem", cert)
            shutil.copy(f"{pki}/server2.key", key)
            s.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: served_cert().strip() == read(f"{pki}/server2.pem").decode().strip(),
                     "the new certificate served")
            fn(one_span_request("after"), timeout=10)  # the old connection still works
        # A broken file on reload keeps the current certificate and the server.
        with open(cert, "w") as f:
            f.write("garbage")
        s.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "TLS reload failed" in s.read_log(), "the failed reload logged")
        assert served_cert().strip() == read(f"{pki}/server2.pem").decode().strip()
        s.wait_persisted()
        assert sorted(r["name"] for r in read_table(s, "spans", columns=["name"])) == ["after", "before"]
    finally:
        assert s.stop() in (0, None)


# --- a stalled large message does not hold up other calls ---------------------------------------

class RawH2:
    """A minimal HTTP/2 client on a socket: enough to open gRPC streams and send a message in
    pieces (HPACK literal fields without indexing, no flow control of its own beyond the 64 KiB
    initial window, which the pieces stay within)."""

    def __init__(self, target):
        host, port = target.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + self.frame(4, 0, 0, b""))
        self.buf = b""

    @staticmethod
    def frame(ftype, flags, stream, payload):
        return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + stream.to_bytes(4, "big") + payload

    @staticmethod
    def literal(name, value):
        assert len(name) < 127 and len(value) < 127
        return b"\x00" + bytes([len(name)]) + name.encode() + bytes([len(value)]) + value.encode()

    def open(self, stream, method):
        block = b"".join(self.literal(k, v) for k, v in [
            (":method", "POST"), (":scheme", "http"), (":path", method), (":authority", "otlake"),
            ("content-type", "application/grpc"), ("te", "trailers")])
        self.sock.sendall(self.frame(1, 0x4, stream, block))  # HEADERS, END_HEADERS

    def data(self, stream, payload, end=False):
        """DATA frames of at most the default 16 KiB frame size; END_STREAM on the last if `end`."""
        pieces = [payload[i:i + 16384] for i in range(0, len(payload), 16384)] or [b""]
        for i, p in enumerate(pieces):
            self.sock.sendall(self.frame(0, 0x1 if end and i == len(pieces) - 1 else 0, stream, p))

    def wait_end_of(self, stream):
        """Reads frames until `stream` ends (a frame with END_STREAM for it); answers SETTINGS and
        PINGs. Returns the stream ids that ended meanwhile, in order."""
        ended = []
        while stream not in ended:
            while len(self.buf) < 9 or len(self.buf) < 9 + int.from_bytes(self.buf[:3], "big"):
                chunk = self.sock.recv(65536)
                assert chunk, "connection closed"
                self.buf += chunk
            n = int.from_bytes(self.buf[:3], "big")
            ftype, flags, sid = self.buf[3], self.buf[4], int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
            payload, self.buf = self.buf[9:9 + n], self.buf[9 + n:]
            if ftype == 4 and not flags & 0x1:
                self.sock.sendall(self.frame(4, 0x1, 0, b""))  # SETTINGS ACK
            elif ftype == 6 and not flags & 0x1:
                self.sock.sendall(self.frame(6, 0x1, 0, payload))  # PING ACK
            elif ftype in (0, 1) and flags & 0x1:
                ended.append(sid)
        return ended


def test_a_stalled_large_message_does_not_hold_up_other_streams_or_connections(gserver):
    big = 8 << 20  # announced; only its first 32 KiB ever arrive
    c = RawH2(gserver.grpc_target)
    c.open(1, TRACES)
    c.data(1, b"\x00" + big.to_bytes(4, "big") + b"\x0a" * (32 << 10))
    small = one_span_request("beside-the-stalled-one")
    c.open(3, TRACES)
    c.data(3, b"\x00" + len(small).to_bytes(4, "big") + small, end=True)
    assert c.wait_end_of(3) == [3]  # answered while stream 1 waits for the rest of its message
    _, call = raw_call(gserver.grpc_target, TRACES, one_span_request("other-connection"))
    assert call.code() == grpc.StatusCode.OK
    assert gserver.health()["memory"]["request_bytes"] >= big  # stream 1's message: reserved, still being read
    c.sock.close()
    wait_for(lambda: gserver.health()["memory"]["request_bytes"] == 0, "the stalled message's reservation freed")
    gserver.wait_persisted()
    names = sorted(r["name"] for r in read_table(gserver, "spans", columns=["name"]))
    assert names == ["beside-the-stalled-one", "other-connection"]
