"""Acknowledged means durable: a kill -9 loop against the real binary.

Clients send OTLP traces with unique span IDs (each span with one event, so every request touches
two tables) over several keep-alive connections and record which requests got a 200. The server
is killed with SIGKILL at a random instant -- flushes run every 200 ms, so kills land during
appends, flushes and commits -- and restarted on the same instance. After each restart:
  - every acknowledged span and its event is in the tables exactly once,
  - no span (acknowledged or not) appears twice,
  - deltalake, polars and DuckDB open every table.
OTLAKE_CRASH_CYCLES sets the number of cycles (CI: 20; the long run: 200).
"""
import collections
import os
import random
import signal
import threading
import time

import requests

from conftest import READERS, TABLES, Server, count_table, read_table
from test_bad_input import span_json, traces_json

CYCLES = int(os.environ.get("OTLAKE_CRASH_CYCLES", "20"))


def request_body(cycle, worker, n):
    spans = []
    for k in range(40):
        sid = f"{cycle:04x}{worker:02x}{n:06x}{k:04x}"
        s = span_json(span_id=sid, trace_id=f"{cycle:08x}{worker:08x}{n:016x}", name="crash")
        s["events"] = [{"timeUnixNano": "1544712660500000000", "name": f"ev-{sid}"}]
        spans.append(s)
    return [s["spanId"] for s in spans], traces_json(*spans, service=f"svc{worker}")


def test_kill9_loop_loses_nothing_acknowledged(tmp_path):
    rng = random.Random(int(os.environ.get("OTLAKE_CRASH_SEED", "7")))
    server = Server(tmp_path, extra_args=["--flush-age-ms", "200"])
    acked = set()
    lock = threading.Lock()
    totals = collections.Counter()
    server.start()
    started = time.time()
    try:
        for cycle in range(CYCLES):
            stop = threading.Event()

            def client(worker, url=server.url, cycle=cycle):
                session = requests.Session()
                n = 0
                while not stop.is_set():
                    ids, body = request_body(cycle, worker, n)
                    n += 1
                    try:
                        r = session.post(url + "/v1/traces", data=body,
                                         headers={"Content-Type": "application/json"}, timeout=10)
                    except requests.RequestException:
                        totals["errors"] += 1
                        continue
                    if r.status_code == 200:
                        with lock:
                            acked.update(ids)
                    else:
                        totals[f"http_{r.status_code}"] += 1

            threads = [threading.Thread(target=client, args=(w,)) for w in range(3)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.2, 1.2))
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait(timeout=30)
            server.proc = None
            stop.set()
            for t in threads:
                t.join()
            server.start()  # recovery replays the WAL before the port opens
            h = server.health()
            totals["replayed_records"] += h["recovery"]["replayed_records"]
            totals["corrupt_records"] += h["recovery"]["corrupt_records"]
            assert h["recovery"]["undecodable_records"] == 0, h["recovery"]

            spans = [r["span_id"] for r in read_table(server, "spans", columns=["span_id"])]
            counts = collections.Counter(spans)
            dups = [s for s, c in counts.items() if c > 1]
            assert not dups, f"cycle {cycle}: {len(dups)} spans stored twice, e.g. {dups[:3]}"
            missing = acked - set(spans)
            assert not missing, f"cycle {cycle}: {len(missing)} acknowledged spans lost, e.g. {sorted(missing)[:3]}"
            events = collections.Counter(r["name"][3:] for r in read_table(server, "span_events", columns=["name"]))
            assert all(c == 1 for c in events.values()), f"cycle {cycle}: an event stored twice"
            assert acked <= set(events), f"cycle {cycle}: acknowledged events lost"
            if cycle % 10 == 9:  # progress, so a long run that is stopped still says how far it got
                print(f"cycle {cycle + 1}/{CYCLES}: {len(acked)} acknowledged spans present once, "
                      f"{time.time() - started:.0f} s", flush=True)
            if cycle % 5 == 4 or cycle == CYCLES - 1:
                for reader in READERS:
                    for table in TABLES:
                        count_table(server, table, reader)  # decodes every column (or is absent)
                    assert count_table(server, "spans", reader) == len(spans)
        print(f"\n{CYCLES} kill -9 cycles: {len(acked)} acknowledged spans, all present once; {dict(totals)}")
        assert len(acked) > CYCLES * 100
    finally:
        server.stop()
