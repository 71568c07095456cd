"""A full disk: the real binary with its instance directory (WAL and tables) on a small tmpfs.

Fill the disk while the server runs: ingest answers 503 + Retry-After, /healthz says ok:false with
a reason naming the full directory, and every refusal is counted; free the space: the server
resumes by itself (no restart), and after a restart every acknowledged span is in the tables
exactly once (spans of refused requests may be there too -- at-least-once -- but never twice).

Needs root and a kernel that lets us mount tmpfs (skipped with the reason otherwise)."""
import collections
import json
import os
import subprocess
import time

import pytest
import requests

from conftest import Server, read_table, wait_for
from test_bad_input import span_json, traces_json


def body(tag, n=60):
    pad = "d" * 700
    spans = [span_json(span_id=f"{tag:08x}{k:08x}", trace_id=f"{tag:016x}{k:016x}", name="diskfull",
                       attrs=[{"key": "pad", "value": {"stringValue": pad}}]) for k in range(n)]
    return [s["spanId"] for s in spans], traces_json(*spans)



@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(path):
    """Writes `path` until the disk is full; returns the bytes written."""
    n = 0
    chunk = b"\0" * (256 << 10)
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                n += f.write(chunk)
            except OSError:
                break
        for size in (4096, 512, 1):  # the last pages
            while True:
                try:
                    n += f.write(b"\0" * size)
                except OSError:
                    break
    return n


def test_disk_full_stops_acknowledging_and_resumes_by_itself(small_disk, tmp_path):
    server = Server(small_disk, extra_args=["--flush-age-ms", "200", "--wal-segment-bytes", str(4 << 20)])
    server.start()
    acked, sent = set(), set()
    tag = 0
    session = requests.Session()

    def send():
        nonlocal tag
        tag += 1
        ids, b = body(tag)
        sent.update(ids)
        r = session.post(server.url + "/v1/traces", data=b, headers={"Content-Type": "application/json"}, timeout=30)
        if r.status_code == 200:
            acked.update(ids)
        return r

    try:
        for _ in range(10):
            assert send().status_code == 200
        server.wait_persisted()

        filler = os.path.join(small_disk, "filler")
        filled = fill(filler)
        assert filled > 0
        refused = collections.Counter()
        last = None
        for _ in range(8):
            r = send()
            if r.status_code != 200:
                assert r.status_code == 503, (r.status_code, r.text)
                assert r.headers.get("Retry-After") == "5"
                assert "storage is failing" in r.json()["message"]
                refused[r.status_code] += 1
                last = r
        assert refused[503] >= 7, refused  # at most the first one fitted in what was left
        h = server.health()
        assert h["ok"] is False and h["status"] == "failing"
        assert "No space left on device" in h["reason"], h["reason"]
        assert str(small_disk) in h["reason"], h["reason"]  # names the directory that is full
        assert "No space left on device" in last.json()["message"]
        assert h["rejections"]["wal"] + h["rejections"]["tables"] == refused[503], h["rejections"]
        assert h["http"]["503"] == refused[503]

        os.remove(filler)  # space returns: no restart, no request needed to wake it up
        wait_for(lambda: server.health()["ok"], "the server to resume by itself", timeout=60)
        for _ in range(5):
            assert send().status_code == 200
        server.wait_persisted()
        h = server.health()
        assert h["ok"] is True and h["reason"] == ""
        assert server.stop() == 0, server.read_log()

        server.start()  # recovery: nothing acknowledged lost, nothing doubled
        stored = collections.Counter(r["span_id"] for r in read_table(server, "spans"))
        assert acked <= set(stored), f"{len(acked - set(stored))} acknowledged spans lost"
        assert set(stored) <= sent
        assert all(c == 1 for c in stored.values()), "a span stored twice"
        print(f"\ndisk full: {len(acked)} spans acknowledged, {refused[503]} requests refused with 503, "
              f"{len(set(stored) - acked)} spans of refused requests stored anyway (at-least-once)")
    finally:
        server.stop()
