"""Bad input gets the right status and a message naming the problem, changes nothing stored, and
the server keeps serving on the same keep-alive connection."""
import gzip
import http.client
import json
import zlib

import pytest
import zstandard
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from conftest import Server, read_table

TRACE_ID = "5b8efff798038103d269b633813fc60c"


def span_json(span_id="eee19b7ec3c1b174", trace_id=TRACE_ID, name="ok-span", attrs=None):
    return {"traceId": trace_id, "spanId": span_id, "name": name, "kind": 2,
            "startTimeUnixNano": "1544712660000000000", "endTimeUnixNano": "1544712661000000000",
            "attributes": attrs or []}


def traces_json(*spans, service="svc"):
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "lib"}, "spans": list(spans)}]}]}).encode()


def valid_proto(name="proto-span"):
    req = trace_service_pb2.ExportTraceServiceRequest()
    s = req.resource_spans.add().scope_spans.add().spans.add()
    s.trace_id = bytes.fromhex(TRACE_ID)
    s.span_id = bytes.fromhex("00000000000000aa")
    s.name = name
    s.start_time_unix_nano = 1544712660000000000
    s.end_time_unix_nano = 1544712661000000000
    return req.SerializeToString()


class Conn:
    """One keep-alive connection; every call checks the socket was not replaced."""

    def __init__(self, server):
        self.c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self.c.connect()
        self.local = self.c.sock.getsockname()

    def post(self, path, body, ctype="application/json", encoding=None, method="POST"):
        headers = {"Content-Type": ctype} if ctype else {}
        if encoding:
            headers["Content-Encoding"] = encoding
        self.c.request(method, path, body=body, headers=headers)
        r = self.c.getresponse()
        data = r.read()
        assert self.c.sock is not None and self.c.sock.getsockname() == self.local, "connection was closed"
        return r.status, dict(r.getheaders()), data

    def assert_alive(self):
        status, _, body = self.post("/v1/traces", traces_json(span_json(span_id="ffffffffffffff01", name="probe")))
        assert status == 200, body


def json_error(status, body, expected_status, *needles):
    assert status == expected_status, body
    doc = json.loads(body)
    assert isinstance(doc.get("code"), int) and doc["code"] != 0
    for n in needles:
        assert n.lower() in doc["message"].lower(), (n, doc["message"])
    return doc["message"]


CASES = [
    # name, path, body, content type, encoding, status, words the message must contain
    ("invalid json", "/v1/traces", b'{"resourceSpans": [', "application/json", None, 400, ["json"]),
    ("wrong json type", "/v1/traces", b'{"resourceSpans": 5}', "application/json", None, 400, ["resourceSpans"]),
    ("wrong field type", "/v1/traces", traces_json(dict(span_json(), name=123)), "application/json", None, 400,
     ["name"]),
    ("top-level array", "/v1/logs", b"[]", "application/json", None, 400, ["object"]),
    ("string times garbage", "/v1/traces", traces_json(dict(span_json(), startTimeUnixNano="soon")),
     "application/json", None, 400, ["startTimeUnixNano"]),
    ("bad gzip", "/v1/traces", b"definitely not gzip", "application/json", "gzip", 400, ["gzip"]),
    ("bad zstd", "/v1/traces", b"definitely not zstd", "application/json", "zstd", 400, ["zstd"]),
    ("unsupported encoding", "/v1/traces", b"{}", "application/json", "br", 415, ["br"]),
    ("unsupported content type", "/v1/traces", b"{}", "text/plain", None, 415, ["content-type"]),
    ("missing content type", "/v1/traces", b"{}", None, None, 415, ["content-type"]),
    ("invalid utf-8 in json", "/v1/traces", traces_json(span_json(name="NAME")).replace(b"NAME", b"\xff\xfe"),
     "application/json", None, 400, ["utf-8"]),
    ("deep nesting json", "/v1/logs",
     (b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":' + b'{"arrayValue":{"values":[' * 5000 +
      b"]}}" * 5000 + b"}]}]}]}"), "application/json", None, 400, ["nest"]),
    ("unknown route", "/v1/nope", b"{}", "application/json", None, 404, ["/v1/nope"]),
    ("wrong method", "/v1/traces", None, "application/json", None, 405, ["GET"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_request_gets_clear_error_and_keeps_connection(server, case):
    name, path, body, ctype, enc, want, needles = case
    conn = Conn(server)
    status, headers, data = conn.post(path, body, ctype, enc, method="GET" if name == "wrong method" else "POST")
    json_error(status, data, want, *needles)
    conn.assert_alive()
    server.wait_persisted()
    # Only the probe spans are stored.
    assert {r["name"] for r in read_table(server, "spans")} == {"probe"}


def test_protobuf_errors_are_google_rpc_status(server):
    conn = Conn(server)
    body = valid_proto()
    for bad in (body[: len(body) // 2], b"\xff" * 64, b"\x0a\xff\xff\xff\xff\x0f"):
        status, headers, data = conn.post("/v1/traces", bad, "application/x-protobuf")
        assert status == 400
        assert headers["Content-Type"] == "application/x-protobuf"
        st = status_pb2.Status.FromString(data)
        assert st.code == 3 and "protobuf" in st.message.lower(), st.message
    # Invalid UTF-8 in a protobuf string field.
    bad_name = valid_proto(name="NAMEX").replace(b"NAMEX", b"\xc3\x28abc")
    status, _, data = conn.post("/v1/traces", bad_name, "application/x-protobuf")
    assert status == 400 and "utf-8" in status_pb2.Status.FromString(data).message.lower()
    # Deeply nested AnyValue in protobuf.
    inner = b""
    for _ in range(3000):
        arr = b"\x0a" + _varint(len(inner)) + inner if inner else b""  # ArrayValue.values
        inner = b"\x2a" + _varint(len(arr)) + arr  # AnyValue.array_value
    kv = b"\x0a\x01k\x12" + _varint(len(inner)) + inner
    req = trace_service_pb2.ExportTraceServiceRequest.FromString(valid_proto())
    span_bytes = req.resource_spans[0].scope_spans[0].spans[0].SerializeToString() + b"\x4a" + _varint(len(kv)) + kv
    ss = b"\x12" + _varint(len(span_bytes)) + span_bytes
    rs = b"\x12" + _varint(len(ss)) + ss
    deep = b"\x0a" + _varint(len(rs)) + rs
    status, _, data = conn.post("/v1/traces", deep, "application/x-protobuf")
    assert status == 400 and "nest" in status_pb2.Status.FromString(data).message.lower()
    conn.assert_alive()
    status, headers, data = conn.post("/v1/traces", valid_proto(), "application/x-protobuf")
    assert status == 200 and data == b""
    server.wait_persisted()
    assert sorted(r["name"] for r in read_table(server, "spans")) == ["probe", "proto-span"]


def _varint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def test_wrong_length_ids_reject_only_that_record(server):
    conn = Conn(server)
    body = traces_json(span_json(span_id="eee19b7ec3c1b174", name="good"),
                       span_json(span_id="eee19b7e", name="short-span-id"),
                       span_json(trace_id="abcd", span_id="eee19b7ec3c1b175", name="short-trace-id"))
    status, headers, data = conn.post("/v1/traces", body)
    assert status == 200
    doc = json.loads(data)
    assert doc["partialSuccess"]["rejectedSpans"] in (2, "2")
    msg = doc["partialSuccess"]["errorMessage"].lower()
    assert "span_id" in msg and "trace_id" in msg
    server.wait_persisted()
    assert [r["name"] for r in read_table(server, "spans")] == ["good"]
    h = server.health()
    assert h["signals"]["traces"]["rejected"] == 2
    assert sum(h["signals"]["traces"]["rejected_by_reason"].values()) == 2


def test_empty_requests_are_accepted(server):
    conn = Conn(server)
    for ctype in ("application/json", "application/x-protobuf"):
        for path in ("/v1/traces", "/v1/logs", "/v1/metrics"):
            status, _, data = conn.post(path, b"", ctype)
            assert status == 200, data
    status, _, data = conn.post("/v1/traces", b"{}")
    assert status == 200 and json.loads(data) == {}


def test_huge_attribute_value_is_stored_exactly(server):
    big = "x" * (1 << 20) + "☃"
    conn = Conn(server)
    status, _, data = conn.post("/v1/traces", traces_json(
        span_json(name="big", attrs=[{"key": "blob", "value": {"stringValue": big}}])))
    assert status == 200, data
    server.wait_persisted()
    rows = read_table(server, "spans")
    assert dict(rows[0]["span_attrs"])["blob"] == big and rows[0]["span_attrs_types"] == "s"


def test_all_content_encodings_are_accepted(server):
    conn = Conn(server)
    for i, (enc, fn) in enumerate([("gzip", gzip.compress), ("deflate", zlib.compress),
                                   ("zstd", lambda b: zstandard.ZstdCompressor().compress(b)),
                                   ("identity", lambda b: b)]):
        body = traces_json(span_json(span_id=f"{i + 1:016x}", name=enc))
        status, _, data = conn.post("/v1/traces", fn(body), encoding=enc)
        assert status == 200, (enc, data)
    server.wait_persisted()
    assert sorted(r["name"] for r in read_table(server, "spans")) == ["deflate", "gzip", "identity", "zstd"]


@pytest.fixture
def small_server(tmp_path):
    s = Server(tmp_path, extra_args=["--max-body-bytes", "100000", "--max-decompressed-bytes", "1000000"]).start()
    yield s
    assert s.stop() == 0


def test_body_over_limit_is_413_and_connection_survives(small_server):
    conn = Conn(small_server)
    body = traces_json(span_json(name="y" * 200_000))
    status, _, data = conn.post("/v1/traces", body)
    json_error(status, data, 413, "limit")
    conn.assert_alive()


def test_gzip_bomb_is_413_not_oom(small_server):
    conn = Conn(small_server)
    # Small on the wire (under the 100 kB body limit), 50 MiB once inflated (over the 1 MB limit).
    bomb = gzip.compress(b" " * (50 << 20), compresslevel=9)  # 50 MiB of spaces -> ~50 KiB
    assert len(bomb) < 100_000
    status, _, data = conn.post("/v1/traces", bomb, encoding="gzip")
    json_error(status, data, 413, "decompressed")
    zbomb = zstandard.ZstdCompressor(level=19).compress(b" " * (50 << 20))
    status, _, data = conn.post("/v1/traces", zbomb, encoding="zstd")
    json_error(status, data, 413, "decompressed")
    conn.assert_alive()
    small_server.wait_persisted()
    assert {r["name"] for r in read_table(small_server, "spans")} == {"probe"}


def test_invalid_project_id_is_400(server):
    conn = Conn(server)
    conn.c.request("POST", "/v1/traces", body=traces_json(span_json()),
                   headers={"Content-Type": "application/json", "x-otlake-project-id": "../etc"})
    r = conn.c.getresponse()
    json_error(r.status, r.read(), 400, "project")
    conn.c.request("POST", "/v1/traces?project_id=team-a", body=traces_json(span_json(name="qp")),
                   headers={"Content-Type": "application/json"})
    r = conn.c.getresponse()
    assert r.status == 200, r.read()
    r.read()
    conn.c.request("POST", "/v1/traces", body=traces_json(span_json(span_id="1111111111111111", name="hdr")),
                   headers={"Content-Type": "application/json", "x-depths-project-id": "team-b"})
    r = conn.c.getresponse()
    assert r.status == 200
    r.read()
    server.wait_persisted()
    assert sorted((r["project_id"], r["name"]) for r in read_table(server, "spans")) == [
        ("team-a", "qp"), ("team-b", "hdr")]
