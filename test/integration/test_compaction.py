"""Compaction during the day against the real server: many small files become few, every reader
(the read API, deltalake, polars, DuckDB) sees the same rows before, during and after, and no
query run while files are swapped sees a row twice or loses one."""
import json
import random
import threading
import time

import pytest
import requests

from conftest import READERS, Server, read_table
from test_query import post, trace_body


def span_ids(rows):
    return [r["span_id"] for r in rows]


def test_small_files_are_compacted_and_every_reader_agrees(tmp_path):
    srv = Server(tmp_path, extra_args=["--flush-rows", "1", "--compact-min-files", "8",
                                       "--compact-interval-ms", "100"]).start()
    try:
        stop = threading.Event()
        problems = []

        def reader():  # queries while files are swapped: never a duplicate, never fewer rows
            last = 0
            while not stop.is_set():
                r = requests.get(f"{srv.url}/api/spans?max_rows=10000&select=span_id", timeout=30)
                if r.status_code != 200:
                    problems.append(r.text)
                    continue
                ids = span_ids(r.json()["rows"])
                if len(ids) != len(set(ids)):
                    problems.append(f"duplicate rows: {len(ids)} vs {len(set(ids))}")
                if len(ids) < last:
                    problems.append(f"rows went from {last} to {len(ids)}")
                last = len(ids)

        t = threading.Thread(target=reader)
        t.start()
        traces = [f"{random.getrandbits(128):032x}" for _ in range(80)]
        for tid in traces:
            post(srv, trace_body(tid, 3, events=False, links=False))
        deadline = time.time() + 30
        while time.time() < deadline:
            h = srv.wait_persisted()
            if h["tables"]["spans"]["compactions"] >= 1 and \
                    requests.get(f"{srv.url}/api/days", timeout=30).json()["days"][0]["tables"]["spans"]["files"] < 8:
                break
            time.sleep(0.2)
        stop.set()
        t.join()
        assert not problems, problems[:5]
        h = srv.health()["tables"]["spans"]
        assert h["compactions"] >= 1 and h["compacted_files"] >= 8, h
        day = requests.get(f"{srv.url}/api/days", timeout=30).json()["days"][0]
        assert day["tables"]["spans"]["rows"] == 240
        assert day["tables"]["spans"]["files"] < 8, day
        api = requests.get(f"{srv.url}/api/spans?max_rows=10000&select=span_id", timeout=30).json()
        assert api["count"] == 240 and len(set(span_ids(api["rows"]))) == 240
        for name in READERS:
            rows = read_table(srv, "spans", reader=name, day=day["day"])
            assert sorted(span_ids(rows)) == sorted(span_ids(api["rows"])), name
        for tid in random.sample(traces, 5):
            tr = requests.get(f"{srv.url}/api/traces/{tid}", timeout=30).json()
            assert tr["count"] == 3
        # The compaction commit is a rewrite: OPTIMIZE with dataChange=false.
        log = srv.table_path("spans", day["day"]) + "/_delta_log"
        import glob
        ops = []
        for f in sorted(glob.glob(log + "/*.json")):
            for line in open(f):
                a = json.loads(line)
                if "commitInfo" in a:
                    ops.append(a["commitInfo"]["operation"])
        assert "OPTIMIZE" in ops
    finally:
        assert srv.stop() == 0, srv.read_log()
    # After a restart the compacted table opens, and nothing was lost or duplicated.
    srv2 = Server(tmp_path).start()
    try:
        api = requests.get(f"{srv2.url}/api/spans?max_rows=10000&select=span_id", timeout=30).json()
        assert api["count"] == 240 and len(set(span_ids(api["rows"]))) == 240
    finally:
        assert srv2.stop() == 0
