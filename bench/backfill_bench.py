#!/usr/bin/env python3
"""Archive backfill cost (issue 19 §2): `otlake archive backfill` CPU per span written.

A fresh instance ingests the pre-encoded OTLP/HTTP trace requests of bench/ingest_bench.py (512
spans x 20 attributes each, sent by build/release/load_client) and stops (everything committed);
then `otlake archive backfill --from --to` writes the window of those spans to a moto bucket (IAM
auth) as the given marshaler/compression. The backfill process's own CPU (utime+stime, wait4) and
wall time are measured; moto's CPU is not included. The objects are checked to hold every span.
Not a test: it prints numbers (bench/README.md "Archive backfill").

  .venv/bin/python bench/backfill_bench.py [--requests 400] [--marshaler otlp_proto] [--compression zstd]
"""
import argparse
import datetime
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(ROOT, "test", "integration"))

from ingest_bench import make_request, require_load_client, send_native  # noqa: E402
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: E402
from s3_server import MotoS3  # noqa: E402


def iso(ns):
    return datetime.datetime.fromtimestamp(ns / 1e9, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--unique", type=int, default=40)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--marshaler", default="otlp_proto")
    ap.add_argument("--compression", default="zstd")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "otlake"))
    ap.add_argument("--client", default="native")
    ap.add_argument("--keep", action="store_true", help="keep the instance (printed) for profiling")
    args = ap.parse_args()
    require_load_client(args)

    rng = random.Random(42)
    t_lo = time.time_ns() - 6 * 10**9
    reqs = [make_request(rng) for _ in range(min(args.unique, args.requests))]
    bodies = []
    for i in range(args.requests):
        r = reqs[i % len(reqs)]
        if i >= len(reqs):
            r2 = trace_service_pb2.ExportTraceServiceRequest()
            r2.CopyFrom(r)
            for s in r2.resource_spans[0].scope_spans[0].spans:
                s.span_id = rng.randbytes(8)
            r = r2
        bodies.append(r.SerializeToString())
    t_hi = time.time_ns() + 60 * 10**9
    spans = args.requests * 512
    print(f"{args.requests} requests, {spans} spans, {sum(map(len, bodies)) / spans:.0f} B/span protobuf; "
          f"backfill as {args.marshaler}/{args.compression}")

    moto = MotoS3()
    tmp = tempfile.mkdtemp(prefix="otlake-backfill-bench-")
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_", "ARCHIVE_"))}
        env.update({"AWS_ACCESS_KEY_ID": moto.key_id, "AWS_SECRET_ACCESS_KEY": moto.secret,
                    "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"})
        subprocess.run([args.bin, "init", "-D", tmp], check=True, capture_output=True)
        proc = subprocess.Popen([args.bin, "start", "-F", "-D", tmp, "-H", "127.0.0.1", "-P", "0", "--log-level",
                                 "warn"], stdout=subprocess.PIPE, env=env)
        port = int(proc.stdout.readline().decode().strip().rsplit(":", 1)[1])
        results = send_native(port, bodies, args.connections, mp.Value("q", 0))
        acked = sum(r[0] for r in results)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=300) == 0
        assert acked == args.requests, f"{acked} of {args.requests} acknowledged"
        for rnd in range(args.rounds):
            bucket = moto.create_bucket(f"backfill-bench-{rnd}")
            t0 = time.time()
            with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
                p = subprocess.Popen([args.bin, "archive", "backfill", "-D", tmp, "--archive-s3-bucket", bucket,
                                      "--archive-endpoint", moto.endpoint, "--archive-marshaler", args.marshaler,
                                      "--archive-compression", args.compression, "--from", iso(t_lo), "--to",
                                      iso(t_hi), "--json"], stdout=out, stderr=err, env=env)
                _, status, ru = os.wait4(p.pid, 0)  # the backfill process's own CPU
                p.returncode = os.waitstatus_to_exitcode(status)
                wall = time.time() - t0
                out.seek(0)
                err.seek(0)
                if p.returncode != 0:
                    sys.exit(f"backfill exited {p.returncode}: {err.read().decode()[-2000:]}")
                rep = json.loads(out.read())
            assert rep["records"] == spans, rep
            cpu = ru.ru_utime + ru.ru_stime
            print(f"round {rnd + 1}: {rep['objects']} objects, {rep['bytes'] / 2**20:.1f} MiB "
                  f"({rep['bytes'] / spans:.1f} B/span), wall {wall:.2f}s, backfill CPU {cpu:.2f}s "
                  f"(user {ru.ru_utime:.2f}, sys {ru.ru_stime:.2f}) -> {spans / cpu:,.0f} spans per CPU-second, "
                  f"max RSS {ru.ru_maxrss / 1024:.0f} MiB")
    finally:
        moto.stop()
        if args.keep:
            print(f"instance kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
