#!/usr/bin/env python3
"""Ingest benchmark: pre-encoded OTLP/HTTP protobuf trace requests (512 spans x 20 attributes,
~8 services) replayed over keep-alive connections against the real otlake binary.

Reports spans per *server* CPU-second (utime+stime of the otlake process, read from /proc, over
the send phase plus the final flush and commit), request latency percentiles, on-disk bytes per
span (Parquet + Delta log) and, computed in the same run, the reference size of the same spans as
OTLP protobuf + zstd-3 per request. Not a test: it prints numbers (see bench/README.md).

  .venv/bin/python bench/ingest_bench.py [--requests 400] [--connections 4] [--unique 80]
"""
import argparse
import http.client
import multiprocessing as mp
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import zstandard
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SERVICES = ["checkout", "cart", "payment", "frontend", "inventory", "shipping", "email", "recommendation"]
ROUTES = ["/api/cart", "/api/cart/{id}", "/api/checkout", "/api/products/{id}", "/api/orders", "/healthz"]


def make_request(rng, spans_per_request=512, attrs_per_span=20):
    req = trace_service_pb2.ExportTraceServiceRequest()
    svc = rng.choice(SERVICES)
    rs = req.resource_spans.add()
    for k, v in [("service.name", svc), ("service.version", f"1.{rng.randint(0, 9)}.0"),
                 ("deployment.environment.name", "prod"), ("host.name", f"node-{rng.randint(1, 40)}"),
                 ("k8s.pod.name", f"{svc}-{rng.randrange(16**6):06x}"), ("telemetry.sdk.language", "go")]:
        rs.resource.attributes.add(key=k).value.string_value = v
    ss = rs.scope_spans.add()
    ss.scope.name = f"{svc}.instrumentation"
    ss.scope.version = "0.45.0"
    now = time.time_ns()
    n_traces = spans_per_request // 8
    for t in range(n_traces):
        trace_id = rng.randbytes(16)
        root_id = rng.randbytes(8)
        start = now - rng.randint(0, 5_000_000_000)
        for i in range(8):
            s = ss.spans.add()
            s.trace_id = trace_id
            s.span_id = root_id if i == 0 else rng.randbytes(8)
            if i:
                s.parent_span_id = root_id
            route = rng.choice(ROUTES)
            s.name = f"GET {route}" if i == 0 else rng.choice(["SELECT orders", "redis GET", "grpc.Call", "render"])
            s.kind = 2 if i == 0 else rng.choice([1, 3])
            s.start_time_unix_nano = start + i * 1000
            s.end_time_unix_nano = s.start_time_unix_nano + int(rng.lognormvariate(13, 1.5))
            s.status.code = 2 if rng.random() < 0.02 else 0
            attrs = [("http.request.method", "GET"), ("http.route", route),
                     ("http.response.status_code", rng.choice([200, 200, 200, 201, 404, 500])),
                     ("url.path", route.replace("{id}", str(rng.randint(1, 100000)))),
                     ("server.address", f"{svc}.svc.cluster.local"), ("server.port", 8080),
                     ("network.protocol.version", "1.1"), ("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
                     ("client.address", f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"),
                     ("app.user.id", f"user-{rng.randint(1, 50000)}"), ("app.cart.items", rng.randint(0, 12)),
                     ("app.cart.total", round(rng.uniform(1, 500), 2)), ("app.feature.enabled", rng.random() < 0.5),
                     ("db.system", "postgresql"), ("db.name", "shop"),
                     ("thread.name", f"worker-{rng.randint(1, 32)}"), ("code.function", "handleRequest"),
                     ("code.namespace", f"com.shop.{svc}"), ("messaging.system", "kafka"),
                     ("app.request.id", rng.randbytes(8).hex())][:attrs_per_span]
            for k, v in attrs:
                a = s.attributes.add(key=k).value
                if isinstance(v, bool):
                    a.bool_value = v
                elif isinstance(v, int):
                    a.int_value = v
                elif isinstance(v, float):
                    a.double_value = v
                else:
                    a.string_value = v
    return req


def sender(port, bodies, idx, out_q):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    lat, ok, other = [], 0, {}
    for b in bodies:
        t0 = time.perf_counter()
        conn.request("POST", "/v1/traces", body=b, headers={"Content-Type": "application/x-protobuf"})
        r = conn.getresponse()
        r.read()
        lat.append(time.perf_counter() - t0)
        if r.status == 200:
            ok += 1
        else:
            other[r.status] = other.get(r.status, 0) + 1
    out_q.put((ok, other, lat))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def du(path):
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(d, f))
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--unique", type=int, default=400, help="distinct generated requests")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "otlake"))
    args = ap.parse_args()

    rng = random.Random(42)
    t0 = time.time()
    reqs = [make_request(rng) for _ in range(min(args.unique, args.requests))]
    bodies = []
    for i in range(args.requests):
        r = reqs[i % len(reqs)]
        if i >= len(reqs):  # fresh IDs for replays so no row repeats
            r2 = trace_service_pb2.ExportTraceServiceRequest()
            r2.CopyFrom(r)
            for s in r2.resource_spans[0].scope_spans[0].spans:
                s.span_id = rng.randbytes(8)
            r = r2
        bodies.append(r.SerializeToString())
    spans = args.requests * 512
    wire = sum(len(b) for b in bodies)
    cctx = zstandard.ZstdCompressor(level=3)
    zstd3 = sum(len(cctx.compress(b)) for b in bodies)
    print(f"generated {args.requests} requests ({spans} spans) in {time.time() - t0:.1f}s; "
          f"protobuf {wire / spans:.1f} B/span, protobuf+zstd-3 per request {zstd3 / spans:.1f} B/span")

    tmp = tempfile.mkdtemp(prefix="otlake-bench-")
    try:
        subprocess.run([args.bin, "init", "-D", tmp], check=True, capture_output=True)
        proc = subprocess.Popen([args.bin, "start", "-F", "-D", tmp, "-H", "127.0.0.1", "-P", "0",
                                 "--log-level", "warn"], stdout=subprocess.PIPE)
        port = int(proc.stdout.readline().decode().strip().rsplit(":", 1)[1])
        cpu0 = cpu_seconds(proc.pid)
        wall0 = time.time()
        q = mp.Queue()
        chunks = [bodies[i::args.connections] for i in range(args.connections)]
        ps = [mp.Process(target=sender, args=(port, c, i, q)) for i, c in enumerate(chunks)]
        for p in ps:
            p.start()
        results = [q.get() for _ in ps]
        for p in ps:
            p.join()
        send_wall = time.time() - wall0
        proc.send_signal(signal.SIGTERM)  # graceful stop: flush + commit everything
        # wait4's rusage holds the process's whole CPU time, final flush and commit included.
        _, status, ru = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        rc = proc.returncode
        cpu1 = ru.ru_utime + ru.ru_stime
        ok = sum(r[0] for r in results)
        other = {}
        for r in results:
            for k, v in r[1].items():
                other[k] = other.get(k, 0) + v
        lat = sorted(x for r in results for x in r[2])
        cpu = cpu1 - cpu0
        day_bytes = du(os.path.join(tmp, "default", "staging", "days"))
        print(f"server exit {rc}; acked {ok} requests ({ok * 512} spans), other statuses {other}")
        print(f"send wall {send_wall:.2f}s -> {ok * 512 / send_wall:,.0f} spans/s wall (client-bound on 2 cores)")
        print(f"server CPU {cpu:.2f}s -> {ok * 512 / cpu:,.0f} spans per server CPU-second")
        print(f"latency p50 {lat[len(lat) // 2] * 1000:.1f} ms, p99 {lat[int(len(lat) * 0.99)] * 1000:.1f} ms")
        print(f"on disk {day_bytes / spans:.1f} B/span (Parquet + Delta log); "
              f"ratio to protobuf+zstd-3 {day_bytes / zstd3:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
