"""Fixtures for integration tests: the real otlake binary on port 0, and independent Delta readers.

Set OTLAKE_BIN to test another build (default: build/release/otlake).
"""
import datetime
import glob
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(__file__))
TABLES = ["spans", "span_events", "span_links", "logs", "metrics_points", "metrics_hist"]


def otlake_bin():
    return os.environ.get("OTLAKE_BIN", os.path.join(ROOT, "build", "release", "otlake"))


class Server:
    """A running `otlake start -F` on 127.0.0.1:<free port> with its own instance directory."""

    def __init__(self, base_dir, instance="default", extra_args=(), env=None, ssl_context=None):
        self.base_dir = str(base_dir)
        self.instance = instance
        self.root = os.path.join(self.base_dir, instance)
        self.extra_args = list(extra_args)
        self.env = env  # extra environment variables (S3 configuration, clock offset)
        self.ssl_context = ssl_context  # the client side of --tls-cert (CA, client certificate)
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.base_dir, f"{instance}-server.log")

    def start(self):
        if not os.path.isdir(self.root):
            subprocess.run([otlake_bin(), "init", "-I", self.instance, "-D", self.base_dir], check=True,
                           capture_output=True)
        self.log = open(self.log_path, "ab")
        env = None
        if self.env is not None:
            env = {k: v for k, v in os.environ.items() if not _is_s3_var(k)}
            env.update(self.env)
        self.proc = subprocess.Popen(
            [otlake_bin(), "start", "-F", "-I", self.instance, "-D", self.base_dir, "-H", "127.0.0.1",
             "-P", "0", "--flush-age-ms", "300"] + self.extra_args,
            stdout=subprocess.PIPE, stderr=self.log, env=env)
        line = self.proc.stdout.readline().decode()
        assert "listening on http" in line, f"server did not start: {line!r}; log: {self.read_log()}"
        self.port = int(line.strip().rsplit(":", 1)[1])
        scheme = "https" if "listening on https://" in line else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        return self

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-5000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def health(self):
        with urllib.request.urlopen(self.url + "/healthz", timeout=10, context=self.ssl_context) as r:
            return json.loads(r.read())

    def wait_persisted(self, timeout=30):
        """Waits until nothing is buffered (every accepted row committed)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            h = self.health()
            if all(t["buffered"] == 0 for t in h["tables"].values()):
                return h
            time.sleep(0.1)
        raise AssertionError(f"rows still buffered after {timeout}s: {self.health()}")

    def day_dirs(self):
        return sorted(glob.glob(os.path.join(self.root, "staging", "days", "*")))

    def table_path(self, table, day=None):
        day = day or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        return os.path.join(self.root, "staging", "days", day, "otel", table)


S3_VARS = ("S3_BUCKET", "AWS_ACCESS_KEY_ID", "S3_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "S3_SECRET_KEY",
           "S3_SECRET_ACCESS_KEY", "AWS_REGION", "S3_REGION", "AWS_ENDPOINT_URL", "S3_URL", "S3_PREFIX",
           "AWS_SESSION_TOKEN")


def wait_for(pred, what, timeout=30, interval=0.05):
    """Polls pred() until it returns something truthy, which it returns; fails naming `what`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def _is_s3_var(k):
    return k in S3_VARS


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running test; run with OTLAKE_SLOW=1 (or -m slow)")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("OTLAKE_SLOW") or config.getoption("-m"):
        return
    skip = pytest.mark.skip(reason="slow test: set OTLAKE_SLOW=1 to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path).start()
    yield s
    rc = s.stop()
    assert rc in (0, None), f"otlake exited with {rc}; log: {s.read_log()}"


# ---------------------------------------------------------------------------------------------
# Independent Delta readers


def _duckdb_con():
    import duckdb
    import duckdb_extension_delta
    ext = glob.glob(os.path.join(os.path.dirname(duckdb_extension_delta.__file__), "**", "*.duckdb_extension"),
                    recursive=True)
    assert ext, "duckdb delta extension file not found"
    con = duckdb.connect()
    con.execute(f"LOAD '{ext[0]}'")
    return con


def _select(columns):
    return "*" if not columns else ", ".join(f'"{c}"' for c in columns)


def arrow_deltalake(path, columns=None):
    # delta-rs's own (DataFusion) scan: independent of Arrow C++'s Parquet reader, and unlike
    # to_pyarrow_table() it never calls back into Python from Arrow's I/O threads, which can abort
    # the interpreter at exit ("terminate called without an active exception", delta-rs #2184).
    import pyarrow as pa
    from deltalake import DeltaTable, QueryBuilder
    return pa.table(QueryBuilder().register("t", DeltaTable(path)).execute(
        f"SELECT {_select(columns)} FROM t").read_all())


def arrow_polars(path, columns=None):
    import polars as pl
    return pl.read_delta(path, columns=columns).to_arrow()


def arrow_duckdb(path, columns=None):
    con = _duckdb_con()
    return con.execute(f"SELECT {_select(columns)} FROM delta_scan('{path}')").to_arrow_table()


def read_deltalake(path, columns=None):
    return arrow_deltalake(path, columns).to_pylist()


def read_polars(path, columns=None):
    return arrow_polars(path, columns).to_pylist()


def read_duckdb(path, columns=None):
    return arrow_duckdb(path, columns).to_pylist()


READERS = {"deltalake": read_deltalake, "polars": read_polars, "duckdb": read_duckdb}
# The same scans, left as Arrow tables (every column decoded, no Python objects per row).
ARROW_READERS = {"deltalake": arrow_deltalake, "polars": arrow_polars, "duckdb": arrow_duckdb}


def _existing_table(server_or_root, table, day):
    """The table's folder (a Server's table of `day`, or a path given as is), or None if it has no
    Delta log yet."""
    path = server_or_root.table_path(table, day) if isinstance(server_or_root, Server) else server_or_root
    return path if os.path.isdir(os.path.join(path, "_delta_log")) else None


def read_table(server_or_root, table, reader="deltalake", day=None, columns=None):
    """The table's rows as dicts (only `columns` when given); [] when the table does not exist."""
    path = _existing_table(server_or_root, table, day)
    return READERS[reader](path, columns) if path else []


def count_table(server_or_root, table, reader="deltalake", day=None):
    """Rows of the table after `reader` decoded every column of it; 0 when it does not exist."""
    path = _existing_table(server_or_root, table, day)
    return ARROW_READERS[reader](path).num_rows if path else 0
