"""Memory is bounded by --max-buffered-bytes: open batches *and* request bodies being read,
decompressed and logged count against it. A body that does not fit gets 429 + Retry-After before
it is kept (the keep-alive connection survives), every refusal is counted by reason in /healthz,
and nothing acknowledged is lost.

The server runs with a 4 MiB budget. One client holds a 3.5 MiB body half-sent on a raw socket, so
the budget is deterministically full while the others send."""
import collections
import gzip
import http.client
import json
import socket
import threading
import time

from conftest import Server, read_table, wait_for
from test_bad_input import span_json, traces_json

BUDGET = 4 << 20


def big_body(tag, approx_bytes):
    """An OTLP/JSON traces request of about `approx_bytes`, spans with ids derived from `tag`."""
    pad = "x" * 900
    spans, ids = [], []
    n = max(1, approx_bytes // 1100)
    for k in range(n):
        sid = f"{tag:08x}{k:08x}"
        ids.append(sid)
        spans.append(span_json(span_id=sid, trace_id=f"{tag:016x}{k:016x}", name="budget",
                               attrs=[{"key": "pad", "value": {"stringValue": pad}}]))
    return ids, traces_json(*spans)



class HeldBody:
    """A POST whose headers and first half of the body are sent; the rest on finish()."""

    def __init__(self, server, body):
        self.body = body
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        head = (f"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.sock.sendall(head + body[: len(body) // 2])

    def finish(self):
        self.sock.sendall(self.body[len(self.body) // 2:])
        f = self.sock.makefile("rb")
        status = int(f.readline().split()[1])
        headers = {}
        for line in iter(f.readline, b"\r\n"):
            k, v = line.decode().split(":", 1)
            headers[k.strip().lower()] = v.strip()
        f.read(int(headers.get("content-length", "0")))
        self.sock.close()
        return status


def post(conn, body, encoding=None):
    headers = {"Content-Type": "application/json"}
    if encoding:
        headers["Content-Encoding"] = encoding
    conn.request("POST", "/v1/traces", body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    return r.status, dict(r.getheaders()), data


def test_bodies_count_against_the_memory_budget(tmp_path):
    server = Server(tmp_path, extra_args=["--max-buffered-bytes", str(BUDGET)]).start()
    try:
        acked = set()
        statuses = collections.Counter()
        lock = threading.Lock()

        held_ids, held = big_body(1, 3500 << 10)
        hb = HeldBody(server, held)
        wait_for(lambda: server.health()["memory"]["request_bytes"] >= len(held), "the held body's reservation")

        # 1. Bodies that do not fit next to it: 429 + Retry-After, on connections that stay open.
        pending = []  # (ids, body, encoding) refused, sent again below
        def client(worker):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            for n in range(3):
                ids, body = big_body(100 + worker * 10 + n, 700 << 10)
                enc = None
                if n == 2:  # one gzip body per client: its decompressed size is what counts
                    enc, body = "gzip", gzip.compress(body)
                status, headers, data = post(conn, body, enc)
                with lock:
                    statuses[status] += 1
                    if status == 200:
                        acked.update(ids)
                    else:
                        assert status == 429, (status, data[:200])
                        assert headers.get("Retry-After") == "1"
                        assert b"memory budget is full" in data, data[:200]
                        pending.append((ids, body, enc))
            conn.close()
        threads = [threading.Thread(target=client, args=(w,)) for w in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses[429] == 18, statuses  # 3.5 MiB held + 0.7 MiB never fits in 4 MiB

        # 2. A chunked body (no Content-Length) is refused as it grows past the budget.
        chunk_ids, chunk_body = big_body(900, 1200 << 10)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("POST", "/v1/traces", body=iter([chunk_body[i:i + 65536] for i in range(0, len(chunk_body), 65536)]),
                     headers={"Content-Type": "application/json"}, encode_chunked=True)
        r = conn.getresponse()
        r.read()
        assert r.status == 429 and r.getheader("Retry-After") == "1"
        pending.append((chunk_ids, chunk_body, None))

        # 3. Expect: 100-continue: refused before the body is sent; the connection closes.
        s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Expect: 100-continue\r\nContent-Length: 1000000\r\n\r\n")
        answer = s.makefile("rb").read()  # until the server closes
        s.close()
        assert answer.startswith(b"HTTP/1.1 429"), answer[:100]
        assert b"Retry-After: 1" in answer and b"Connection: close" in answer

        h = server.health()
        assert h["rejections"]["memory"] == 20, h["rejections"]
        assert h["http"]["429"] == 20
        assert h["memory"]["overloaded"] is True and h["memory"]["limit_bytes"] == BUDGET

        # 4. The held body completes (an admitted request may grow up to the limit: its WAL copy).
        assert hb.finish() == 200
        acked.update(held_ids)

        # 5. Once the budget drains below the low watermark, the refused requests go through when
        #    sent again after their Retry-After.
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        for ids, body, enc in pending:
            for _ in range(60):
                status, headers, _ = post(conn, body, enc)
                if status == 200:
                    acked.update(ids)
                    break
                assert status == 429
                time.sleep(float(headers["Retry-After"]))
            else:
                raise AssertionError("a request was refused for a minute")
        h = server.wait_persisted()
        assert h["memory"]["request_bytes"] == 0  # every reservation was released
        assert h["memory"]["peak_bytes"] <= BUDGET + len(held) * 2, h["memory"]
        assert h["rejections"]["memory"] == h["http"]["429"]
        assert sum(h["rejections"].values()) == h["http"]["429"]  # nothing else was refused

        stored = collections.Counter(r["span_id"] for r in read_table(server, "spans"))
        assert set(stored) == acked, (len(stored), len(acked))
        assert all(c == 1 for c in stored.values()), "a span stored twice"
    finally:
        assert server.stop() == 0, server.read_log()


def test_concurrent_large_bodies_under_a_small_budget_lose_nothing(tmp_path):
    """Twelve clients send ~600 KiB bodies as fast as they can into a 4 MiB budget: whatever is
    acknowledged is stored exactly once; every 429 the clients saw is counted in /healthz; the
    connections stay open."""
    server = Server(tmp_path, extra_args=["--max-buffered-bytes", str(BUDGET), "--threads", "8"]).start()
    try:
        acked, lock = set(), threading.Lock()
        statuses = collections.Counter()

        def client(worker):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            conn.connect()
            local = conn.sock.getsockname()
            for n in range(8):
                ids, body = big_body(0x1000 + worker * 100 + n, 600 << 10)
                status, _, data = post(conn, body)
                assert conn.sock is not None and conn.sock.getsockname() == local, "connection closed"
                with lock:
                    statuses[status] += 1
                    if status == 200:
                        acked.update(ids)
                    else:
                        assert status == 429, (status, data[:200])
            conn.close()
        threads = [threading.Thread(target=client, args=(w,)) for w in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        h = server.wait_persisted()
        assert statuses[200] + statuses[429] == 96, statuses
        assert h["rejections"]["memory"] == statuses[429] == h["http"].get("429", 0), (statuses, h["rejections"])
        assert h["memory"]["request_bytes"] == 0
        stored = collections.Counter(r["span_id"] for r in read_table(server, "spans"))
        assert set(stored) == acked and all(c == 1 for c in stored.values())
        print(f"\n12 clients x 8 bodies of 600 KiB into a 4 MiB budget: {dict(statuses)}; "
              f"peak counted {h['memory']['peak_bytes']} bytes")
    finally:
        assert server.stop() == 0, server.read_log()


def test_every_refusal_is_counted_by_reason(tmp_path):
    """Each kind of refusal lands under its own key of /healthz "rejections"; their sum is the
    number of non-2xx answers of the ingest routes."""
    server = Server(tmp_path, extra_args=["--max-body-bytes", "100000", "--max-decompressed-bytes", "200000"]).start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        ok_ids, ok_body = big_body(7, 20000)
        cases = [
            (ok_body, "application/json", None, 200),
            (b"{}", "text/plain", None, 415),                                   # unsupported
            (ok_body, "application/json", "br", 415),                           # unsupported
            (b"{not json", "application/json", None, 400),                      # invalid
            (b"garbage", "application/json", "gzip", 400),                      # invalid
            (b"x" * 150000, "application/json", None, 413),                     # body_too_large
            (gzip.compress(big_body(8, 300000)[1]), "application/json", "gzip", 413),  # decompressed_too_large
        ]
        for body, ctype, enc, want in cases:
            headers = {"Content-Type": ctype}
            if enc:
                headers["Content-Encoding"] = enc
            conn.request("POST", "/v1/traces", body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            assert r.status == want, (ctype, enc, r.status)
        h = server.health()
        assert h["rejections"] == {"memory": 0, "wal": 0, "tables": 0, "stopping": 0, "body_too_large": 1,
                                   "decompressed_too_large": 1, "unsupported": 2, "invalid": 2}, h["rejections"]
        assert sum(h["rejections"].values()) == sum(n for code, n in h["http"].items() if code != "200")
    finally:
        assert server.stop() == 0, server.read_log()
