"""The otlake CLI as a user runs it: init, start (background), status, stop; help and exit codes;
and a graceful stop under load that loses nothing acknowledged."""
import json
import os
import subprocess
import threading
import time

import requests

from conftest import Server, otlake_bin, read_table
from test_bad_input import span_json, traces_json


def run(*args, timeout=60):
    return subprocess.run([otlake_bin(), *args], capture_output=True, text=True, timeout=timeout)


def test_version_and_help():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("otlake ")
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("init", "start", "stop", "status"):
        assert cmd in r.stdout
        h = run(cmd, "--help")
        assert h.returncode == 0, h.stderr
        assert "Usage: otlake " + cmd in h.stdout
        assert "--instance-id" in h.stdout or "--host" in h.stdout
    r = run("frobnicate")
    assert r.returncode == 2 and "unknown command" in r.stderr
    r = run("start", "--no-such-flag")
    assert r.returncode == 2 and "--no-such-flag" in r.stderr


def test_init_start_status_stop_in_background(tmp_path):
    d = str(tmp_path)
    r = run("start", "-I", "inst", "-D", d)
    assert r.returncode == 1 and "otlake init" in r.stderr
    r = run("init", "-I", "inst", "-D", d)
    assert r.returncode == 0, r.stderr
    for sub in ("configs", "index", "staging/days", "wal"):
        assert os.path.isdir(os.path.join(d, "inst", sub))
    assert os.path.exists(os.path.join(d, "inst", "index", "days.jsonl"))
    r = run("init", "-I", "inst", "-D", d)
    assert r.returncode == 1 and "already exists" in r.stderr
    r = run("start", "-I", "inst", "-D", d, "-H", "127.0.0.1", "-P", "0")
    assert r.returncode == 0, r.stderr + r.stdout
    try:
        pid = int(open(os.path.join(d, "inst", "configs", "server.pid")).read())
        port = json.load(open(os.path.join(d, "inst", "configs", "server.json")))["port"]
        r = run("start", "-I", "inst", "-D", d, "-P", "0")
        assert r.returncode == 1 and "already running" in r.stderr
        resp = requests.post(f"http://127.0.0.1:{port}/v1/traces", data=traces_json(span_json()),
                             headers={"Content-Type": "application/json"})
        assert resp.status_code == 200
        r = run("status", "-I", "inst", "-D", d)
        assert r.returncode == 0, r.stdout + r.stderr
        for word in ("spans", "metrics_hist", "ACCEPTED", "PERSISTED", "traces"):
            assert word in r.stdout
        r = run("status", "-P", str(port), "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True
    finally:
        r = run("stop", "-I", "inst", "-D", d)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(os.path.join(d, "inst", "configs", "server.pid"))
    assert not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split()[2]
    r = run("stop", "-I", "inst", "-D", d)
    assert r.returncode == 1 and "not running" in r.stderr
    r = run("status", "-P", str(port), "-T", "1")
    assert r.returncode == 3
    # The span acknowledged before the stop was committed by it.
    s = Server(tmp_path, "inst")
    assert [x["name"] for x in read_table(s, "spans")] == ["ok-span"]
    log = open(os.path.join(d, "inst", "server.log")).read()
    assert "stopped cleanly" in log


def test_stale_pid_file_does_not_block_start(tmp_path):
    d = str(tmp_path)
    assert run("init", "-D", d).returncode == 0
    with open(os.path.join(d, "default", "configs", "server.pid"), "w") as f:
        f.write("999999\n")
    s = Server(tmp_path).start()
    try:
        assert s.health()["ok"] is True
    finally:
        assert s.stop() == 0


def test_graceful_stop_under_load_loses_nothing_acknowledged(tmp_path):
    s = Server(tmp_path, extra_args=["--flush-age-ms", "5000"]).start()
    acked, lock, stop = [], threading.Lock(), threading.Event()

    def client(worker):
        session = requests.Session()
        n = 0
        while not stop.is_set():
            spans = [span_json(span_id=f"{worker:04x}{n:08x}{k:04x}", name=f"w{worker}") for k in range(50)]
            try:
                r = session.post(s.url + "/v1/traces", data=traces_json(*spans),
                                 headers={"Content-Type": "application/json"}, timeout=10)
            except requests.RequestException:
                return
            if r.status_code == 200:
                with lock:
                    acked.extend(sp["spanId"] for sp in spans)
            n += 1

    threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    r = run("stop", "-D", str(tmp_path))
    stop.set()
    for t in threads:
        t.join()
    assert r.returncode == 0, r.stderr
    assert s.proc.wait(timeout=60) == 0
    s.proc = None
    rows = read_table(s, "spans")
    stored = [x["span_id"] for x in rows]
    assert len(acked) > 1000
    assert len(stored) == len(set(stored)), "a span was stored twice"
    missing = set(acked) - set(stored)
    assert not missing, f"{len(missing)} acknowledged spans lost"
