"""The API the web UI added (docs/http-api.md "Aggregates for the web UI", "The web UI"):
/api/counts, /api/metrics/series, /api/metrics/instruments against what was sent, and the
embedded UI's serving (compression, ETag/304, cache headers, content types, page routes)."""
import gzip
import re
import time

import pytest
import requests

import ui_data
from conftest import Server

MIN = 60_000


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("uiapi")).start()
    now = time.time_ns()
    data = {"now_ms": now // 1_000_000}
    data["trace_id"], data["spans"] = ui_data.checkout_trace(s.url, now_ns=now)
    ui_data.checkout_trace(s.url, now_ns=now, error=False)
    data["logs"] = ui_data.sample_logs(s.url, n=60, trace_id=data["trace_id"], now_ns=now)
    data["gauge"] = ui_data.send_metrics(s.url, now_ns=now, points=30)
    s.wait_persisted()
    yield s, data
    assert s.stop() in (0, None), s.read_log()


def get(s, path, **params):
    return requests.get(s.url + path, params=params, timeout=30)


def test_counts_of_logs_by_severity(lake):
    s, d = lake
    lo, hi = d["now_ms"] - 10 * MIN, d["now_ms"] + MIN
    r = get(s, "/api/counts", table="logs", group_by="severity", buckets=11, time_ms_from=lo, time_ms_to=hi)
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["total"] == 60 and not a["sampled"]
    assert a["groups"] == {"trace": 10, "debug": 10, "info": 10, "warn": 10, "error": 10, "fatal": 10}
    assert sum(b["count"] for b in a["buckets"]) == 60
    assert all(sum(b["groups"].values()) == b["count"] for b in a["buckets"])
    # Every record is in the bucket its time falls into.
    for rec in d["logs"][:10]:
        t = rec["t_ns"] // 1_000_000
        b = next(b for b in a["buckets"] if b["t"] <= t < b["t"] + a["step_ms"])
        assert b["count"] >= 1
    assert a["buckets"][0]["t"] <= lo and a["buckets"][0]["t"] % a["step_ms"] == 0
    # Filters apply: one service, severity >= error.
    r = get(s, "/api/counts", table="logs", service_name="payments", severity_ge=17, time_ms_from=lo, time_ms_to=hi)
    want = sum(1 for x in d["logs"] if x["service"] == "payments" and x["severity"] >= 17)
    assert r.json()["total"] == want > 0


def test_counts_of_spans_by_status_and_attribute(lake):
    s, d = lake
    lo = d["now_ms"] - 10 * MIN
    a = get(s, "/api/counts", table="spans", group_by="status", time_ms_from=lo).json()
    assert a["total"] == 12
    assert a["groups"] == {"ERROR": 1, "OK": 11}, a["groups"]
    a = get(s, "/api/counts", table="spans", group_by="attr.http.route", time_ms_from=lo).json()
    assert a["groups"]["/checkout"] == 2 and a["groups"][""] == 10


@pytest.mark.parametrize("params,needle", [
    ({"table": "nope"}, "table"), ({"buckets": "0"}, "buckets"), ({"step_ms": "x"}, "step_ms"),
    ({"group_by": "nope"}, "group_by"), ({"group_by": "severity"}, "severity"),
    ({"max_rows": "5"}, "max_rows"), ({"service_name>": "x", "bogus": "1"}, "bogus"),
])
def test_counts_bad_parameters(lake, params, needle):
    s, _ = lake
    r = get(s, "/api/counts", **params)
    assert r.status_code == 400 and needle in r.json()["error"], r.text


def test_metric_series_group_by_attribute(lake):
    s, d = lake
    times = [t for t, _ in d["gauge"]["a"]]
    lo, hi = times[0] // 1_000_000, times[-1] // 1_000_000
    r = get(s, "/api/metrics/series", instrument_name="cpu.temperature", group_by="attr.host",
            step_ms=MIN, time_ms_from=lo, time_ms_to=hi)
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["agg"] == "avg" and a["points"] == 60 and a["step_ms"] == MIN
    got = {x["key"]: x for x in a["series"]}
    assert set(got) == {"a", "b"}
    for host in ("a", "b"):
        # One point per minute bucket: each bucket's average is that point.
        expect = {((t // 1_000_000) - a["from"]) // MIN: v for t, v in d["gauge"][host]}
        vals = got[host]["values"]
        assert {i: v for i, v in enumerate(vals) if v is not None} == expect
    # Whole-range average per host, one bucket.
    a = get(s, "/api/metrics/series", instrument_name="cpu.temperature", group_by="attr.host",
            buckets=1, time_ms_from=lo, time_ms_to=hi + 1).json()
    for x in a["series"]:
        vals = [v for _, v in d["gauge"][x["key"]]]
        assert abs(x["values"][0] - sum(vals) / len(vals)) < 1e-9 or len(x["values"]) > 1


def test_metric_series_rate_and_defaults(lake):
    s, d = lake
    lo = d["now_ms"] - 40 * MIN
    a = get(s, "/api/metrics/series", instrument_name="requests", step_ms=MIN, time_ms_from=lo, time_ms_to=d["now_ms"]).json()
    assert a["agg"] == "last" and len(a["series"]) == 1
    r = get(s, "/api/metrics/series", instrument_name="requests", agg="rate", step_ms=MIN, time_ms_from=lo,
            time_ms_to=d["now_ms"]).json()
    rates = [v for v in r["series"][0]["values"] if v is not None]
    # The counter grows by 10+i per minute: rate (per second) = (10+i)/60.
    assert rates and all(abs(v * 60 - round(v * 60)) < 1e-6 and round(v * 60) >= 11 for v in rates), rates
    assert [round(v * 60) for v in rates] == list(range(11, 11 + len(rates)))
    assert get(s, "/api/metrics/series").status_code == 400
    assert get(s, "/api/metrics/series", instrument_name="x", agg="median").status_code == 400


def test_metric_instruments(lake):
    s, d = lake
    a = get(s, "/api/metrics/instruments", time_ms_from=d["now_ms"] - 60 * MIN).json()
    by = {i["instrument_name"]: i for i in a["instruments"]}
    assert set(by) == {"cpu.temperature", "requests", "latency"}
    assert by["cpu.temperature"]["points"] == 60 and by["cpu.temperature"]["attr_keys"] == ["host"]
    assert by["latency"]["points"] == 30 and by["cpu.temperature"]["services"] == ["checkout"]
    assert by["cpu.temperature"]["unit"] == "Cel"


def test_ui_assets_served_compressed_with_cache_headers(lake):
    s, _ = lake
    r = requests.get(s.url + "/", headers={"Accept-Encoding": "identity"}, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.headers["Cache-Control"] == "no-cache" and "Content-Encoding" not in r.headers
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    html = r.text
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets), html
    assert "http://" not in html and "https://" not in html  # nothing from elsewhere
    etag = r.headers["ETag"]
    assert requests.get(s.url + "/", headers={"If-None-Match": etag}, timeout=10).status_code == 304
    for a in assets:
        plain = requests.get(s.url + a, headers={"Accept-Encoding": "identity"}, timeout=10)
        assert plain.status_code == 200 and plain.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert plain.headers["Content-Type"].startswith("text/javascript" if a.endswith(".js") else "text/css")
        gz = requests.get(s.url + a, headers={"Accept-Encoding": "gzip"}, stream=True, timeout=10)
        assert gz.headers["Content-Encoding"] == "gzip" and gz.headers["Vary"] == "Accept-Encoding"
        assert gzip.decompress(gz.raw.read()) == plain.content
        br = requests.get(s.url + a, headers={"Accept-Encoding": "gzip, br"}, stream=True, timeout=10)
        assert br.headers["Content-Encoding"] == "br" and int(br.headers["Content-Length"]) < len(plain.content) / 2
        assert b"https://" not in plain.content or a.endswith(".css")
    # Every page path serves the same page (the browser routes); other paths stay 404.
    for page in ("/traces", "/trace/0af7651916cd43dd8448eb211c80319c", "/logs", "/charts", "/ops?x=1"):
        p = requests.get(s.url + page, timeout=10)
        assert p.status_code == 200 and p.text == html, page
    assert requests.get(s.url + "/assets/nope.js", timeout=10).status_code == 404
    assert requests.get(s.url + "/nope", timeout=10).status_code == 404
    assert requests.post(s.url + "/traces", timeout=10).status_code == 405
    h = requests.head(s.url + "/", timeout=10)
    assert h.status_code == 200 and h.content == b""


# ---------------------------------------------------------------------------------------------
# GET /api/logs/tail (server-sent events)

import socket  # noqa: E402
import threading  # noqa: E402


class Tail:
    """An SSE subscriber on a raw socket (requests buffers lines); collects events on a thread."""

    def __init__(self, url, params, headers=None):
        from urllib.parse import urlencode
        host, port = url.split("//", 1)[1].split(":")
        self.sock = socket.create_connection((host, int(port)))
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.sock.sendall(f"GET /api/logs/tail?{urlencode(params)} HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode())
        self.events = []
        self.hello = threading.Event()
        self.done = threading.Event()
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(65536)
            assert chunk, buf
            buf += chunk
        head, self.rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:])}
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf, pos = bytearray(self.rest), 0
        try:
            while True:
                while True:
                    end = buf.find(b"\n\n", pos)
                    if end < 0:
                        break
                    event, data = "message", []
                    for line in bytes(buf[pos:end]).decode().split("\n"):
                        if line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("data:"):
                            data.append(line[5:].strip())
                    pos = end + 2
                    if data:
                        self.events.append((event, "\n".join(data)))
                        if event == "hello":
                            self.hello.set()
                del buf[:pos]
                pos = 0
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    break
                buf += chunk
        except OSError:
            pass
        self.done.set()

    def logs(self):
        import json
        return [json.loads(d) for e, d in self.events if e == "log"]

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def test_tail_sends_new_matching_records_only(lake):
    s, d = lake
    t = Tail(s.url, {"service_name": "checkout", "severity_ge": 13})
    assert t.status == 200 and t.headers["content-type"].startswith("text/event-stream")
    assert t.hello.wait(10)
    now = time.time_ns()
    recs = [dict(service=svc, body=f"tail {svc} {sev} {i}", severity=sev, t_ns=now + i)
            for i, (svc, sev) in enumerate([(svc, sev) for svc in ("checkout", "payments") for sev in (9, 13, 17)] * 3)]
    ui_data.send_logs(s.url, recs)
    want = sorted(r["body"] for r in recs if r["service"] == "checkout" and r["severity"] >= 13)
    deadline = time.time() + 20
    while time.time() < deadline and len(t.logs()) < len(want):
        time.sleep(0.05)
    time.sleep(1.5)  # a few more polls: nothing else (and nothing twice) may arrive
    got = sorted(x["body"] for x in t.logs())
    t.close()
    # Records already in the lake when it subscribed (the module's sample logs) are not replayed.
    assert got == want, got


@pytest.mark.parametrize("params,needle", [
    ({"buffer_kb": "1"}, "buffer_kb"), ({"time_ms_from": "0"}, "time_ms_from"), ({"nope": "x"}, "nope"),
    ({"severity_ge": "x"}, "severity"),
])
def test_tail_bad_parameters(lake, params, needle):
    s, _ = lake
    r = get(s, "/api/logs/tail", **params)
    assert r.status_code == 400 and needle in r.json()["error"], r.text


def test_tail_is_get_only(lake):
    s, _ = lake
    r = requests.head(s.url + "/api/logs/tail", timeout=10)
    assert r.status_code == 405 and r.headers["Allow"] == "GET"


def test_tail_slow_subscriber_is_dropped_without_slowing_ingest(lake):
    s, _ = lake
    # A subscriber that never reads: a tiny receive window, so what the server queues for it grows.
    slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window stays small
    slow.connect(("127.0.0.1", s.port))
    slow.sendall(b"GET /api/logs/tail?service_name=flood&buffer_kb=64 HTTP/1.1\r\nHost: x\r\n\r\n")
    fast = Tail(s.url, {"service_name": "flood"})
    assert fast.hello.wait(10)
    time.sleep(0.5)
    sent, latencies = 0, []
    body = "x" * 2500  # 40 x 100 x ~3.5 KB rendered: more than the kernel's socket buffers (4 MiB) hold
    for b in range(40):
        now = time.time_ns()
        recs = [dict(service="flood", body=f"{b}-{i} {body}", severity=9, t_ns=now + i) for i in range(100)]
        t0 = time.time()
        ui_data.send_logs(s.url, recs)
        latencies.append(time.time() - t0)
        sent += len(recs)
        time.sleep(0.3)
    deadline = time.time() + 30
    while time.time() < deadline and len(fast.logs()) < sent:
        time.sleep(0.1)
    # The reading subscriber got everything, once.
    assert len(fast.logs()) == sent and len({x["body"] for x in fast.logs()}) == sent
    fast.close()
    # The slow one was dropped: its stream ends with the notice (once it reads again).
    slow.settimeout(10)
    data = bytearray()
    deadline = time.time() + 60
    while time.time() < deadline:
        chunk = slow.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    slow.close()
    data = bytes(data)
    assert data.rstrip().split(b"\n\n")[-1].startswith(b"event: dropped"), data[-300:]
    assert b"subscriber too slow" in data[-400:]
    assert len(data) < sent * 2500  # it did not get everything
    latencies.sort()
    print(f"\ningest of 100 x 2.5 KB logs while a slow subscriber was being dropped: "
          f"p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms")
    assert "dropped a slow subscriber" in s.read_log()
