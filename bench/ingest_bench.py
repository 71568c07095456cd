#!/usr/bin/env python3
"""Ingest benchmark: pre-encoded OTLP/HTTP protobuf trace requests (512 spans x 20 attributes,
~8 services) replayed over keep-alive connections against the real otlake binary.

Default mode (CPU): reports spans per *server* CPU-second (utime+stime of the otlake process, read
from /proc, over the send phase plus the final flush and commit), request latency percentiles,
on-disk bytes per span (Parquet + Delta log) and, computed in the same run, the reference size of
the same spans as OTLP protobuf + zstd-3 per request. Not a test: it prints numbers (see
bench/README.md).

  .venv/bin/python bench/ingest_bench.py [--requests 400] [--connections 4] [--unique 80] [--json]

--json (CPU mode): the same requests as OTLP/JSON (hex ids, 64-bit integers as strings, enums as
numbers, what SDKs and the Collector send), posted as application/json. --json-rapidjson: the same
bodies led by an unknown member holding a lone surrogate escape ({"x":"\\udc00",...}), which the
one-pass parser leaves to RapidJSON after its first bytes: the decoder as it was before the
one-pass parser, in the same binary (A/B).

Load modes (issue 4: ack latency and overload). Every request gets fresh span ids (stamped into a
pre-encoded body: request number, connection, span index), so after the server is stopped the
bench reads the spans tables back and checks that every span of every 2xx answer is there exactly
once. The server's peak resident memory is its VmHWM (/proc/<pid>/status) just before the stop.
The clients are build/release/load_client (bench/load_client.cc: a thread per connection, same
stamped requests) unless --client python (the Python clients of the runs before 2026-12-06, which
took much of the 2 cores the server runs on).

  --find-max [--duration 20] [--connections 8]
      closed loop (each connection sends its next request as soon as the last is answered): the
      acknowledged requests/s is the maximum sustainable rate; then (unless --no-half) an open-loop
      run at half of it, reporting ack latency.
  --rate R [--duration 30] [--connections 4]
      open loop: R requests/s spread evenly over the connections, each request sent at its
      scheduled time; latency is measured from the scheduled time (so a stall that delays later
      sends counts against them: no coordinated omission) and is reported as p50/p99/max, with
      the service time (from the actual send) next to it.
  --overload --rate R [--connections 64] [--procs 4]
      open loop at R (use >= 10x the max rate) over many connections; reports 2xx/429/503 counts,
      the server's peak RSS and the loss check. Server flags go after --server-args, e.g.
      --server-args=--max-buffered-bytes=268435456
"""
import argparse
import base64
import http.client
import json
import multiprocessing as mp
import os
import random
import shutil
import collections
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

import zstandard
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SERVICES = ["checkout", "cart", "payment", "frontend", "inventory", "shipping", "email", "recommendation"]
ROUTES = ["/api/cart", "/api/cart/{id}", "/api/checkout", "/api/products/{id}", "/api/orders", "/healthz"]


def to_otlp_json(req):
    """OTLP/JSON text of an ExportTraceServiceRequest: protobuf's JSON mapping with hex ids."""
    from google.protobuf.json_format import MessageToDict
    d = MessageToDict(req, use_integers_for_enums=True)
    for rs in d.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for sp in ss.get("spans", []):
                for k in ("traceId", "spanId", "parentSpanId"):
                    if k in sp:
                        sp[k] = base64.b64decode(sp[k]).hex()
    return json.dumps(d, separators=(",", ":")).encode()


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


def sender(port, bodies, idx, out_q, acked, content_type="application/x-protobuf"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    lat, ok, other = [], 0, {}
    for b in bodies:
        t0 = time.perf_counter()
        conn.request("POST", "/v1/traces", body=b, headers={"Content-Type": content_type})
        r = conn.getresponse()
        r.read()
        lat.append(time.perf_counter() - t0)
        if r.status == 200:
            ok += 1
            with acked.get_lock():
                acked.value += 1
        else:
            other[r.status] = other.get(r.status, 0) + 1
    out_q.put((ok, other, lat))


LOAD_CLIENT = os.path.join(ROOT, "build", "release", "load_client")


def require_load_client(args):
    if args.client == "native" and not os.path.exists(LOAD_CLIENT):
        sys.exit(f"{LOAD_CLIENT} is missing: ninja -C build/release load_client (or --client python)")


def write_templates(templates):
    """A temporary file of (body, span-id offsets) pairs in load_client's format; returns its path."""
    with tempfile.NamedTemporaryFile(prefix="otlake-templates-", delete=False) as f:
        for body, offsets in templates:
            f.write(struct.pack("<I", len(body)) + body + struct.pack("<I", len(offsets)))
            f.write(struct.pack("<%dI" % len(offsets), *offsets))
        return f.name


def native_statuses(r):
    """load_client's {"200": n, ...} as {200: n, ...}."""
    return {int(k): v for k, v in r["statuses"].items()}


def send_native(port, bodies, connections, acked, content_type="application/x-protobuf"):
    """CPU mode with bench/load_client.cc: connection i sends bodies i, i + C, ... once each.
    Returns [(ok, other statuses, latencies)] like the Python senders; `acked` follows its
    progress lines (for the steady-state sampler)."""
    path = write_templates([(body, []) for body in bodies])  # sent as they are: no stamping
    try:
        p = subprocess.Popen([LOAD_CLIENT, "--port", str(port), "--templates", path, "--connections",
                              str(connections), "--sequential", "1", "--progress", "1",
                              "--start-in-ms", "0", "--content-type", content_type], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def follow():
            for line in p.stderr:
                if line.strip().isdigit():
                    acked.value = int(line)
        t = threading.Thread(target=follow, daemon=True)
        t.start()
        out = p.stdout.read()
        p.wait()
        t.join()
    finally:
        os.unlink(path)
    if p.returncode != 0:
        sys.exit(f"load_client failed ({p.returncode})")
    r = json.loads(out)
    statuses = native_statuses(r)
    ok = statuses.pop(200, 0)
    return [(ok, statuses, r["lat"])]


# ---------------------------------------------------------------------------------------------
# Load modes


def make_templates(n, spans_per_request=512, seed=42):
    """n encoded requests and, for each, the byte offsets of its span ids."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        req = make_request(rng, spans_per_request)
        body = req.SerializeToString()
        offsets = []
        for sp in req.resource_spans[0].scope_spans[0].spans:
            off = body.find(b"\x12\x08" + sp.span_id)  # field 2 (span_id), length 8
            assert off > 0
            offsets.append(off + 2)
        out.append((body, offsets))
    return out


def stamp(template, req_no, conn_no):
    """The template with span ids (request number, connection, span index): unique per request."""
    body, offsets = template
    b = bytearray(body)
    for k, off in enumerate(offsets):
        b[off:off + 8] = struct.pack(">IHH", req_no, conn_no, k)
    return bytes(b)


def load_conn(port, conn_no, templates, rate, start_at, end_at, res, lock):
    """One keep-alive connection: open loop at `rate` requests/s, or closed loop if rate is 0."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    statuses, lat, svc, acked, retry_after = collections.Counter(), [], [], [], collections.Counter()
    late = 0  # requests sent after their scheduled time had passed by more than 1 s
    i = 0
    errors = 0
    while True:
        i += 1
        body = stamp(templates[(conn_no * 7 + i) % len(templates)], i, conn_no)
        if rate > 0:
            sched = start_at + (i - 1) / rate
            if sched >= end_at or time.perf_counter() >= end_at:  # behind schedule: stop at the end too
                break
            delay = sched - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        else:
            sched = time.perf_counter()
            if sched >= end_at:
                break
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"})
            r = conn.getresponse()
            r.read()
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            continue
        t1 = time.perf_counter()
        statuses[r.status] += 1
        if r.status == 200:
            acked.append(i)
            lat.append(t1 - sched)
            svc.append(t1 - t0)
        else:
            retry_after[r.getheader("Retry-After")] += 1
    conn.close()
    with lock:
        res["statuses"].update(statuses)
        res["retry_after"].update(retry_after)
        res["lat"].extend(lat)
        res["svc"].extend(svc)
        res["acked"].extend((conn_no, x) for x in acked)
        res["errors"] += errors


def load_proc(port, conn_nos, templates, rate_per_conn, start_at, end_at, out_q):
    res = {"statuses": collections.Counter(), "retry_after": collections.Counter(), "lat": [], "svc": [],
           "acked": [], "errors": 0}
    lock = threading.Lock()
    threads = [threading.Thread(target=load_conn, args=(port, c, templates, rate_per_conn, start_at, end_at, res, lock))
               for c in conn_nos]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out_q.put(res)


def proc_status(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class BenchServer:
    def __init__(self, binary, extra_args):
        self.tmp = tempfile.mkdtemp(prefix="otlake-bench-", dir=DATA_DIR[0])
        subprocess.run([binary, "init", "-D", self.tmp], check=True, capture_output=True)
        self.log = open(os.path.join(self.tmp, "server.log"), "wb")
        self.proc = subprocess.Popen([binary, "start", "-F", "-D", self.tmp, "-H", "127.0.0.1", "-P", "0",
                                      "--log-level", "warn"] + list(extra_args), stdout=subprocess.PIPE,
                                     stderr=self.log)
        self.port = int(self.proc.stdout.readline().decode().strip().rsplit(":", 1)[1])
        self.max_rss = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self):
        while not self._stop.wait(0.05):
            self.max_rss = max(self.max_rss, proc_status(self.proc.pid, "VmRSS"))

    def health(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request("GET", "/healthz")
        import json
        return json.loads(c.getresponse().read())

    def stop(self):
        """SIGTERM (flush + commit everything); returns (exit code, VmHWM bytes, CPU seconds)."""
        hwm = proc_status(self.proc.pid, "VmHWM")
        self._stop.set()
        self.proc.send_signal(signal.SIGTERM)
        _, status, ru = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        return self.proc.returncode, hwm, ru.ru_utime + ru.ru_stime

    def stored_span_ids(self):
        """Every span_id in the spans tables of every day (read with delta-rs)."""
        import glob
        import pyarrow as pa
        from deltalake import DeltaTable, QueryBuilder
        ids = collections.Counter()
        for path in glob.glob(os.path.join(self.tmp, "default", "staging", "days", "*", "otel", "spans")):
            t = pa.table(QueryBuilder().register("t", DeltaTable(path)).execute("SELECT span_id FROM t").read_all())
            ids.update(t.column("span_id").to_pylist())
        return ids

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


CLIENT = ["native"]  # load modes: "native" (build/release/load_client) or "python" (--client)


def run_native_load(server, templates, rate, duration, connections, first_conn):
    """The same load from bench/load_client.cc: one thread per connection, blocking sockets, the
    same stamped span ids; far less client CPU on the server's cores than Python clients."""
    path = write_templates(templates)
    try:
        out = subprocess.run([LOAD_CLIENT, "--port", str(server.port), "--templates", path,
                              "--connections", str(connections), "--first-conn", str(first_conn),
                              "--rate", str(rate), "--duration", str(duration), "--start-in-ms", "500"],
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    r = json.loads(out)
    res = {"statuses": collections.Counter(native_statuses(r)),
           "retry_after": collections.Counter(r["retry_after"]), "lat": r["lat"], "svc": r["svc"],
           "acked": [tuple(x) for x in r["acked"]], "errors": r["errors"]}
    return res, r["wall"]


def run_load(server, templates, rate, duration, connections, procs, phase=0):
    """Runs the clients; rate 0 means closed loop. Returns the merged results and the wall time.
    Connection numbers (part of every span id) are phase * 1000 + i, so phases never share ids."""
    if CLIENT[0] == "native":
        return run_native_load(server, templates, rate, duration, connections, phase * 1000)
    procs = max(1, min(procs, connections))
    groups = [list(range(phase * 1000 + i, phase * 1000 + connections, procs)) for i in range(procs)]
    q = mp.Queue()
    start_at = time.perf_counter() + 1.0  # every process is up before the first send
    end_at = start_at + duration
    per_conn = rate / connections if rate > 0 else 0
    ps = [mp.Process(target=load_proc, args=(server.port, g, templates, per_conn, start_at, end_at, q))
          for g in groups]
    for p in ps:
        p.start()
    parts = [q.get() for _ in ps]
    for p in ps:
        p.join()
    wall = time.perf_counter() - start_at
    res = {"statuses": collections.Counter(), "retry_after": collections.Counter(), "lat": [], "svc": [],
           "acked": [], "errors": 0}
    for r in parts:
        res["statuses"].update(r["statuses"])
        res["retry_after"].update(r["retry_after"])
        res["lat"].extend(r["lat"])
        res["svc"].extend(r["svc"])
        res["acked"].extend(r["acked"])
        res["errors"] += r["errors"]
    return res, wall


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] * 1000 if xs else float("nan")


def check_stored(server, acked, spans_per_request):
    """Every span of every acknowledged request stored exactly once: (missing, duplicated, extra)."""
    stored = server.stored_span_ids()
    want = set()
    for conn_no, req_no in acked:
        for k in range(spans_per_request):
            want.add(struct.pack(">IHH", req_no, conn_no, k).hex())
    missing = len(want - set(stored))
    dups = sum(1 for c in stored.values() if c > 1)
    extra = len(set(stored) - want)  # spans of requests answered 429/503 that were stored anyway
    return len(want), missing, dups, extra


def report(label, res, wall, cpu=None):
    st = dict(sorted(res["statuses"].items()))
    ok = res["statuses"].get(200, 0)
    print(f"{label}: {sum(st.values())} requests in {wall:.1f}s, statuses {st}, client errors {res['errors']}; "
          f"acked {ok / wall:.1f} req/s = {ok * SPANS[0] / wall:,.0f} spans/s")
    if res["lat"]:
        print(f"  ack latency (from scheduled send): p50 {pct(res['lat'], .5):.1f} ms, p90 {pct(res['lat'], .9):.1f} ms, "
              f"p99 {pct(res['lat'], .99):.1f} ms, max {max(res['lat']) * 1000:.1f} ms")
        print(f"  service time (from actual send):   p50 {pct(res['svc'], .5):.1f} ms, p90 {pct(res['svc'], .9):.1f} ms, "
              f"p99 {pct(res['svc'], .99):.1f} ms, max {max(res['svc']) * 1000:.1f} ms")
    if res["retry_after"]:
        print(f"  Retry-After of refusals: {dict(res['retry_after'])}")
    if cpu is not None:
        print(f"  server CPU {cpu:.1f}s over the run -> {cpu / wall * 100:.0f}% of one core")


SPANS = [512]  # spans per request in load modes (set from --spans-per-request)
DATA_DIR = [None]  # where the server's instance directory is created (--data-dir)


def load_phase(args, templates, label, rate, procs):
    """One fresh server, one load phase (rate 0: closed loop), stop, check. Returns (acked req/s, ok)."""
    server = BenchServer(args.bin, args.server_args)
    try:
        cpu0 = cpu_seconds(server.proc.pid)
        res, wall = run_load(server, templates, rate, args.duration, args.connections, procs)
        cpu1 = cpu_seconds(server.proc.pid)
        report(label, res, wall, cpu1 - cpu0)
        h = server.health()
        lat = h.get("ack_latency_ms", {})
        print("  server-side phases of the last %d acks (ms, p50/p99/max): %s" % (
            lat.get("samples", 0), ", ".join(f"{k} {v['p50']:.1f}/{v['p99']:.1f}/{v['max']:.1f}"
                                            for k, v in lat.items() if isinstance(v, dict))))
        print(f"  /healthz rejections {h.get('rejections')}")
        print(f"  /healthz memory {h.get('memory')}; wal syncs {h['wal']['syncs']}; "
              f"spans flushes {h['tables']['spans']['flushes']}")
        rc, hwm, cpu = server.stop()
        print(f"  server exit {rc}; peak RSS (VmHWM) {hwm / 2**20:.0f} MiB, sampled max VmRSS "
              f"{server.max_rss / 2**20:.0f} MiB; server CPU incl. final flush {cpu:.1f}s")
        want, missing, dups, extra = check_stored(server, res["acked"], args.spans_per_request)
        print(f"  stored check: {want} acknowledged spans, {missing} missing, {dups} duplicated, "
              f"{extra} stored from refused requests")
        return res["statuses"].get(200, 0) / wall, missing == 0 and dups == 0 and rc == 0
    finally:
        server.cleanup()


def load_main(args):
    SPANS[0] = args.spans_per_request
    CLIENT[0] = args.client
    require_load_client(args)
    DATA_DIR[0] = args.data_dir
    templates = make_templates(args.unique_load, args.spans_per_request)
    la = os.getloadavg()
    print(f"load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} at start; {len(templates)} templates of "
          f"{len(templates[0][0])} bytes ({args.spans_per_request} spans); server flags {args.server_args}")
    ok = True
    rate = args.rate
    if args.find_max:
        rate, good = load_phase(args, templates, f"closed loop, {args.connections} connections", 0,
                                args.connections)
        ok &= good
        print(f"max sustainable rate ~ {rate:.1f} req/s ({rate * SPANS[0]:,.0f} spans/s)")
        rate = 0 if args.no_half else rate / 2
    if rate > 0:
        label = "overload" if args.overload else "open loop"
        _, good = load_phase(args, templates, f"{label} at {rate:.1f} req/s, {args.connections} connections",
                             rate, args.procs)
        ok &= good
    la = os.getloadavg()
    print(f"load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} at end")
    return 0 if ok else 1


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def minor_faults(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])


def thread_cpu(pid):
    """{tid: (thread name, CPU seconds)} of a running process, from /proc/<pid>/task/*/stat."""
    out = {}
    tck = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                s = f.read()
        except OSError:
            continue  # the thread ended
        fields = s.rsplit(")", 1)[1].split()
        out[tid] = (s[s.index("(") + 1:s.rindex(")")], (int(fields[11]) + int(fields[12])) / tck)
    return out


class CpuSampler:
    """Samples (acked requests, server CPU per thread) every 100 ms while the load runs, so the
    report can leave out the warm-up (first touch of the server's memory is expensive on a VM)
    and split the CPU between the HTTP threads (read, decode, WAL) and the flusher (Parquet,
    Delta)."""

    def __init__(self, pid, acked):
        self.pid, self.acked, self.samples = pid, acked, []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def sample(self):
        try:
            self.samples.append((self.acked.value, thread_cpu(self.pid), minor_faults(self.pid)))
        except OSError:
            pass  # the server has exited

    def run(self):
        while not self.done.wait(0.1):
            self.sample()

    def stop(self):
        self.done.set()
        self.thread.join()
        self.sample()

    def steady(self, total, skip=0.25):
        """(requests, {thread name: CPU s}, minor page faults) between the sample where `skip` of
        `total` requests were acked and the last one; None if the run was too short to tell."""
        start = next((s for s in self.samples if s[0] >= skip * total), None)
        end = self.samples[-1]
        if start is None or end[0] - start[0] < 0.25 * total:
            return None
        by_name = {}
        for tid, (name, cpu) in end[1].items():
            by_name[name] = by_name.get(name, 0.0) + cpu - start[1].get(tid, (name, 0.0))[1]
        return end[0] - start[0], by_name, end[2] - start[2]


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
    ap.add_argument("--rate", type=float, default=0, help="open loop: requests/s over all connections")
    ap.add_argument("--find-max", action="store_true", help="closed loop for the max rate, then half of it")
    ap.add_argument("--no-half", action="store_true", help="with --find-max: skip the half-rate run")
    ap.add_argument("--overload", action="store_true", help="open loop at --rate (>= 10x max) over many connections")
    ap.add_argument("--duration", type=float, default=20, help="seconds per load phase")
    ap.add_argument("--procs", type=int, default=0, help="client processes (default: one per connection, "
                                                         "4 with --overload)")
    ap.add_argument("--data-dir", default=None, help="load modes: parent of the server's data directory "
                                                     "(default: the system temp dir)")
    ap.add_argument("--spans-per-request", type=int, default=512, help="load modes: spans per request")
    ap.add_argument("--unique-load", type=int, default=16, help="distinct request templates in load modes")
    ap.add_argument("--server-args", default="", help="extra otlake start flags, space-separated")
    ap.add_argument("--json", action="store_true", help="CPU mode: send the requests as OTLP/JSON")
    ap.add_argument("--json-rapidjson", action="store_true",
                    help="CPU mode: OTLP/JSON that takes the RapidJSON path (A/B, see the header)")
    ap.add_argument("--client", choices=["native", "python"], default="native",
                    help="load modes: bench/load_client.cc (default; build/release/load_client) or "
                         "Python http.client processes (the clients of the runs before 2026-12-06)")
    args = ap.parse_args()
    if args.rate or args.find_max or args.overload:
        if args.overload and not args.rate:
            ap.error("--overload needs --rate (>= 10x the rate --find-max reports)")
        if args.overload and args.connections == 4:
            args.connections = 64
        if not args.procs:
            args.procs = 4 if args.overload else args.connections
        args.server_args = args.server_args.split()
        sys.exit(load_main(args))

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
    content_type = "application/x-protobuf"
    if args.json or args.json_rapidjson:
        msg = trace_service_pb2.ExportTraceServiceRequest
        bodies = [to_otlp_json(msg.FromString(b)) for b in bodies]
        if args.json_rapidjson:
            bodies = [b'{"x":"\\udc00",' + b[1:] for b in bodies]
        content_type = "application/json"
        print(f"sent as OTLP/JSON: {sum(len(b) for b in bodies) / spans:.1f} B/span")

    require_load_client(args)
    tmp = tempfile.mkdtemp(prefix="otlake-bench-")
    try:
        subprocess.run([args.bin, "init", "-D", tmp], check=True, capture_output=True)
        proc = subprocess.Popen([args.bin, "start", "-F", "-D", tmp, "-H", "127.0.0.1", "-P", "0",
                                 "--log-level", "warn"], stdout=subprocess.PIPE)
        port = int(proc.stdout.readline().decode().strip().rsplit(":", 1)[1])
        cpu0 = cpu_seconds(proc.pid)
        wall0 = time.time()
        acked = mp.Value("q", 0)
        sampler = CpuSampler(proc.pid, acked)
        if args.client == "native":
            results = send_native(port, bodies, args.connections, acked, content_type)
        else:
            q = mp.Queue()
            chunks = [bodies[i::args.connections] for i in range(args.connections)]
            ps = [mp.Process(target=sender, args=(port, c, i, q, acked, content_type)) for i, c in enumerate(chunks)]
            for p in ps:
                p.start()
            results = [q.get() for _ in ps]
            for p in ps:
                p.join()
        send_wall = time.time() - wall0
        sampler.stop()
        proc.send_signal(signal.SIGTERM)  # graceful stop: flush + commit everything
        # Peak RSS including the final flush: sample VmHWM until the process exits (WNOWAIT
        # leaves it unreaped, so wait4 below still gets its rusage).
        hwm = proc_status(proc.pid, "VmHWM")
        while os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            hwm = max(hwm, proc_status(proc.pid, "VmHWM"))
            time.sleep(0.01)
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
        print(f"send wall {send_wall:.2f}s -> {ok * 512 / send_wall:,.0f} spans/s wall ({args.client} clients "
              f"on the same 2 cores)")
        print(f"server CPU {cpu:.2f}s -> {ok * 512 / cpu:,.0f} spans per server CPU-second "
              f"(user {ru.ru_utime:.2f}s, sys {ru.ru_stime:.2f}s, whole run; "
              f"{ru.ru_minflt / 1000:.0f}k minor page faults)")
        steady = sampler.steady(args.requests)
        if steady:
            n, by_name, faults = steady
            sp = n * 512
            total = sum(by_name.values()) or float("nan")
            parts = ", ".join(f"{k} {v * 1e6 / sp:.2f}" for k, v in sorted(by_name.items(), key=lambda kv: -kv[1])
                              if v > 0)
            print(f"steady state (requests acked after the first 25%: {sp} spans): {sp / total:,.0f} spans "
                  f"per server CPU-second; CPU us/span by thread: {parts}; "
                  f"{faults / n:.1f} minor page faults per request")
        print(f"latency p50 {lat[len(lat) // 2] * 1000:.1f} ms, p99 {lat[int(len(lat) * 0.99)] * 1000:.1f} ms")
        la = os.getloadavg()
        print(f"server peak RSS (VmHWM) {hwm / 2**20:.0f} MiB; load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}")
        print(f"on disk {day_bytes / spans:.1f} B/span (Parquet + Delta log); "
              f"ratio to protobuf+zstd-3 {day_bytes / zstd3:.2f}")
    finally:
        if os.environ.get("OTLAKE_BENCH_KEEP"):  # e.g. for bench/column_bytes.py on the day
            print(f"kept the instance in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
