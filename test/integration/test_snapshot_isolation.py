"""A query reads one Delta snapshot from start to end (DESIGN promise 6, docs/delta.md "Readers and
deleted files"): while the writer side compacts, seals, uploads and cleans, concurrent queries of
the read API never answer fewer rows than an earlier answer, never a row twice, never a 200 with
warnings about skipped data.

The short versions run in CI; the long ones are behind the slow label and take their length from
OTLAKE_STRESS_SECONDS (default 600).
"""
import fcntl
import glob
import json
import os
import random
import subprocess
import threading
import time

import pytest
import requests

from conftest import Server, otlake_bin
from test_ship import DAY_MS, FAST, MotoS3, phase_of, post as post_url, records, run, traces_body, wait_phase

SPANS_PER_REQUEST = 3
SERVICE_REQUESTS = 1000  # a service gets this many requests (3,000 spans), then the next one starts


def _stress_seconds(default):
    return float(os.environ.get("OTLAKE_STRESS_SECONDS", default))


def _spans_body(service, n, t0):
    tid = f"{random.getrandbits(128):032x}"
    spans = [{"traceId": tid, "spanId": f"{random.getrandbits(64):016x}", "name": f"op-{i}", "kind": 2,
              "startTimeUnixNano": str(t0 + i), "endTimeUnixNano": str(t0 + i + 1000)} for i in range(n)]
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                               "scopeSpans": [{"scope": {"name": "stress"}, "spans": spans}]}]}


class Checker:
    """Readers' findings: every answer checked against the one before it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.problems = []
        self.queries = 0
        self.shed = 0  # 503s of the query limit (one query per CPU): no answer, nothing to check
        self.max_rows = 0

    def problem(self, text):
        with self.lock:
            self.problems.append(text)

    def check(self, r, last, key, expect=None):
        """Checks one answer of a query for `key`; returns its row count (or `last`)."""
        if r.status_code == 503 and "too many queries" in r.text:
            with self.lock:
                self.shed += 1
            time.sleep(float(r.headers.get("Retry-After", "0")) / 10)  # a tenth of what it asks
            return last
        with self.lock:
            self.queries += 1
        if r.status_code != 200:
            self.problem(f"{key}: HTTP {r.status_code}: {r.text[:300]}")
            return last
        body = r.json()
        ids = [row["span_id"] for row in body["rows"]]
        if body.get("warnings"):
            self.problem(f"{key}: 200 with warnings {body['warnings'][:2]}")
        if len(ids) != len(set(ids)):
            self.problem(f"{key}: a row twice ({len(ids)} rows, {len(set(ids))} distinct)")
        if len(ids) < last:
            self.problem(f"{key}: rows went from {last} to {len(ids)} (scan {body.get('scan')})")
        if expect is not None and len(ids) != expect:
            self.problem(f"{key}: {len(ids)} rows, {expect} expected (scan {body.get('scan')})")
        with self.lock:
            self.max_rows = max(self.max_rows, len(ids))
        return max(last, len(ids))


def run_compaction_stress(tmp_path, seconds):
    """One client posts 3-span requests every 10 ms, three clients query while the server flushes
    every row and compacts every 50 ms with no retention: the files a compaction removes are
    deleted as soon as no query holds them."""
    srv = Server(tmp_path, extra_args=["--flush-rows", "1", "--compact-min-files", "4",
                                       "--compact-interval-ms", "50", "--compact-retention-s", "0"]).start()
    chk = Checker()
    stop = threading.Event()
    posted = {"requests": 0, "service": "svc-0"}
    try:
        def poster():
            t0 = time.time_ns() - 60_000_000_000
            with requests.Session() as s:
                while not stop.is_set():
                    n = posted["requests"]
                    service = f"svc-{n // SERVICE_REQUESTS}"
                    r = s.post(f"{srv.url}/v1/traces", data=json.dumps(_spans_body(service, SPANS_PER_REQUEST, t0 + n)),
                               headers={"Content-Type": "application/json"}, timeout=30)
                    if r.status_code != 200:
                        chk.problem(f"post: HTTP {r.status_code}: {r.text[:200]}")
                    posted["requests"] = n + 1
                    posted["service"] = service
                    time.sleep(0.01)

        def reader():
            last = {}
            with requests.Session() as s:
                while not stop.is_set():
                    current = posted["requests"] // SERVICE_REQUESTS
                    svc = f"svc-{random.randint(max(0, current - 2), current)}"
                    r = s.get(f"{srv.url}/api/spans", params={"service_name": svc, "max_rows": 10000,
                                                                "select": "span_id"}, timeout=60)
                    last[svc] = chk.check(r, last.get(svc, 0), svc)

        threads = [threading.Thread(target=poster)] + [threading.Thread(target=reader) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join()
        srv.wait_persisted()
        h = srv.health()["tables"]["spans"]
        # Every span is there at the end, once.
        n = posted["requests"]
        total = 0
        for k in range((n - 1) // SERVICE_REQUESTS + 1):
            r = requests.get(f"{srv.url}/api/spans", params={"service_name": f"svc-{k}", "max_rows": 10000,
                                                             "select": "span_id"}, timeout=60)
            total += len({row["span_id"] for row in r.json()["rows"]})
        print(f"\ncompaction stress {seconds:.0f} s: {chk.queries} queries (up to {chk.max_rows} rows), "
              f"{chk.shed} shed with 503, {n} requests posted, {h['compactions']} compactions of {h['compacted_files']} files, "
              f"{len(chk.problems)} problems")
        assert not chk.problems, chk.problems[:5]
        assert total == n * SPANS_PER_REQUEST
        assert h["compactions"] >= 3, h
        assert chk.queries >= 50
    finally:
        stop.set()
        assert srv.stop() == 0, srv.read_log()


def test_queries_during_compaction_never_lose_or_repeat_rows(tmp_path):
    run_compaction_stress(tmp_path, 20)


@pytest.mark.slow
def test_queries_during_compaction_never_lose_or_repeat_rows_long(tmp_path):
    run_compaction_stress(tmp_path, _stress_seconds(600))


# ---------------------------------------------------------------------------------------------
# Seal, upload, verify and clean of past days on S3 while queries read them.


def make_past_days(base, n_days, n_requests, seed):
    """Fills the `n_days` days before today (each `n_requests` small requests of 5 traces x 6
    spans, one file per request) through servers whose clocks run 1..n days behind."""
    rng = random.Random(seed)
    days = []
    for k in range(1, n_days + 1):
        srv = Server(base, env={"OTLAKE_CLOCK_OFFSET_MS": str(-k * DAY_MS)},
                     extra_args=["--flush-rows", "1", "--compact-min-files", "0"]).start()
        try:
            for _ in range(n_requests):
                post_url(srv.url, traces_body(rng, 5), "traces")
            srv.wait_persisted()
            days.append(srv.health()["current_day_utc"])
        finally:
            assert srv.stop() == 0, srv.read_log()
    return days


def run_ship_stress(tmp_path, moto, rounds, days_per_round, n_requests):
    bucket = moto.create_bucket(f"iso-{random.getrandbits(32):08x}")
    chk = Checker()
    shipped = 0
    for rnd in range(rounds):
        base = tmp_path / f"round-{rnd}"
        days = make_past_days(base, days_per_round, n_requests, seed=rnd)
        expect = n_requests * 5 * 6
        srv = Server(base, env=moto.env(bucket, prefix=f"r{rnd}"), extra_args=FAST).start()
        stop = threading.Event()
        try:
            def reader(day, storage):
                last = 0
                with requests.Session() as s:
                    while not stop.is_set():
                        # Every column: a query reads for longer than the seal's deletions and
                        # the clean's move take.
                        r = s.get(f"{srv.url}/api/spans", params={"date_from": day, "date_to": day, "max_rows": 10000,
                                                                    "storage": storage}, timeout=60)
                        last = chk.check(r, last, f"{day}/{storage}", expect=expect)

            threads = [threading.Thread(target=reader, args=(d, "auto")) for d in days for _ in range(2)]
            for t in threads:
                t.start()
            deadline = time.time() + 120
            while time.time() < deadline and not all(phase_of(srv.root, d) == "cleaned" for d in days):
                time.sleep(0.2)
            time.sleep(1)  # queries of the S3 copies after the clean
            stop.set()
            for t in threads:
                t.join()
            assert all(phase_of(srv.root, d) == "cleaned" for d in days), [records(srv.root, d) for d in days]
            shipped += len(days)
        finally:
            stop.set()
            assert srv.stop() == 0, srv.read_log()
    print(f"\nship stress: {shipped} days sealed, uploaded, verified and cleaned under {chk.queries} queries, "
          f"{len(chk.problems)} problems")
    assert not chk.problems, chk.problems[:5]
    assert chk.queries >= 5 * shipped


@pytest.fixture(scope="module")
def moto():
    m = MotoS3()
    yield m
    m.stop()


def test_queries_during_seal_upload_and_clean_never_lose_or_repeat_rows(tmp_path, moto):
    run_ship_stress(tmp_path, moto, rounds=2, days_per_round=2, n_requests=150)


@pytest.mark.slow
def test_queries_during_seal_upload_and_clean_never_lose_or_repeat_rows_long(tmp_path, moto):
    deadline = time.time() + _stress_seconds(600)
    rnd = 0
    while time.time() < deadline:
        run_ship_stress(tmp_path / f"long-{rnd}", moto, rounds=1, days_per_round=3, n_requests=150)
        rnd += 1


class DayReader:
    """Another process's query of a local day (`otlake view` mid-read), as the readers lock
    protocol sees it: the day's .readers.lock held shared (docs/delta.md)."""

    def __init__(self, day_dir):
        self.fd = os.open(os.path.join(day_dir, ".readers.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_SH)

    def release(self):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def spans_files(day_dir):
    return sorted(glob.glob(os.path.join(day_dir, "otel", "spans", "part-*.parquet")))


def test_a_reader_in_another_process_holds_off_seal_deletions_and_clean(tmp_path, moto):
    """Deterministic: while a reader holds the day, the seal commits but keeps the files the
    reader's snapshot names, and the clean waits (queries meanwhile read the S3 copy, whole);
    once it lets go, both finish."""
    bucket = moto.create_bucket(f"hold-{random.getrandbits(32):08x}")
    day = make_past_days(tmp_path, 1, 12, seed=3)[0]
    root = os.path.join(str(tmp_path), "default")
    day_dir = os.path.join(root, "staging", "days", day)
    expect = 12 * 5 * 6
    before = spans_files(day_dir)
    assert len(before) >= 2, before

    reader = DayReader(day_dir)
    srv = Server(tmp_path, env=moto.env(bucket), extra_args=FAST + ["--keep-local"]).start()
    try:
        # The seal rewrites the day into sealed files, and stops before deleting anything.
        # The seal's final checkpoint is its last write before the deletions.
        final = os.path.join(day_dir, "otel", "spans", "_delta_log", "_last_checkpoint")
        deadline = time.time() + 60
        while time.time() < deadline and not os.path.exists(final):
            time.sleep(0.05)
        assert any(".sealed." in f for f in spans_files(day_dir)), spans_files(day_dir)
        time.sleep(1)  # a window in which a seal that did not wait would have deleted them
        assert phase_of(srv.root, day) == "none", records(srv.root, day)
        assert set(before) <= set(spans_files(day_dir)), "a file of the reader's snapshot was deleted"
        # The server's own queries read the day meanwhile (they share the lock), at the new version.
        r = requests.get(f"{srv.url}/api/spans", params={"date_from": day, "date_to": day, "max_rows": 10000,
                                                        "select": "span_id"}, timeout=60).json()
        assert r["count"] == expect and "warnings" not in r, r
        reader.release()
        wait_phase(srv.root, day, "verified", timeout=60, srv=srv)
        assert not set(before) & set(spans_files(day_dir)), "replaced files left after the reader let go"
    finally:
        srv.stop()

    # Clean by `otlake ship` (another process) while a reader holds the day: it waits; a query
    # started meanwhile reads the verified S3 copy, whole.
    srv = Server(tmp_path, env=moto.env(bucket), extra_args=FAST + ["--keep-local"]).start()
    try:
        reader = DayReader(day_dir)
        env = {k: v for k, v in moto.env(bucket).items()}
        cleaner = subprocess.Popen([otlake_bin(), "ship", "-D", str(tmp_path), "--day", day, "--grace-s", "0"],
                                   env={**{k: v for k, v in os.environ.items() if not k.startswith(("S3_", "AWS_"))}, **env},
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 30
        while time.time() < deadline and not os.path.exists(os.path.join(day_dir, ".closing")):
            time.sleep(0.05)
        assert os.path.exists(os.path.join(day_dir, ".closing")), cleaner.communicate(timeout=5)
        r = requests.get(f"{srv.url}/api/spans", params={"date_from": day, "date_to": day, "max_rows": 10000,
                                                        "select": "span_id"}, timeout=60).json()
        assert r["count"] == expect, r
        assert [(x["storage"], x["table"]) for x in r["scan"]["snapshots"]] == [("s3", "spans")], r["scan"]
        assert cleaner.poll() is None and os.path.isdir(day_dir), "the clean did not wait for the reader"
        reader.release()
        out, err = cleaner.communicate(timeout=60)
        assert cleaner.returncode == 0, (out, err)
        assert not os.path.exists(day_dir)
        assert phase_of(root, day) == "cleaned"
        r = requests.get(f"{srv.url}/api/spans", params={"date_from": day, "date_to": day, "max_rows": 10000,
                                                        "select": "span_id"}, timeout=60).json()
        assert r["count"] == expect, r
    finally:
        srv.stop()
