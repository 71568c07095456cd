"""Web UI numbers (bench/README.md "Web UI"): first page load (bytes transferred, time until the
search form is usable) in headless Chromium, and the server CPU a live-tail subscriber costs
(idle, and while logs arrive), measured against the real binary.
Run: .venv/bin/python bench/ui_bench.py  (needs build/release/otlake, ui/node_modules, chromium)."""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "integration"))
import ui_data  # noqa: E402
from conftest import ROOT, Server  # noqa: E402
from test_ui_api import Tail  # noqa: E402

import tempfile  # noqa: E402


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(s, seconds, feed):
    """Server CPU seconds over `seconds`, sending 100 logs every 0.5 s when `feed`."""
    stop = threading.Event()

    def sender():
        i = 0
        while not stop.is_set():
            now = time.time_ns()
            ui_data.send_logs(s.url, [dict(service="bench", body=f"line {i}-{k}", severity=9, t_ns=now + k) for k in range(100)])
            i += 1
            stop.wait(0.5)

    t = threading.Thread(target=sender) if feed else None
    c0 = cpu_seconds(s.proc.pid)
    if t:
        t.start()
    time.sleep(seconds)
    stop.set()
    if t:
        t.join()
    return cpu_seconds(s.proc.pid) - c0


def main():
    base = tempfile.mkdtemp(prefix="ui-bench-")
    s = Server(base).start()
    ui_data.checkout_trace(s.url)
    ui_data.sample_logs(s.url)
    s.wait_persisted()
    p = subprocess.run(["node", os.path.join(ROOT, "test", "ui", "browser.mjs"), "load", s.url, "{}"],
                       capture_output=True, text=True, timeout=120)
    load = json.loads(p.stdout.strip().splitlines()[-1])
    assert "failure" not in load, load
    tm = load["timing"]
    print(f"first load of /traces: {tm['transferred']} bytes transferred ({tm['decoded']} decoded) in "
          f"{len(tm['files']) + 1} files; DOMContentLoaded {tm['dom_content_loaded_ms']:.0f} ms, "
          f"search form usable {load['interactive_ms']} ms after navigation")
    for f in tm["files"]:
        print(f"   {f[0]}: {f[1]} B over the wire, {f[2]} B decoded")
    secs = 10
    for feed in (False, True):
        base_cpu = measure(s, secs, feed)
        subs = [Tail(s.url, {"service_name": "bench"}) for _ in range(10)]
        for t in subs:
            assert t.hello.wait(10)
        with_cpu = measure(s, secs, feed)
        got = [len(t.logs()) for t in subs]
        for t in subs:
            t.close()
        what = "while 200 logs/s arrive" if feed else "idle"
        print(f"live tail, {what}: server CPU {base_cpu / secs * 1000:.1f} ms/s without subscribers, "
              f"{with_cpu / secs * 1000:.1f} ms/s with 10 -> {(with_cpu - base_cpu) / secs / 10 * 1000:.2f} ms of CPU "
              f"per second per subscriber (each received {min(got)}..{max(got)} records)")
        time.sleep(1)
    s.stop()


if __name__ == "__main__":
    main()
