"""Runs the Python snippets of docs/querying.md (deltalake, Polars, DuckDB) against a real instance,
so the documentation cannot drift from what works."""
import json
import os
import re
import subprocess
import sys

import requests

from conftest import ROOT


def snippets():
    with open(os.path.join(ROOT, "docs", "querying.md"), encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), re.S)


def test_querying_doc_snippets_run(server):
    spans = [{"traceId": f"{i:032x}", "spanId": f"{i + 1:016x}", "name": "GET /cart", "kind": 2,
              "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000500000000",
              "status": {"code": 2 if i % 2 else 0},
              "attributes": [{"key": "http.route", "value": {"stringValue": "/cart"}}]} for i in range(1, 7)]
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
                               "scopeSpans": [{"spans": spans}]}]}
    r = requests.post(f"{server.url}/v1/traces", data=json.dumps(body), headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    server.wait_persisted()
    found = snippets()
    assert len(found) == 3, "docs/querying.md should hold the deltalake, Polars and DuckDB snippets"
    outputs = []
    for code in found:
        assert 'ROOT = "otlake_data/default"' in code
        code = code.replace('ROOT = "otlake_data/default"', f"ROOT = {server.root!r}")
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        outputs.append(p.stdout)
    assert outputs[0].split("\n")[:2] == ["6 spans", "6 slow spans"]  # all six last 500 ms
    assert "checkout" in outputs[1] and "3" in outputs[1]  # three ERROR spans
    assert "('checkout', 6," in outputs[2] and outputs[2].rstrip().endswith("6)]")
