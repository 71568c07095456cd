#!/usr/bin/env python3
"""OTLP/gRPC vs OTLP/HTTP: the same pre-encoded ExportTraceServiceRequests (bench/ingest_bench.py's
generator: 512 spans x 20 attributes) sent to the real otlake binary over gRPC (grpcio, a channel
per connection) and over HTTP/1.1 keep-alive (http.client), in alternating runs, each against a
fresh server. Reports spans per *server* CPU-second (utime+stime of the otlake process over the
send phase plus the final commit) for each run and the gRPC/HTTP ratio of the medians. With --tls
the same requests also go over HTTPS and gRPC with TLS (a self-signed certificate made with the
openssl command, RSA 2048, TLS 1.3 as negotiated by the clients), and the TLS cost per span is
the difference of server CPU per span. Not a test (bench/README.md).

  .venv/bin/python bench/grpc_bench.py [--requests 300] [--connections 4] [--rounds 3] [--tls]
"""
import argparse
import http.client
import json
import os
import random
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ingest_bench import ROOT, cpu_seconds, make_request  # noqa: E402

TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


class Server:
    def __init__(self, binary, tls):
        self.tmp = tempfile.mkdtemp(prefix="otlake-grpc-bench-")
        subprocess.run([binary, "init", "-D", self.tmp], check=True, capture_output=True)
        extra, self.ssl_context, self.cert = [], None, None
        if tls:
            self.cert, key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                            "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key,
                            "-out", self.cert], check=True, capture_output=True)
            extra = ["--tls-cert", self.cert, "--tls-key", key]
            self.ssl_context = ssl.create_default_context(cafile=self.cert)
        self.proc = subprocess.Popen([binary, "start", "-F", "-D", self.tmp, "-H", "127.0.0.1", "-P", "0",
                                      "--grpc-port", "any", "--flush-age-ms", "1000", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.http_port = int(self.proc.stdout.readline().decode().strip().rsplit(":", 1)[1])
        self.grpc_target = self.proc.stdout.readline().decode().strip().rsplit(" ", 1)[1]
        self.scheme = "https" if tls else "http"

    def health(self):
        with urllib.request.urlopen(f"{self.scheme}://127.0.0.1:{self.http_port}/healthz", timeout=30,
                                    context=self.ssl_context) as r:
            return json.loads(r.read())

    def wait_persisted(self):
        while any(t["buffered"] for t in self.health()["tables"].values()):
            time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(60)
        shutil.rmtree(self.tmp, ignore_errors=True)


def send_http(server, bodies, connections):
    def worker(w):
        if server.ssl_context:
            conn = http.client.HTTPSConnection("127.0.0.1", server.http_port, timeout=120,
                                               context=server.ssl_context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=120)
        for i in range(w, len(bodies), connections):
            conn.request("POST", "/v1/traces", body=bodies[i], headers={"Content-Type": "application/x-protobuf"})
            r = conn.getresponse()
            r.read()
            assert r.status == 200, r.status
    run_workers(worker, connections)


def send_grpc(server, bodies, connections):
    def worker(w):
        if server.cert:
            with open(server.cert, "rb") as f:
                channel = grpc.secure_channel(server.grpc_target, grpc.ssl_channel_credentials(f.read()))
        else:
            channel = grpc.insecure_channel(server.grpc_target)
        with channel as ch:
            fn = ch.unary_unary(TRACES, request_serializer=None, response_deserializer=None)
            for i in range(w, len(bodies), connections):
                fn(bodies[i], timeout=120)
    run_workers(worker, connections)


def run_workers(worker, n):
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def one_run(binary, protocol, bodies, spans, connections):
    s = Server(binary, tls=protocol in ("https", "grpcs"))
    try:
        s.health()
        cpu0, t0 = cpu_seconds(s.proc.pid), time.time()
        (send_grpc if protocol.startswith("grpc") else send_http)(s, bodies, connections)
        s.wait_persisted()
        cpu, wall = cpu_seconds(s.proc.pid) - cpu0, time.time() - t0
        accepted = s.health()["signals"]["traces"]["accepted"]
        assert accepted == spans, (accepted, spans)
        return spans / cpu, cpu, wall
    finally:
        s.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--unique", type=int, default=60)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "otlake"))
    ap.add_argument("--tls", action="store_true", help="also HTTPS and gRPC over TLS")
    args = ap.parse_args()
    rng = random.Random(42)
    unique = [make_request(rng).SerializeToString() for _ in range(args.unique)]
    bodies = [unique[i % len(unique)] for i in range(args.requests)]
    spans = 512 * args.requests
    print(f"{args.requests} requests x 512 spans ({sum(map(len, bodies)) / len(bodies) / 1024:.0f} KiB each), "
          f"{args.connections} connections, {args.rounds} rounds alternating")
    protocols = ["http", "grpc"] + (["https", "grpcs"] if args.tls else [])
    results = {p: [] for p in protocols}
    for rnd in range(args.rounds):
        for protocol in (protocols if rnd % 2 == 0 else protocols[::-1]):
            rate, cpu, wall = one_run(args.bin, protocol, bodies, spans, args.connections)
            results[protocol].append(rate)
            print(f"  round {rnd + 1} {protocol:4s}: {rate / 1000:7.1f}k spans per server CPU-s "
                  f"({cpu:.2f} CPU-s, {wall:.1f} s wall)")
    mh, mg = statistics.median(results["http"]), statistics.median(results["grpc"])
    print(f"median http {mh / 1000:.1f}k, grpc {mg / 1000:.1f}k spans/CPU-s; grpc/http = {mg / mh:.3f} "
          f"(range http {min(results['http']) / 1000:.1f}-{max(results['http']) / 1000:.1f}k, "
          f"grpc {min(results['grpc']) / 1000:.1f}-{max(results['grpc']) / 1000:.1f}k)")
    for plain, tls in (("http", "https"), ("grpc", "grpcs")) if args.tls else ():
        mp, mt = statistics.median(results[plain]), statistics.median(results[tls])
        print(f"{tls}: median {mt / 1000:.1f}k spans/CPU-s (range {min(results[tls]) / 1000:.1f}-"
              f"{max(results[tls]) / 1000:.1f}k); {tls}/{plain} = {mt / mp:.3f}; TLS costs "
              f"{(1 / mt - 1 / mp) * 1e6:.2f} us of server CPU per span")


if __name__ == "__main__":
    main()
