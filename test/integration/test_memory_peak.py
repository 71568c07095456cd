"""Peak memory under overload: the process's peak RSS (VmHWM) stays within 1.5x
--max-buffered-bytes above what the idle server holds, while clients offer far more than it can
take and compaction runs (issue 21). Not timing-based: the bound is on bytes, and the test checks
that the server was overloaded (429s) and flushed and compacted during the run, so it measures
the case it claims to.

What the bound covers: open batches and request bodies (the budget itself), a batch's Parquet
conversion while it is written and a compaction's inputs (both counted in the budget and capped
by it: buffer/pipeline.h), and the allocator's retention (the flusher trims the heap after each
write and compaction; Arrow uses the same allocator).

The budget is the issue's 256 MiB (peaks 253-367 MiB above idle in 6 runs, 0.99-1.43x). At
96 MiB the same load peaks at 144-152 MiB above idle (1.50-1.58x, bench/README.md): besides the
accounted ~96 MiB, ~50 MiB the budget does not count (the WAL's pooled record buffers, up to
16 MiB; malloc's free but unreturned memory; rows decoded but not yet appended), not yet
narrowed down further.
"""
import os
import random
import sys
import threading
import time
import http.client

from conftest import ROOT, Server

sys.path.insert(0, os.path.join(ROOT, "bench"))
from ingest_bench import make_request  # noqa: E402  (the benchmark's realistic 512-span requests)

BUDGET = 256 << 20
MARGIN = 1.5  # peak RSS above the idle process, in budgets
SECONDS = 20
CONNECTIONS = 24


def proc_status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {pid}")


def client(port, bodies, deadline, counts, lock):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    i = 0
    while time.time() < deadline:
        conn.request("POST", "/v1/traces", body=bodies[i % len(bodies)],
                     headers={"Content-Type": "application/x-protobuf"})
        r = conn.getresponse()
        r.read()
        with lock:
            counts[r.status] = counts.get(r.status, 0) + 1
        if r.status == 429:
            time.sleep(0.05)  # as a client honouring Retry-After would, a little less patiently
        i += 1
    conn.close()


def test_peak_rss_under_overload_stays_within_the_budget(tmp_path):
    rng = random.Random(7)
    bodies = [make_request(rng).SerializeToString() for _ in range(8)]
    server = Server(tmp_path, extra_args=[
        "--max-buffered-bytes", str(BUDGET), "--compact-min-files", "2",
        "--compact-interval-ms", "500", "--flush-age-ms", "5000"]).start()
    try:
        server.health()
        idle = proc_status(server.proc.pid, "VmRSS")
        counts, lock = {}, threading.Lock()
        deadline = time.time() + SECONDS
        threads = [threading.Thread(target=client, args=(server.port, bodies, deadline, counts, lock))
                   for _ in range(CONNECTIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        hwm = proc_status(server.proc.pid, "VmHWM")
        h = server.health()
        spans = h["tables"]["spans"]
        print(f"idle {idle / 2**20:.0f} MiB, VmHWM {hwm / 2**20:.0f} MiB, budget {BUDGET / 2**20:.0f} MiB; "
              f"answers {counts}; spans flushes {spans['flushes']}, compactions {spans.get('compactions')}")
        # The run measured what it claims to: overloaded, flushing and compacting.
        assert counts.get(429, 0) > 0, f"never overloaded: {counts}"
        assert counts.get(200, 0) > 0, f"nothing accepted: {counts}"
        assert spans["flushes"] >= 2, spans
        assert spans.get("compactions", 0) >= 1, spans
        assert set(counts) <= {200, 429}, counts
        assert hwm <= idle + MARGIN * BUDGET, (
            f"peak RSS {hwm / 2**20:.0f} MiB > idle {idle / 2**20:.0f} MiB + {MARGIN} x budget "
            f"{BUDGET / 2**20:.0f} MiB")
    finally:
        assert server.stop() == 0
