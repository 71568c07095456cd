#!/usr/bin/env python3
"""Replay benchmark (issue 19): a Collector-layout archive of >= 1M spans in moto (a real S3
server on loopback) replayed by `otlake replay` into the lake of a running otlake server.

For each archive variant -- otlp_proto + zstd (.binpb.zst) and otlp_json + gzip (.json.gz), each
object one 512-span x 20-attribute request as bench/ingest_bench.py builds them (with
--requests-per-object K, proto-zstd only: K of them concatenated, i.e. one merged request of
K x 512 spans, as a Collector batch of that size is archived), span ids unique per request -- it
reports spans per CPU-second of the server (utime+stime from /proc over the
replay, including the final flush and commit), of the replayer (the `otlake replay` CLI, which
only lists, posts the job and polls), of both together, and MB/s read from moto (wall clock). The
archives are generated once and cached under build/replay_bench/ (the objects as files); moto
holds them in memory only, so they are uploaded at each run. moto's own CPU is printed too, not
counted (it is the S3 service, not otlake).

  .venv/bin/python bench/replay_bench.py [--objects 2048] [--variants proto-zstd,json-gzip]
                                         [--requests-per-object 1] [--parallelism 4] [--perf]

--perf records the server with `perf record -g` during the replay (when perf is installed).
"""
import argparse
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import zstandard

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "integration"))
import ingest_bench  # noqa: E402  (make_templates, stamp, to_otlp_json)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.environ.get("OTLAKE_BIN", os.path.join(ROOT, "build", "release", "otlake"))
CACHE = os.path.join(ROOT, "build", "replay_bench")
SPANS_PER_OBJECT = 512
FMT = "year=%Y/month=%m/day=%d/hour=%H/minute=%M"


def clk_tck():
    return os.sysconf(os.sysconf_names["SC_CLK_TCK"])


def cpu_seconds(pid):
    """utime+stime of a live process (and its waited-for children) from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / clk_tck()


def thread_cpu(pid):
    """CPU seconds per thread name of a live process (threads that exited are not listed)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        name = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw.rsplit(")", 1)[1].split()
        out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) / clk_tck()
    return out


def key_of(i, variant):
    minute = i // 16  # 16 objects per minute partition
    part = f"year=2025/month=06/day=25/hour={14 + minute // 60:02d}/minute={minute % 60:02d}"
    ext = ".binpb.zst" if variant == "proto-zstd" else ".json.gz"
    return f"bench/{part}/traces_{100000000 + i}{ext}"


def json_template(template):
    """An OTLP/JSON body of the protobuf template and the offsets of its span ids' hex text."""
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    req = trace_service_pb2.ExportTraceServiceRequest()
    req.ParseFromString(template[0])
    body = ingest_bench.to_otlp_json(req)
    offsets = []
    pos = 0
    for sp in req.resource_spans[0].scope_spans[0].spans:
        needle = b'"spanId":"' + sp.span_id.hex().encode() + b'"'
        off = body.find(needle, pos)
        assert off >= 0
        offsets.append(off + len(b'"spanId":"'))
        pos = off + len(needle)
    return body, offsets


def build(variant, objects, per_object=1):
    """The archive as files under build/replay_bench/<variant>-<objects>[x<per_object>]/ (cached)."""
    d = os.path.join(CACHE, f"{variant}-{objects}" + (f"x{per_object}" if per_object > 1 else ""))
    done = os.path.join(d, ".complete")
    if os.path.exists(done):
        return d
    shutil.rmtree(d, ignore_errors=True)
    t0 = time.time()
    templates = ingest_bench.make_templates(64, SPANS_PER_OBJECT)
    if variant == "json-gzip":
        templates = [json_template(t) for t in templates]
    zc = zstandard.ZstdCompressor(level=3)
    for i in range(objects):
        parts = []
        for r in range(i * per_object, (i + 1) * per_object):  # protobuf: concatenation merges
            body, offsets = templates[r % len(templates)]
            b = bytearray(body)
            for k, off in enumerate(offsets):
                sid = r.to_bytes(4, "big") + b"\x00\x07" + k.to_bytes(2, "big")
                if variant == "json-gzip":
                    b[off:off + 16] = sid.hex().encode()
                else:
                    b[off:off + 8] = sid
            parts.append(bytes(b))
        b = b"".join(parts)
        data = zc.compress(b) if variant == "proto-zstd" else gzip.compress(b, 6)
        path = os.path.join(d, key_of(i, variant))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    open(done, "w").close()
    print(f"  generated {objects} {variant} objects in {time.time() - t0:.0f} s (cached in {d})", flush=True)
    return d


def upload(moto, bucket, d, variant):
    from concurrent.futures import ThreadPoolExecutor
    s3 = moto.client()
    s3.create_bucket(Bucket=bucket)
    files = []
    for dirpath, _, names in os.walk(d):
        for n in names:
            if not n.startswith("."):
                files.append(os.path.join(dirpath, n))
    enc = "zstd" if variant == "proto-zstd" else "gzip"

    def put(p):
        with open(p, "rb") as f:
            s3.put_object(Bucket=bucket, Key=os.path.relpath(p, d), Body=f.read(), ContentEncoding=enc)
        return os.path.getsize(p)

    with ThreadPoolExecutor(8) as ex:
        return len(files), sum(ex.map(put, files))


def run_variant(variant, args, moto):
    d = build(variant, args.objects, args.requests_per_object)
    bucket = f"bench-{variant}"
    t0 = time.time()
    n, size = upload(moto, bucket, d, variant)
    print(f"  uploaded {n} objects, {size / 1e6:.1f} MB to moto in {time.time() - t0:.0f} s", flush=True)
    tmp = tempfile.mkdtemp(prefix="otlake-replay-bench-")
    try:
        subprocess.run([BIN, "init", "-D", tmp], check=True, capture_output=True)
        log = open(os.path.join(tmp, "server.log"), "wb")
        srv = subprocess.Popen([BIN, "start", "-F", "-D", tmp, "-H", "127.0.0.1", "-P", "0", "--log-level", "warn"],
                               stdout=subprocess.PIPE, stderr=log)
        port = int(srv.stdout.readline().decode().strip().rsplit(":", 1)[1])
        time.sleep(0.5)
        srv_cpu0 = cpu_seconds(srv.pid)
        threads0 = thread_cpu(srv.pid)
        moto_cpu0 = cpu_seconds(moto.proc.pid)
        perf = None
        if args.perf and shutil.which("perf"):
            # System-wide: the job's threads start after the attach (-p would miss them); report
            # with `perf report --pid <server pid>` (printed below).
            perf = subprocess.Popen(["perf", "record", "-a", "-g", "-o", os.path.join(CACHE, f"perf-{variant}.data")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            print(f"  perf: server pid {srv.pid}", flush=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "AWS_"))}
        env.update({"AWS_ACCESS_KEY_ID": moto.key_id, "AWS_SECRET_ACCESS_KEY": moto.secret})
        wall0 = time.time()
        children0 = rusage_children()
        cli = subprocess.Popen([BIN, "replay", "-D", tmp, "--s3-bucket", bucket, "--endpoint", moto.endpoint,
                                "--region", "us-east-1", "--s3-prefix", "bench", "--start", "2025-06-25 14:00",
                                "--end", "2025-06-25 18:00", "--parallelism", str(args.parallelism), "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        out, _ = cli.communicate()
        cli_cpu = rusage_children() - children0  # the replayer, reaped by communicate()
        wall = time.time() - wall0
        rep = json.loads(out)
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait()
        moto_cpu = cpu_seconds(moto.proc.pid) - moto_cpu0
        # Where the server's CPU went up to the job's end: the long-lived threads by name; the
        # replay job's threads have exited, so they are the rest of the process's CPU.
        threads1 = thread_cpu(srv.pid)
        srv_cpu_job = cpu_seconds(srv.pid) - srv_cpu0
        by_thread = {k: round(v - threads0.get(k, 0), 2) for k, v in threads1.items()
                     if v - threads0.get(k, 0) >= 0.01}
        by_thread["replay job threads (exited)"] = round(srv_cpu_job - sum(by_thread.values()), 2)
        # The final flush and commit count: SIGTERM, and the server's whole CPU minus its start.
        srv.send_signal(signal.SIGTERM)
        _, status, sru = os.wait4(srv.pid, 0)
        srv.returncode = os.waitstatus_to_exitcode(status)
        srv_cpu = sru.ru_utime + sru.ru_stime - srv_cpu0
        spans = rep["records"]
        assert rep["status"] == "done" and rep["objects_failed"] == 0, rep
        assert spans == args.objects * args.requests_per_object * SPANS_PER_OBJECT, rep
        mb = rep["bytes"] / 1e6
        res = {"variant": variant, "objects": rep["objects_ok"], "spans": spans, "archive_mb": round(mb, 1),
               "wall_s": round(wall, 2), "job_s": round(rep["seconds"], 2), "server_cpu_s": round(srv_cpu, 2),
               "replayer_cpu_s": round(cli_cpu, 2), "moto_cpu_s": round(moto_cpu, 2),
               "spans_per_server_cpu_s": round(spans / srv_cpu),
               "spans_per_cpu_s_server_plus_replayer": round(spans / (srv_cpu + cli_cpu)),
               "spans_per_s_wall": round(spans / rep["seconds"]),
               "mb_per_s_from_moto": round(mb / rep["seconds"], 2),
               "server_cpu_by_thread_until_job_end": by_thread, "server_exit": srv.returncode}
        print(json.dumps(res), flush=True)
        return res
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def rusage_children():
    import resource
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=2048, help="objects of 512 spans (2048 = 1,048,576 spans)")
    ap.add_argument("--variants", default="proto-zstd,json-gzip")
    ap.add_argument("--requests-per-object", type=int, default=1,
                    help="512-span requests merged into each object (proto-zstd only)")
    ap.add_argument("--parallelism", type=int, default=4)
    ap.add_argument("--perf", action="store_true")
    args = ap.parse_args()
    if args.requests_per_object > 1 and "json-gzip" in args.variants.split(","):
        ap.error("--requests-per-object applies to proto-zstd only")
    from s3_server import MotoS3
    os.makedirs(CACHE, exist_ok=True)
    moto = MotoS3()
    try:
        for v in args.variants.split(","):
            print(f"{v}:", flush=True)
            run_variant(v, args, moto)
    finally:
        moto.stop()


if __name__ == "__main__":
    main()
