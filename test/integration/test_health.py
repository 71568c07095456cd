"""/healthz and `otlake status` report failing writes (ok=false with the reason), ingest answers
503 + Retry-After meanwhile, nothing buffered is lost, and both recover by themselves."""
import datetime
import os
import subprocess
import time

import requests

from conftest import otlake_bin, read_table
from test_bad_input import span_json, traces_json


def post(server, body):
    return requests.post(server.url + "/v1/traces", data=body, headers={"Content-Type": "application/json"})


def test_failing_writes_are_reported_and_recover(server):
    day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    blocker = os.path.join(server.root, "staging", "days", day)
    with open(blocker, "w") as f:  # a file where the day directory must go: every write fails
        f.write("blocker")
    assert post(server, traces_json(span_json(name="before"))).status_code == 200
    deadline = time.time() + 20
    while server.health()["ok"] and time.time() < deadline:
        time.sleep(0.05)
    h = server.health()
    assert h["ok"] is False and h["status"] == "failing"
    assert day in h["reason"]
    assert h["tables"]["spans"]["buffered"] == 1
    r = post(server, traces_json(span_json(span_id="1111111111111111", name="during")))
    assert r.status_code == 503 and "Retry-After" in r.headers
    assert "storage" in r.json()["message"]
    st = subprocess.run([otlake_bin(), "status", "-P", str(server.port)], capture_output=True, text=True)
    assert st.returncode == 4 and "NOT OK" in st.stdout
    os.remove(blocker)
    deadline = time.time() + 60
    while not server.health()["ok"] and time.time() < deadline:
        time.sleep(0.1)
    assert server.health()["ok"] is True
    server.wait_persisted()
    assert [r["name"] for r in read_table(server, "spans")] == ["before"]
    assert post(server, traces_json(span_json(span_id="2222222222222222", name="after"))).status_code == 200
