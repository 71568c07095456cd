"""Ingestion sources end to end (issue 20 §4): the real otlake binary ingesting from moto (IAM auth
on) through /v3/ingestion-sources, as a user runs it.

  small   N objects of 100 spans, OTLP/JSON, under date prefixes (default 10,000): files per
          second from the source's creation to the last file completed, spans per server
          CPU-second (utime+stime of the otlake process from /proc, over the same interval).
  large   M objects of S spans, .binpb.zst (default 100 x 100,000): the same two figures.
  listing the time and server memory of one scan over K keys already known (default: the small
          run's keys), read from the source's own counters (/healthz sources.*.last_scan_duration_ms,
          VmRSS before/after); per key, and extrapolated to 1,000,000 keys.

Usage: .venv/bin/python bench/sources_bench.py [--small N] [--large M] [--large-spans S]
       [--skip-small] [--skip-large] [--perf DIR]
--perf DIR records the server with `perf record -g` while each run ingests (DIR/perf-small.data,
DIR/perf-large.data; read with `perf report -i ...`).
Numbers, not a test: nothing is asserted. Results go into bench/README.md by hand.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "test", "integration"))
from s3_server import MotoS3  # noqa: E402

OTLAKE = os.environ.get("OTLAKE_BIN", os.path.join(ROOT, "build", "release", "otlake"))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def small_json(i, spans=100):
    now = time.time_ns()
    tid = f"{i + 1:032x}"
    out = []
    for j in range(spans):
        out.append({"traceId": tid, "spanId": f"{j + 1:016x}", "parentSpanId": "" if j == 0 else f"{1:016x}",
                    "name": f"step_{j % 10}", "kind": 1, "startTimeUnixNano": str(now - 5_000_000 + j),
                    "endTimeUnixNano": str(now), "status": {"code": 1},
                    "attributes": [{"key": "http.route", "value": {"stringValue": f"/api/v1/items/{j % 7}"}},
                                   {"key": "llm.tokens", "value": {"intValue": str(100 + j)}}]})
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": f"batch-{i % 8}"}}]},
        "scopeSpans": [{"scope": {"name": "bench"}, "spans": out}]}]}).encode()


def large_binpb_zst(seed, spans):
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as ts
    from opentelemetry.proto.common.v1 import common_pb2
    import zstandard
    req = ts.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name", value=common_pb2.AnyValue(string_value=f"large-{seed}"))
    ss = rs.scope_spans.add()
    ss.scope.name = "bench"
    now = time.time_ns()
    for j in range(spans):
        sp = ss.spans.add()
        sp.trace_id = (seed * 1_000_003 + j // 100 + 1).to_bytes(16, "big")
        sp.span_id = (j + 1).to_bytes(8, "big")
        sp.name = f"op_{j % 20}"
        sp.kind = 2
        sp.start_time_unix_nano = now - 1_000_000 + j
        sp.end_time_unix_nano = now
        a = sp.attributes.add(key="http.route")
        a.value.string_value = f"/api/v1/items/{j % 50}"
        b = sp.attributes.add(key="http.status_code")
        b.value.int_value = 200
    return zstandard.ZstdCompressor(level=3).compress(req.SerializeToString())


def upload(s3, bucket, items, threads=8):
    clients = threading.local()

    def put(kv):
        if not hasattr(clients, "c"):
            clients.c = s3.client()
        clients.c.put_object(Bucket=bucket, Key=kv[0], Body=kv[1])

    t0 = time.time()
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(put, items))
    return time.time() - t0


class Otlake:
    def __init__(self, base):
        subprocess.run([OTLAKE, "init", "-D", base], check=True, capture_output=True)
        self.admin = subprocess.run([OTLAKE, "keys", "create", "--scope", "admin", "-D", base], check=True,
                                    capture_output=True, text=True).stdout.strip()
        self.log = open(os.path.join(base, "server.log"), "ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.proc = subprocess.Popen([OTLAKE, "start", "-F", "-D", base, "-H", "127.0.0.1", "-P", "0"],
                                     stdout=subprocess.PIPE, stderr=self.log, env=env)
        line = self.proc.stdout.readline().decode()
        self.url = "http://127.0.0.1:" + line.strip().rsplit(":", 1)[1]
        self.h = {"Authorization": "Bearer " + self.admin}

    def create(self, body):
        r = requests.post(self.url + "/v3/ingestion-sources", headers=self.h, data=json.dumps(body), timeout=60)
        r.raise_for_status()
        return r.json()["data"]["id"]

    def stats(self, sid):
        return requests.get(f"{self.url}/v3/ingestion-sources/{sid}/stats", headers=self.h, timeout=60).json()["data"]

    def health(self):
        return requests.get(self.url + "/healthz", timeout=60).json()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=120)


def run_until_done(srv, s3, body, n_files, perf_out=None):
    """Creates the source and waits for every file (wall time), then for every row to be in the
    tables (otlake's CPU seconds include the Parquet writes); moto's CPU seconds alongside.
    perf_out: a file to record the server's profile into while it runs (perf record -g)."""
    perf = None
    if perf_out and shutil.which("perf"):
        perf = subprocess.Popen(["perf", "record", "-q", "-F", "499", "-g", "-p", str(srv.proc.pid), "-o", perf_out],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    cpu0, moto0, t0 = cpu_seconds(srv.proc.pid), cpu_seconds(s3.proc.pid), time.time()
    sid = srv.create(body)
    while True:
        st = srv.stats(sid)
        if st["completed"] + st["failed"] >= n_files:
            break
        time.sleep(0.2)
    wall = time.time() - t0
    # Count the lake writes too: wait until every accepted row is in a table (nothing buffered).
    while any(t["buffered"] > 0 for t in srv.health()["tables"].values()):
        time.sleep(0.2)
    cpu = cpu_seconds(srv.proc.pid) - cpu0
    moto = cpu_seconds(s3.proc.pid) - moto0
    if perf:
        perf.send_signal(signal.SIGINT)
        perf.wait()
        print(f"  perf: {perf_out}")
    load = os.getloadavg()[0]
    print(f"  wall {wall:.1f}s, otlake {cpu:.1f} CPU-s, moto {moto:.1f} CPU-s, load average {load:.1f}")
    return sid, st, wall, cpu


def source_body(s3, bucket, name, prefix, exts, project):
    return {"name": name, "bucket": bucket, "prefix": prefix, "file_extensions": exts,
            "credential_type": "access_key", "access_key_id": s3.key_id, "secret_access_key": s3.secret,
            "endpoint_url": s3.endpoint, "region": "us-east-1", "scan_interval_seconds": 10,
            "application_ids": [project]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--large", type=int, default=100)
    ap.add_argument("--large-spans", type=int, default=100_000)
    ap.add_argument("--skip-small", action="store_true")
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--perf", metavar="DIR", help="record the server with perf record -g during each run")
    ap.add_argument("--gcs-small", type=int, default=0,
                    help="also ingest this many small objects from fake-gcs-server (a store that is not the bottleneck)")
    a = ap.parse_args()
    s3 = MotoS3()
    base = tempfile.mkdtemp(prefix="sources-bench-")
    srv = None
    try:
        bucket = s3.create_bucket("bench-bucket")
        srv = Otlake(base)
        print(f"otlake {srv.url}, moto {s3.endpoint}, data {base}")
        if not a.skip_small:
            template = [small_json(i) for i in range(64)]
            items = [(f"small/2026/12/{(i // 1000) + 1:02d}/{i:06d}.json", template[i % 64]) for i in range(a.small)]
            took = upload(s3, bucket, items)
            print(f"uploaded {a.small} small objects ({len(template[0])} B each) in {took:.1f}s")
            sid, st, wall, cpu = run_until_done(srv, s3, source_body(s3, bucket, "small", "small/", [".json"], "bsmall"),
                                                a.small, a.perf and os.path.join(a.perf, "perf-small.data"))
            spans = st["total_spans_ingested"]
            print(f"SMALL: {st['completed']} completed, {st['failed']} failed, {spans} spans in {wall:.1f}s wall, "
                  f"{cpu:.1f} server CPU-s -> {st['completed'] / wall:.0f} files/s, {st['completed'] / cpu:.0f} files per otlake "
                  f"CPU-s, {spans / cpu:,.0f} spans/CPU-s")
            # Listing: force scans of the known keys (PATCH wakes the scheduler) and read the
            # source's own scan duration; RSS before and after.
            time.sleep(3)  # let the last flushes settle
            rss0, cpu0 = rss_mb(srv.proc.pid), cpu_seconds(srv.proc.pid)
            durs = []
            for _ in range(3):
                before = srv.health()["sources"]["small"]["scans"]
                requests.patch(f"{srv.url}/v3/ingestion-sources/{sid}", headers=srv.h,
                               data=json.dumps({"description": f"scan {time.time()}"}), timeout=60)
                while srv.health()["sources"]["small"]["scans"] == before:
                    time.sleep(0.05)
                durs.append(srv.health()["sources"]["small"]["last_scan_duration_ms"])
            rss1, scan_cpu = rss_mb(srv.proc.pid), (cpu_seconds(srv.proc.pid) - cpu0) / len(durs)
            db = os.path.join(base, "default", "configs", "sources.sqlite")
            db_bytes = sum(os.path.getsize(db + x) for x in ("", "-wal") if os.path.exists(db + x))
            print(f"LISTING: otlake CPU per scan of {a.small} known keys {scan_cpu * 1000:.0f} ms "
                  f"({scan_cpu * 1e6 / a.small:.1f} us/key -> {scan_cpu * 100:.0f} CPU-s per 1M keys); "
                  f"sources.sqlite {db_bytes / 1e6:.1f} MB ({db_bytes / a.small:.0f} B/file)")
            t0 = time.time()
            n = len(s3.keys(bucket, "small/"))
            boto_ms = (time.time() - t0) * 1000
            print(f"LISTING (same run, boto3 paging the same {n} keys from moto): {boto_ms:.0f} ms")
            per_key_us = min(durs) * 1000 / a.small
            print(f"LISTING: {a.small} known keys: scans of {durs} ms (best {per_key_us:.1f} us/key) -> "
                  f"1M keys ~{per_key_us:.1f} s; server RSS {rss0:.0f} -> {rss1:.0f} MB")
        if not a.skip_large:
            t0 = time.time()
            blobs = [large_binpb_zst(k, a.large_spans) for k in range(4)]
            print(f"built 4 large objects of {a.large_spans} spans ({len(blobs[0]) / 1e6:.1f} MB .binpb.zst) "
                  f"in {time.time() - t0:.1f}s")
            items = [(f"large/2026/12/07/{i:04d}.binpb.zst", blobs[i % 4]) for i in range(a.large)]
            took = upload(s3, bucket, items, threads=4)
            print(f"uploaded {a.large} large objects in {took:.1f}s")
            sid, st, wall, cpu = run_until_done(
                srv, s3, source_body(s3, bucket, "large", "large/", [".binpb.zst"], "blarge"), a.large,
                a.perf and os.path.join(a.perf, "perf-large.data"))
            spans = st["total_spans_ingested"]
            print(f"LARGE: {st['completed']} completed, {st['failed']} failed, {spans} spans in {wall:.1f}s wall, "
                  f"{cpu:.1f} server CPU-s -> {st['completed'] / wall:.2f} files/s, {spans / cpu:,.0f} spans/CPU-s")
        if a.gcs_small:
            from test_sources_providers import FakeGcs
            gcs = FakeGcs()
            try:
                gcs.create_bucket("bench-gcs")
                template = [small_json(i) for i in range(64)]
                t0 = time.time()
                with ThreadPoolExecutor(8) as ex:
                    list(ex.map(lambda i: gcs.put("bench-gcs", f"small/2026/12/{(i // 1000) + 1:02d}/{i:06d}.json",
                                                  template[i % 64]), range(a.gcs_small)))
                print(f"uploaded {a.gcs_small} small objects to fake-gcs-server in {time.time() - t0:.1f}s")
                cpu0, g0, t0 = cpu_seconds(srv.proc.pid), cpu_seconds(gcs.proc.pid), time.time()
                sid = srv.create({"name": "gcs-small", "provider": "gcs", "bucket": "bench-gcs", "prefix": "small/",
                                  "credential_type": "anonymous", "endpoint_url": gcs.endpoint,
                                  "scan_interval_seconds": 10, "application_ids": ["bgcs"]})
                while True:
                    st = srv.stats(sid)
                    if st["completed"] + st["failed"] >= a.gcs_small:
                        break
                    time.sleep(0.2)
                wall = time.time() - t0
                while any(t["buffered"] > 0 for t in srv.health()["tables"].values()):
                    time.sleep(0.2)
                cpu, gcpu = cpu_seconds(srv.proc.pid) - cpu0, cpu_seconds(gcs.proc.pid) - g0
                print(f"GCS SMALL: {st['completed']} completed, {st['failed']} failed in {wall:.1f}s wall, otlake {cpu:.1f} "
                      f"CPU-s, fake-gcs-server {gcpu:.1f} CPU-s, load {os.getloadavg()[0]:.1f} -> "
                      f"{st['completed'] / wall:.0f} files/s, {st['total_spans_ingested'] / cpu:,.0f} spans/CPU-s")
            finally:
                gcs.stop()
        h = srv.health()["sources"]
        print("healthz sources:", json.dumps(h, indent=1)[:2000])
    finally:
        if srv:
            srv.stop()
        s3.stop()


if __name__ == "__main__":
    main()
