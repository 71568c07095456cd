#!/usr/bin/env python3
"""Archive writer cost (issue 19 §3): server CPU per span with the archive on vs off.

The same pre-encoded OTLP/HTTP protobuf trace requests as bench/ingest_bench.py (512 spans x 20
attributes) are sent to a fresh otlake instance by build/release/load_client, alternating runs
with the archive off (A) and on (B: --archive-s3-bucket to a moto server on this machine, IAM
auth) in the same invocation. Each run's CPU is the server process's whole utime+stime from its
start to its exit (wait4 rusage), so the final flush -- Parquet commits and, with B, the
archive's last batch -- is included; the start-up CPU is measured separately (an idle start and
stop) and subtracted. B is checked to have archived every request (its state file). Not a test:
it prints numbers (bench/README.md "Archive writer").

  .venv/bin/python bench/archive_bench.py [--requests 400] [--rounds 3] [--marshaler otlp_proto]
      [--compression zstd] [--connections 4]
"""
import argparse
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

from ingest_bench import make_request, require_load_client, send_native, thread_cpu  # noqa: E402
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: E402
from s3_server import MotoS3  # noqa: E402


def run(binary, bodies, connections, extra, env, settle=0.0):
    """One server life: start, send every body, SIGTERM; returns (server CPU s, acked, data dir)."""
    tmp = tempfile.mkdtemp(prefix="otlake-archive-bench-")
    subprocess.run([binary, "init", "-D", tmp], check=True, capture_output=True)
    proc = subprocess.Popen([binary, "start", "-F", "-D", tmp, "-H", "127.0.0.1", "-P", "0", "--log-level", "warn"] + extra, stdout=subprocess.PIPE, env=env)
    port = int(proc.stdout.readline().decode().strip().rsplit(":", 1)[1])
    acked = mp.Value("q", 0)
    results = send_native(port, bodies, connections, acked) if bodies else [(0, {}, [])]
    time.sleep(settle)  # let the archive catch up, so its CPU shows on its own thread
    by_thread = cpu_by_thread_name(proc.pid)
    read = archive_read_bytes(proc.pid)
    if read is not None and bodies:
        wal = sum(len(b) for b in bodies)
        print(f"    otlake-archive read {read / 1e6:.1f} MB ({read / max(wal, 1):.2f}x the {wal / 1e6:.1f} MB of request bodies logged)")
    proc.send_signal(signal.SIGTERM)
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"server exited {proc.returncode}")
    total = ru.ru_utime + ru.ru_stime
    by_thread["(after SIGTERM: final flush, last batch)"] = total - sum(by_thread.values())
    return total, sum(r[0] for r in results), tmp, by_thread


def archive_read_bytes(pid):
    """Bytes the otlake-archive thread read through read/pread so far (/proc rchar), or None."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() != "otlake-archive":
                    continue
            with open(f"/proc/{pid}/task/{tid}/io") as f:
                return next(int(l.split()[1]) for l in f if l.startswith("rchar:"))
        except (OSError, StopIteration):
            continue
    return None


def cpu_by_thread_name(pid):
    """CPU seconds so far of the process's threads, summed by thread name."""
    out = {}
    for name, sec in thread_cpu(pid).values():
        out[name] = out.get(name, 0.0) + sec
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--unique", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--marshaler", default="otlp_proto")
    ap.add_argument("--compression", default="zstd")
    ap.add_argument("--level", default="0", help="--archive-compression-level (0: the exporter's)")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "otlake"))
    ap.add_argument("--client", default="native")
    ap.add_argument("--settle", type=float, default=0.0,
                    help="seconds to wait after the last ack before stopping the server (the per-thread "
                         "figures then show the archive's own thread; the totals are the same work)")
    args = ap.parse_args()
    require_load_client(args)

    rng = random.Random(42)
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
    spans = args.requests * 512
    print(f"{args.requests} requests, {spans} spans, {sum(map(len, bodies)) / spans:.0f} B/span protobuf; "
          f"archive as {args.marshaler}/{args.compression} (level {args.level})")

    moto = MotoS3()
    try:
        moto.create_bucket("archive-bench")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
        env.update({"AWS_ACCESS_KEY_ID": moto.key_id, "AWS_SECRET_ACCESS_KEY": moto.secret,
                    "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"})
        on = ["--archive-s3-bucket", "archive-bench", "--archive-endpoint", moto.endpoint,
              "--archive-marshaler", args.marshaler, "--archive-compression", args.compression,
              "--archive-compression-level", args.level]
        idle = {}
        for label, extra in (("off", []), ("on", on)):
            cpu, _, tmp, _ = run(args.bin, [], 1, extra, env)
            shutil.rmtree(tmp, ignore_errors=True)
            idle[label] = cpu
        print(f"idle start+stop CPU: off {idle['off']:.2f}s, on {idle['on']:.2f}s (subtracted)")
        per = {"off": [], "on": []}
        own = []  # the otlake-archive thread's CPU seconds per span, "on" runs
        for rnd in range(args.rounds):
            order = (("off", []), ("on", on)) if rnd % 2 == 0 else (("on", on), ("off", []))
            for label, extra in order:
                cpu, ok, tmp, threads = run(args.bin, bodies, args.connections, extra, env, args.settle)
                note = ""
                if label == "on":
                    with open(os.path.join(tmp, "default", "archive", "state.json")) as f:
                        st = json.load(f)
                    assert st["requests"] == ok and st["pending"] is None, st
                    note = f"; archived {st['requests']} requests in {st['objects']} objects, " \
                           f"{st['bytes'] / spans:.1f} B/span"
                shutil.rmtree(tmp, ignore_errors=True)
                net = cpu - idle[label]
                per[label].append(ok * 512 / net)
                if label == "on" and "otlake-archive" in threads:
                    own.append(threads["otlake-archive"] / (ok * 512))
                print(f"round {rnd + 1} archive {label:3}: acked {ok}, server CPU {cpu:.2f}s (net {net:.2f}s) -> "
                      f"{ok * 512 / net:,.0f} spans/CPU-s{note}")
                print("    CPU us/span by thread: " + ", ".join(
                    f"{name} {sec * 1e6 / (ok * 512):.2f}" for name, sec in sorted(threads.items(), key=lambda kv: -kv[1])
                    if sec > 0))
        off = sorted(per["off"])[len(per["off"]) // 2]
        onm = sorted(per["on"])[len(per["on"]) // 2]
        print(f"median: off {off:,.0f}, on {onm:,.0f} spans per server CPU-second -> the archive adds "
              f"{(off / onm - 1) * 100:.1f}% CPU per span (target <= 15%)")
        if own:
            mine = sorted(own)[len(own) // 2]
            print(f"the otlake-archive thread alone: median {mine * 1e6:.2f} us/span = {mine * off * 100:.1f}% of the "
                  f"off runs' CPU per span (the rest of the difference: other threads slower beside it on shared "
                  f"cores, the last batch at SIGTERM)")
    finally:
        moto.stop()


if __name__ == "__main__":
    main()
