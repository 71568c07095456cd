"""OTLP/gRPC from real Go clients (docs/grpc.md "Tested clients"): telemetrygen, and the OpenTelemetry
Collector's otlp_grpc exporter fed by telemetrygen, against the real otlake binary under a small
memory budget (--max-buffered-bytes, held by a stalled HTTP body until every signal's exports were
refused): the Go exporters get RESOURCE_EXHAUSTED with RetryInfo, back off and retry, and every
record they were told was accepted is in the lake exactly once; and a kill -9 loop of otlake while
the Collector sends.

The binaries are built from the Go module proxy into .tools/bin by tools/install-deps.sh
(telemetrygen always, ~2 min from empty Go caches; the Collector with --collector, ~4.5 min more on
2 cores, so its tests are slow: OTLAKE_SLOW=1).

Each telemetrygen process tags its records with a telemetry attribute run=<id>, so the lake's rows
of one run are counted by that attribute: spans by span_id (random per span), log records by
time_unix_nano (one worker per process: its records' timestamps strictly increase), gauge points by
value (worker w sends values 0..n-1, so each value occurs once per worker)."""
import collections
import os
import re
import signal
import socket
import subprocess
import urllib.request

import pyarrow as pa
import pytest
from deltalake import DeltaTable, QueryBuilder
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT, Server, wait_for

TOOLS = os.path.join(ROOT, ".tools", "bin")
TELEMETRYGEN = os.path.join(TOOLS, "telemetrygen")
COLLECTOR = os.path.join(TOOLS, "otelcol-otlake")
COLLECTOR_CONFIG = os.path.join(ROOT, "test", "integration", "collector", "otelcol.yaml")
BUDGET = str(1 << 20)  # 1 MiB (the smallest allowed): a few thousand buffered rows
FLUSH_AGE_MS = "2500"  # rows stay buffered (and count against the budget) this long

# otelcol.yaml: at most this many records per request, this many requests in flight per signal.
COLLECTOR_BATCH_MAX = 200
COLLECTOR_CONSUMERS = 2


def need_telemetrygen():
    assert os.access(TELEMETRYGEN, os.X_OK), f"{TELEMETRYGEN} missing: run tools/install-deps.sh"


def need_collector():
    if not os.access(COLLECTOR, os.X_OK):
        pytest.skip(f"{COLLECTOR} is not built (tools/install-deps.sh --collector)")


def start_otlake(base, *args, grpc_port="any"):
    s = Server(base, extra_args=["--grpc-port", str(grpc_port), "--max-buffered-bytes", BUDGET,
                                 "--flush-age-ms", FLUSH_AGE_MS, *args]).start()
    line = s.proc.stdout.readline().decode()
    assert "listening for OTLP/gRPC on " in line, f"{line!r}; log: {s.read_log()}"
    s.grpc_target = line.strip().rsplit(" ", 1)[1]
    return s


class Gen:
    """One telemetrygen process: `count` records (traces for traces) from each of `workers`
    workers, tagged run=<run>, to `target` over gRPC without TLS."""

    started = []  # every process, so that a failed test's teardown ends those still running

    def __init__(self, tmp_path, signal_name, target, run, count, rate, workers=1, extra=()):
        self.signal, self.run, self.workers = signal_name, run, workers
        self.log_path = os.path.join(str(tmp_path), f"telemetrygen-{run}.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [TELEMETRYGEN, signal_name, "--otlp-endpoint", target, "--otlp-insecure",
                 f"--{signal_name}", str(count), "--workers", str(workers), "--rate", str(rate),
                 "--timeout", "120s", "--telemetry-attributes", f'run="{run}"', *extra],
                stdout=subprocess.DEVNULL, stderr=log)
        Gen.started.append(self.proc)

    def wait(self, timeout=300):
        rc = self.proc.wait(timeout)
        with open(self.log_path, errors="replace") as f:
            log = f.read()
        assert rc == 0, f"telemetrygen {self.run} exited {rc}: {log[-3000:]}"
        # What it reports sent: '<signal> generated {"worker": 0, "<signal>": N}', once per worker.
        counts = [int(n) for n in re.findall(rf'{self.signal} generated\t\{{"worker": \d+, "{self.signal}": (\d+)\}}', log)]
        assert len(counts) == self.workers, f"telemetrygen {self.run}: {counts}: {log[-3000:]}"
        return counts


@pytest.fixture(autouse=True)
def end_generators():
    yield
    while Gen.started:
        proc = Gen.started.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def table_path(s, table):
    days = s.day_dirs()
    assert len(days) == 1, days  # one UTC day (a test run across midnight would split the rows)
    return os.path.join(days[0], "otel", table)


def sql(s, table, query):
    path = table_path(s, table)
    if not os.path.isdir(os.path.join(path, "_delta_log")):
        return []
    return pa.table(QueryBuilder().register("t", DeltaTable(path)).execute(query).read_all()).to_pylist()


def stored(s):
    """Per run: rows, distinct records and the most copies of one record (spans by span_id, log
    records by time_unix_nano); for gauge points also a Counter of value -> rows."""
    out = {}
    for table, attrs, key in (("spans", "span_attrs", "span_id"), ("logs", "log_attrs", "time_unix_nano")):
        for r in sql(s, table, f"SELECT run, sum(c) AS n, count(*) AS d, max(c) AS m FROM "
                               f"(SELECT {attrs}['run'] AS run, {key}, count(*) AS c FROM t GROUP BY 1, 2) GROUP BY run"):
            out[r["run"]] = {"rows": r["n"], "distinct": r["d"], "max_copies": r["m"]}
    points = collections.defaultdict(collections.Counter)
    for r in sql(s, "metrics_points", "SELECT point_attrs['run'] AS run, value_int AS v, count(*) AS n "
                                      "FROM t GROUP BY 1, 2"):
        points[r["run"]][r["v"]] = r["n"]
    for run, c in points.items():
        out[run] = {"rows": sum(c.values()), "distinct": len(c), "values": c}
    return out


def expected(gen, counts):
    """(rows, distinct) that telemetrygen's reported counts mean: a trace is a parent and a child
    span; each worker sends gauge values 0..n-1, so distinct values are the largest worker's n."""
    if gen.signal == "traces":
        return 2 * sum(counts), 2 * sum(counts)
    if gen.signal == "metrics":
        return sum(counts), max(counts)
    return sum(counts), sum(counts)


def assert_exactly_once(s, gens_counts):
    got = stored(s)
    for gen, counts in gens_counts:
        rows, distinct = expected(gen, counts)
        g = got.get(gen.run, {"rows": 0, "distinct": 0})
        assert g["distinct"] == distinct, f"{gen.run}: {g['distinct']} distinct records stored, {distinct} sent"
        assert g["rows"] == rows, f"{gen.run}: {g['rows']} rows for {rows} records sent ({g['rows'] - rows:+d})"
        if gen.signal == "metrics":
            assert g["values"] == collections.Counter({v: sum(1 for n in counts if v < n) for v in range(max(counts))})


def grpc_refusals(s):
    h = s.health()
    return h["grpc"]["by_code"].get("RESOURCE_EXHAUSTED", 0), h


def hold_budget(s):
    """Holds almost all of the budget: an HTTP request whose announced body never comes is reserved
    before it is read. Every export meanwhile gets RESOURCE_EXHAUSTED; closing the socket frees it."""
    budget = int(BUDGET)
    staller = socket.create_connection(("127.0.0.1", s.port))
    staller.sendall(f"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                    f"Content-Length: {budget - 16384}\r\n\r\n".encode())
    wait_for(lambda: s.health()["memory"]["request_bytes"] >= budget - 16384, "the stalled body reserved")
    return staller


def refuse_every_signal(s, staller):
    """Keeps the budget held until each signal's exports were refused, then lets them in."""
    wait_for(lambda: all(memory_refusals_by_signal(s).get(sig, 0) > 0 for sig in ("traces", "logs", "metrics")),
             "exports of every signal refused while the budget is held", timeout=60, interval=0.2)
    staller.close()


def memory_refusals_by_signal(s):
    """otlake_requests_rejected_total{reason="memory"} by signal, from /metrics."""
    text = urllib.request.urlopen(s.url + "/metrics", timeout=10).read().decode()
    return {x.labels["signal"]: int(x.value) for f in text_string_to_metric_families(text)
            for x in f.samples if x.name == "otlake_requests_rejected_total" and x.labels["reason"] == "memory"}


# Traces go through the Go SDK's BatchSpanProcessor, which drops spans (silently) once 2048 are
# queued: each process is rate-limited (--rate counts spans: 150/s) so that the back-off of a
# retry (5 s initial, up to 7.5 s with jitter; 11.25 s for a second one) queues at most ~1,700.
# Their spans carry a 1 kB attribute, so that their requests (100 spans) weigh on the budget too.
# Logs and metrics are exported synchronously by their workers (a failed export ends telemetrygen
# with an error), so they run unthrottled and fill the budget.
PAD = "pad=\"" + "x" * 1000 + "\""


def start_generators(tmp_path, target, tag, scale=1):
    gens = [Gen(tmp_path, "traces", target, f"{tag}-t{i}", 800 * scale, rate=150, extra=["--telemetry-attributes", PAD])
            for i in range(3)]
    gens += [Gen(tmp_path, "logs", target, f"{tag}-l{i}", 6000 * scale, rate=0) for i in range(3)]
    gens += [Gen(tmp_path, "metrics", target, f"{tag}-m", 5000 * scale, rate=0, workers=3)]
    return gens


def test_telemetrygen_retries_resource_exhausted_every_record_once(tmp_path):
    need_telemetrygen()
    s = start_otlake(tmp_path)
    try:
        staller = hold_budget(s)
        gens = start_generators(tmp_path, s.grpc_target, "tg")
        refuse_every_signal(s, staller)
        results = [(g, g.wait()) for g in gens]
        s.wait_persisted(timeout=60)
        refused, h = grpc_refusals(s)
        by_signal = memory_refusals_by_signal(s)
        print(f"\ntelemetrygen: gRPC calls by code {h['grpc']['by_code']}; refused for memory {by_signal}; "
              f"accepted { {k: v['accepted'] for k, v in h['signals'].items()} }")
        assert all(by_signal.get(sig, 0) > 0 for sig in ("traces", "logs", "metrics")), \
            f"the budget did not refuse every signal: the test did not test their retries ({by_signal})"
        assert h["rejections"]["memory"] == refused == sum(by_signal.values())
        assert_exactly_once(s, results)
    finally:
        assert s.stop() in (0, None)


class Collector:
    """The Collector built from collector/manifest.yaml, running collector/otelcol.yaml."""

    ITEMS = {"traces": "spans", "logs": "log_records", "metrics": "metric_points"}

    def __init__(self, tmp_path, otlake_grpc):
        self.port, self.metrics_port = free_port(), free_port()
        self.target = f"127.0.0.1:{self.port}"
        self.log_path = os.path.join(str(tmp_path), "collector.log")
        env = dict(os.environ, COLLECTOR_PORT=str(self.port), COLLECTOR_METRICS_PORT=str(self.metrics_port),
                   OTLAKE_GRPC=otlake_grpc)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([COLLECTOR, "--config", COLLECTOR_CONFIG], env=env,
                                         stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.proc.poll() is not None or "Everything is ready" in self.read_log(),
                 "the Collector to start")
        assert self.proc.poll() is None, self.read_log()

    def read_log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def metrics(self):
        """The Collector's own counters and gauges: {(name, signal): value}."""
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).read().decode()
        out = collections.Counter()
        for m in re.finditer(r'^(otelcol_\w+?)(?:_total)?\{([^}]*)\} (\S+)$', text, re.M):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            out[(m.group(1), labels.get("data_type"))] += float(m.group(3))
        return out

    def drained(self):
        """True once, for every signal, everything the receiver accepted was sent (acknowledged by
        otlake) and nothing is queued or in flight."""
        m = self.metrics()
        for sig, items in self.ITEMS.items():
            accepted = m[(f"otelcol_receiver_accepted_{items}", None)]
            if m[(f"otelcol_exporter_sent_{items}", None)] != accepted or m[("otelcol_exporter_queue_size", sig)] \
                    or m[("otelcol_exporter_in_flight_requests", sig)]:
                return False
        return m

    def stop(self, timeout=300):
        """Waits until everything accepted was acknowledged by otlake, then stops the Collector (a
        stopping Collector drops what it is still retrying). Returns its last metrics."""
        m = wait_for(self.drained, "the Collector to send everything it accepted", timeout=timeout, interval=0.5)
        for items in self.ITEMS.values():
            assert not m[(f"otelcol_exporter_send_failed_{items}", None)], m
            assert not m[(f"otelcol_receiver_refused_{items}", None)], m
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(60)
        assert rc == 0, self.read_log()[-3000:]
        return m


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_collector_otlp_exporter_under_the_budget_every_record_once(tmp_path):
    need_telemetrygen()
    need_collector()
    s = start_otlake(tmp_path)
    col = Collector(tmp_path, s.grpc_target)
    try:
        staller = hold_budget(s)
        gens = start_generators(tmp_path, col.target, "col")
        refuse_every_signal(s, staller)
        results = [(g, g.wait()) for g in gens]
        col.stop()
        s.wait_persisted(timeout=60)
        refused, h = grpc_refusals(s)
        by_signal = memory_refusals_by_signal(s)
        print(f"\nCollector: gRPC calls by code {h['grpc']['by_code']}; refused for memory {by_signal}")
        for table in ("spans", "logs", "metrics_points"):  # the exporter's headers: x-otlake-project-id
            assert sql(s, table, "SELECT DISTINCT project_id FROM t") == [{"project_id": "collected"}], table
        assert all(by_signal.get(sig, 0) > 0 for sig in ("traces", "logs", "metrics")), \
            f"the budget did not refuse every signal: the test did not test their retries ({by_signal})"
        assert_exactly_once(s, results)
    finally:
        if col.proc.poll() is None:
            col.proc.kill()
        assert s.stop() in (0, None)


@pytest.mark.slow
def test_kill9_loop_while_the_collector_sends(tmp_path):
    """otlake is killed (SIGKILL) and restarted on the same gRPC port while telemetrygen sends
    through the Collector, which retries what otlake did not acknowledge.

    What otlake promises (DESIGN.md promise 1, docs/wal.md): an acknowledged request is durable and
    its rows are stored once (WAL replay is exactly-once per record). A request that was in flight
    at a kill may or may not have been logged; the Collector retries it, so its records may be
    stored twice -- legitimately. So: every record the Collector accepted is stored at least once,
    and the extra copies are bounded by what can have been in flight at the kills: per signal, at
    most (kills x consumers x batch size) duplicated records, each stored at most kills + 1 times."""
    need_telemetrygen()
    need_collector()
    kills = int(os.environ.get("OTLAKE_GRPC_KILL_ROUNDS", "4"))
    s = start_otlake(tmp_path)
    port = s.grpc_target.rsplit(":", 1)[1]
    col = Collector(tmp_path, s.grpc_target)
    try:
        # ~220 Collector requests of 200 records per unit of scale; each incarnation gets 20.
        gens = start_generators(tmp_path, col.target, "kill", scale=max(2, (kills + 1) // 2))
        pending_at_kills = []
        for k in range(kills):
            # Each incarnation acknowledges some requests first; the kill lands while the
            # Collector still holds records it has not had acknowledged.
            wait_for(lambda: s.health()["grpc"]["by_code"].get("OK", 0) >= 20, "acknowledged calls", 120)
            m = col.metrics()
            s.proc.send_signal(signal.SIGKILL)
            s.proc.wait(30)
            pending_at_kills.append(sum(m[(f"otelcol_receiver_accepted_{i}", None)] - m[(f"otelcol_exporter_sent_{i}", None)]
                                        for i in Collector.ITEMS.values()))
            s = start_otlake(tmp_path, grpc_port=port)
        assert all(pending_at_kills), f"the Collector had sent everything before a kill: {pending_at_kills}"
        results = [(g, g.wait()) for g in gens]
        col.stop()
        s.wait_persisted(timeout=120)
        got = stored(s)
        report, extra_by_signal = [], collections.Counter()
        for gen, counts in results:
            rows, distinct = expected(gen, counts)
            g = got.get(gen.run, {"rows": 0, "distinct": 0})
            assert g["distinct"] == distinct, f"{gen.run}: {distinct - g['distinct']} records lost of {distinct}"
            extra = g["rows"] - rows
            assert extra >= 0, f"{gen.run}: {-extra} records lost"
            if gen.signal == "metrics":  # every worker's value v is there, at most kills + 1 times over
                assert all(sum(1 for c in counts if v < c) <= n <= (kills + 1) * gen.workers
                           for v, n in g["values"].items()), g["values"]
            else:
                assert g["max_copies"] <= kills + 1, (gen.run, g)
            extra_by_signal[gen.signal] += extra
            report.append(f"{gen.run} {rows} sent, +{extra}")
        for sig, extra in extra_by_signal.items():
            assert extra <= kills * COLLECTOR_CONSUMERS * COLLECTOR_BATCH_MAX, (sig, extra, report)
        print(f"\nkill -9 x{kills} (records not yet acknowledged at each kill: {pending_at_kills}): {', '.join(report)}")
    finally:
        if col.proc.poll() is None:
            col.proc.kill()
        assert s.stop() in (0, None)
