"""Runs the Python snippets of docs/querying.md (deltalake, Polars, DuckDB; Spark with OTLAKE_SLOW=1)
against a real instance, so the documentation cannot drift from what works."""
import json
import os
import re
import subprocess
import sys

import pytest
import requests

from conftest import ROOT
from test_attrs_maps import spark_available

CODES = [200, 503, 200, 500, 200, 404]  # two server errors among the six /cart spans


def snippets():
    with open(os.path.join(ROOT, "docs", "querying.md"), encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), re.S)


def ingest(server):
    spans = [{"traceId": f"{i:032x}", "spanId": f"{i + 1:016x}", "name": "GET /cart", "kind": 2,
              "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000500000000",
              "status": {"code": 2 if i % 2 else 0},
              "attributes": [{"key": "http.route", "value": {"stringValue": "/cart"}},
                             {"key": "http.response.status_code", "value": {"intValue": str(CODES[i - 1])}}]}
             for i in range(1, 7)]
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
                               "scopeSpans": [{"spans": spans}]}]}
    r = requests.post(f"{server.url}/v1/traces", data=json.dumps(body), headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    server.wait_persisted()


def run(server, code, env=None):
    assert 'ROOT = "otlake_data/default"' in code
    code = code.replace('ROOT = "otlake_data/default"', f"ROOT = {server.root!r}")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stderr[-4000:]
    return p.stdout


def test_querying_doc_snippets_run(server):
    ingest(server)
    found = snippets()
    assert len(found) == 4, "docs/querying.md should hold the deltalake, Polars, DuckDB and Spark snippets"
    assert "SparkSession" in found[3]
    outputs = [run(server, code) for code in found[:3]]
    # all six last 500 ms and are /cart; two answered >= 500
    assert outputs[0].split("\n")[:3] == ["6 spans", "6 slow spans", "6 cart spans, 2 server errors"]
    assert "checkout" in outputs[1] and "3" in outputs[1]  # three ERROR spans
    assert "2 failed cart requests" in outputs[1]
    duck = outputs[2].strip().split("\n")
    assert duck[0] == "[('/cart', 2)]", duck
    assert "('checkout', 6," in duck[1] and duck[1].endswith("6)]"), duck  # the JSON rebuild finds all six


@pytest.mark.slow
def test_querying_doc_spark_snippet_runs(server):
    if not spark_available():
        pytest.skip("pyspark and the delta-spark jars are not installed (tools/install-deps.sh --spark)")
    ingest(server)
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable)
    out = run(server, snippets()[3], env)
    assert "Row(route='/cart', n=2)" in out, out
