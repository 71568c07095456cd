"""The real OpenTelemetry Python SDK exports traces, logs and metrics over OTLP/HTTP protobuf to the
real otlake binary; three independent Delta readers (deltalake, polars, DuckDB delta_scan) must
then return every field of every record exactly as the SDK encoded it.

Each exporter is wrapped to keep the exact ExportXServiceRequest it sent (the SDK's own encoder),
so the comparison is sent-bytes -> lake -> OTLP, with nothing hand-copied.
"""
import math
import time

import pytest
import requests
from opentelemetry import trace as trace_api
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from conftest import READERS, read_table
import otlp_model as m

RESOURCE = Resource(
    {"service.name": "checkout", "service.version": "1.4.2", "service.namespace": "shop",
     "service.instance.id": "pod-7f9c", "deployment.environment.name": "prod", "host.name": "node-3",
     "k8s.pod.uid": "0f3c", "process.pid": 4242, "cpu.weight": 0.75, "feature.flags": ["a", "b"]},
    schema_url="https://opentelemetry.io/schemas/1.26.0")


class TeeSpanExporter(OTLPSpanExporter):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.sent = []

    def export(self, spans):
        self.sent.append(encode_spans(spans))
        result = super().export(spans)
        assert result.name == "SUCCESS", result
        return result


class TeeLogExporter(OTLPLogExporter):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.sent = []

    def export(self, batch):
        self.sent.append(encode_logs(batch))
        result = super().export(batch)
        assert result.name == "SUCCESS", result
        return result


class TeeMetricExporter(OTLPMetricExporter):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.sent = []

    def export(self, metrics_data, timeout_millis=10_000, **kw):
        self.sent.append(encode_metrics(metrics_data))
        result = super().export(metrics_data, timeout_millis=timeout_millis, **kw)
        assert result.name == "SUCCESS", result
        return result


def compare(signal, sent_requests, lake_records):
    sent = []
    for req in sent_requests:
        sent.extend(m.records_from_request(signal, req))
    sent = m.canonical(signal, sent)
    got = m.canonical(signal, lake_records)
    assert len(got) == len(sent), (len(got), len(sent))
    for s, g in zip(sent, got):
        assert g == s


def lake_records(server, signal, reader):
    if signal == "traces":
        return m.spans_from_rows(read_table(server, "spans", reader), read_table(server, "span_events", reader),
                                 read_table(server, "span_links", reader))
    if signal == "logs":
        return m.logs_from_rows(read_table(server, "logs", reader))
    return m.metrics_from_rows(read_table(server, "metrics_points", reader), read_table(server, "metrics_hist", reader))


def test_sdk_traces_round_trip_every_field(server):
    exporter = TeeSpanExporter(endpoint=server.url + "/v1/traces", compression=Compression.Gzip)
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("shop.cart", "0.9.1", schema_url="https://opentelemetry.io/schemas/1.24.0",
                                 attributes={"scope.flag": True, "scope.level": 3})
    remote = SpanContext(trace_id=0x5B8EFFF798038103D269B633813FC60C, span_id=0xEEE19B7EC3C1B174, is_remote=True,
                         trace_flags=TraceFlags(TraceFlags.SAMPLED),
                         trace_state=TraceState([("vendor", "abc"), ("rojo", "00f067aa0ba902b7")]))
    parent_ctx = trace_api.set_span_in_context(trace_api.NonRecordingSpan(remote))
    linked = SpanContext(trace_id=0x0AF7651916CD43DD8448EB211C80319C, span_id=0xB7AD6B7169203331, is_remote=True,
                         trace_flags=TraceFlags(0), trace_state=TraceState([("k", "v")]))
    kinds = [SpanKind.SERVER, SpanKind.CLIENT, SpanKind.INTERNAL, SpanKind.PRODUCER, SpanKind.CONSUMER]
    for i, kind in enumerate(kinds):
        with tracer.start_as_current_span(
                f"GET /cart/{i}", context=parent_ctx, kind=kind,
                links=[Link(linked, {"link.reason": "retry", "attempt": i})],
                attributes={"http.route": "/cart/{id}", "http.status_code": 200 + i, "ratio": 0.5 + i,
                            "cached": i % 2 == 0, "tags": ["x", "y"], "ids": [1, 2, 3], "weights": [0.5, 1.0],
                            "flags": [True, False], "name": "attribute-named-name", "trace.id": "not-the-id",
                            "service.name": "span-level-service", "unicode": "naïve ☃ 日本",
                            "empty": ""}) as span:
            span.add_event("cache.miss", {"key": "cart:42", "size": 17})
            span.add_event("retry", {"delay_ms": 12.5}, timestamp=time.time_ns() - 1000)
            with tracer.start_as_current_span("SELECT carts", kind=SpanKind.CLIENT) as child:
                child.set_attribute("db.system", "postgresql")
            if i == 1:
                span.set_status(Status(StatusCode.ERROR, "payment declined"))
            elif i == 2:
                span.set_status(Status(StatusCode.OK))
    provider.shutdown()
    assert exporter.sent
    server.wait_persisted()
    for reader in READERS:
        compare("traces", exporter.sent, lake_records(server, "traces", reader))
    # Promoted columns are copies, attributes never overwrite real columns (Depths' bug).
    rows = read_table(server, "spans")
    roots = [r for r in rows if r["name"].startswith("GET /cart/")]
    assert len(roots) == 5
    for r in roots:
        assert r["service_name"] == "checkout"
        assert r["service_version"] == "1.4.2"
        assert r["deployment_env"] == "prod"
        assert r["trace_id"] == "5b8efff798038103d269b633813fc60c"
        assert r["parent_span_id"] == "eee19b7ec3c1b174"
        assert r["trace_state"] == "vendor=abc,rojo=00f067aa0ba902b7"
        assert r["duration_ms"] == pytest.approx((r["end_time_unix_nano"] - r["start_time_unix_nano"]) / 1e6)
        assert r["event_ts"] == r["start_time_unix_nano"] // 1_000_000
    assert sorted(r["kind"] for r in roots) == ["CLIENT", "CONSUMER", "INTERNAL", "PRODUCER", "SERVER"]
    assert sorted(r["status_code"] for r in roots) == ["ERROR", "OK", "UNSET", "UNSET", "UNSET"]


def test_sdk_logs_round_trip_string_and_map_bodies(server):
    exporter = TeeLogExporter(endpoint=server.url + "/v1/logs")
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("app.logging", "2.0.0", schema_url="https://opentelemetry.io/schemas/1.26.0",
                                 attributes={"scope.kind": "logging"})
    now = time.time_ns()
    bodies = ["plain text message", {"event": "checkout", "amount": 12.5, "items": [1, 2, {"sku": "A-1"}],
                                     "ok": True, "count": 3}, 42, 3.25, True, ["a", 1, 2.5], b"\x00\xffraw"]
    for i, body in enumerate(bodies):
        logger.emit(LogRecord(timestamp=now + i, observed_timestamp=now + 1000 + i,
                              trace_id=0x5B8EFFF798038103D269B633813FC60C, span_id=0xEEE19B7EC3C1B174,
                              trace_flags=TraceFlags(TraceFlags.SAMPLED), severity_text="WARN",
                              severity_number=SeverityNumber.WARN, body=body,
                              attributes={"user.id": "u-17", "retry": i, "body": "attr-named-body"},
                              event_name="checkout.done" if i == 1 else None))
    # A record with no body, no time and no severity.
    logger.emit(LogRecord(observed_timestamp=now, attributes={"k": "v"}))
    provider.shutdown()
    server.wait_persisted()
    for reader in READERS:
        compare("logs", exporter.sent, lake_records(server, "logs", reader))
    rows = read_table(server, "logs")
    assert {r["body_type"] for r in rows} == {"string", "kvlist", "int", "double", "bool", "array", "bytes", "empty"}
    assert {r["user_id"] for r in rows} == {"u-17", ""}
    assert [r["body"] for r in rows if r["body_type"] == "string"] == ["plain text message"]


def test_sdk_metrics_round_trip_all_point_kinds(server):
    exporter = TeeMetricExporter(endpoint=server.url + "/v1/metrics")
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader],
                             views=[View(instrument_name="latency.exp",
                                         aggregation=ExponentialBucketHistogramAggregation(max_size=40))])
    meter = provider.get_meter("shop.metrics", "1.0.0", schema_url="https://opentelemetry.io/schemas/1.26.0")
    counter = meter.create_counter("requests", unit="1", description="requests served")
    updown = meter.create_up_down_counter("queue.depth", unit="{item}")
    gauge = meter.create_gauge("temperature", unit="Cel", description="room temperature")
    hist = meter.create_histogram("latency", unit="ms", description="request latency")
    exp = meter.create_histogram("latency.exp", unit="ms")
    meter.create_observable_gauge("memory.used", callbacks=[lambda options: [
        __import__("opentelemetry.metrics", fromlist=["Observation"]).Observation(1024, {"pool": "heap"})]])
    tracer_provider = TracerProvider(resource=RESOURCE)
    tracer = tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("exemplar-span"):  # sampled: exemplars carry its ids
        for i in range(20):
            attrs = {"route": f"/r{i % 3}", "ok": i % 4 != 0}
            counter.add(i + 1, attrs)
            updown.add(i - 10, attrs)
            gauge.set(20.5 + i / 10, {"room": "a"})
            hist.record(i * 3.7, attrs)
            exp.record(0.001 * (i + 1) ** 3, {"route": "/x"})
            exp.record(-2.5, {"route": "/neg"})
    reader.force_flush()
    provider.shutdown()
    # Summaries: the SDK does not produce them; send one with the official protobuf classes.
    req = metrics_service_pb2.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.add(key="service.name").value.string_value = "legacy-app"
    sm = rm.scope_metrics.add()
    sm.scope.name = "prometheus"
    metric = sm.metrics.add(name="rpc.duration", unit="s", description="summary metric")
    p = metric.summary.data_points.add(start_time_unix_nano=1, time_unix_nano=time.time_ns(), count=10, sum=4.5)
    p.attributes.add(key="method").value.string_value = "Get"
    p.quantile_values.add(quantile=0.5, value=0.3)
    p.quantile_values.add(quantile=0.99, value=1.25)
    metric2 = sm.metrics.add(name="empty.gauge")
    metric2.gauge.data_points.add(time_unix_nano=time.time_ns())  # a point with no value at all
    r = requests.post(server.url + "/v1/metrics", data=req.SerializeToString(),
                      headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 200, r.text
    server.wait_persisted()
    sent = exporter.sent + [req]
    for reader_name in READERS:
        compare("metrics", sent, lake_records(server, "metrics", reader_name))
    kinds = {r["instrument_type"] for r in read_table(server, "metrics_hist")}
    assert kinds == {"Histogram", "ExpHistogram", "Summary"}
    points = read_table(server, "metrics_points")
    assert {r["instrument_type"] for r in points} == {"Gauge", "Sum"}
    temps = {r["aggregation_temporality"] for r in points if r["instrument_name"] == "requests"}
    assert temps == {"CUMULATIVE"}
    assert any(r["exemplars_json"] != "[]" for r in points), "the SDK attached exemplars inside a sampled span"
