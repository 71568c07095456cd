#!/usr/bin/env python3
"""Writes test/fuzz/grpc_session_corpus/: the bytes real gRPC clients (grpcio, the library under
the OpenTelemetry Python exporters) send on one connection after the HTTP/2 preface, captured by a
socket that answers only the server's SETTINGS. Each file starts with the fuzz target's read-split
byte. Run from the repository root with the project's venv: .venv/bin/python test/fuzz/make_grpc_corpus.py
"""
import os
import socket
import threading
import time

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
SETTINGS_ACK = b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grpc_session_corpus")


def capture(calls):
    """Runs `calls(channel)` against a socket that records what the client sends."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    got = bytearray()

    def serve():
        conn, _ = srv.accept()
        conn.sendall(SETTINGS)
        conn.settimeout(0.2)
        acked = False
        end = time.time() + 1.5
        while time.time() < end:
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            got.extend(chunk)
            if not acked and len(got) > len(PREFACE):
                conn.sendall(SETTINGS_ACK)
                acked = True
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{srv.getsockname()[1]}")
    try:
        calls(channel)
    finally:
        t.join()
        channel.close()
        srv.close()
    assert got.startswith(PREFACE), got[:30]
    return bytes(got[len(PREFACE):])


def unary(channel, method, body, **kw):
    fn = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    try:
        fn(body, timeout=1, **kw)
    except grpc.RpcError:
        pass  # the capturing socket never answers


def trace_request(n=3):
    spans = [trace_pb2.Span(trace_id=bytes([i + 1]) * 16, span_id=bytes([i + 1]) * 8, name=f"span-{i}",
                            start_time_unix_nano=1_700_000_000_000_000_000 + i,
                            end_time_unix_nano=1_700_000_000_000_100_000 + i,
                            attributes=[common_pb2.KeyValue(key="k", value=common_pb2.AnyValue(int_value=i))])
             for i in range(n)]
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        scope_spans=[trace_pb2.ScopeSpans(spans=spans)])]).SerializeToString()


def logs_request():
    rec = logs_pb2.LogRecord(time_unix_nano=1_700_000_000_000_000_000, body=common_pb2.AnyValue(string_value="hello"))
    return logs_service_pb2.ExportLogsServiceRequest(resource_logs=[logs_pb2.ResourceLogs(
        scope_logs=[logs_pb2.ScopeLogs(log_records=[rec])])]).SerializeToString()


TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
LOGS = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
METRICS = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"

CASES = {
    "traces": lambda ch: unary(ch, TRACES, trace_request()),
    "traces_gzip": lambda ch: unary(ch, TRACES, trace_request(50), compression=grpc.Compression.Gzip),
    "traces_project": lambda ch: unary(ch, TRACES, trace_request(), metadata=[("x-otlake-project-id", "shop"),
                                                                              ("authorization", "Bearer otlk_x")]),
    "logs": lambda ch: unary(ch, LOGS, logs_request()),
    "metrics_empty": lambda ch: unary(ch, METRICS, b""),
    "unknown_method": lambda ch: unary(ch, "/foo.Bar/Baz", b"x"),
    "three_calls": lambda ch: [unary(ch, TRACES, trace_request(1)), unary(ch, LOGS, logs_request()),
                               unary(ch, TRACES, trace_request(2))],
}

if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, calls in CASES.items():
        data = capture(calls)
        for split in (0, 5):
            with open(os.path.join(OUT, f"{name}_{split + 1}"), "wb") as f:
                f.write(bytes([split]) + data)
        print(name, len(data))
