"""Every OTLP/JSON example in shared/testdata/otlp-examples is accepted over /v1/* -- as JSON and as
the equivalent protobuf -- and round-trips through the lake with no field lost."""
import json
import os

import pytest
import requests

from conftest import READERS, ROOT, read_table
import otlp_model as m
from test_sdk_roundtrip import compare, lake_records

# The repository's copies (test/data/otlp-examples/README.md), so the tests run from any clone.
EXAMPLES = os.path.join(ROOT, "test", "data", "otlp-examples")
SHARED_EXAMPLES = os.path.join(ROOT, "..", "shared", "testdata", "otlp-examples")
FILES = {"trace.json": "traces", "logs.json": "logs", "events.json": "logs", "metrics.json": "metrics"}


def example_path(name):
    return os.path.join(EXAMPLES, name)


def test_copies_match_the_shared_examples():
    """The copies must stay the team's examples; only checkable where ../shared exists."""
    assert sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".json")) == sorted(FILES)
    if not os.path.isdir(SHARED_EXAMPLES):
        pytest.skip(f"{SHARED_EXAMPLES} not present; the copies in {EXAMPLES} are used")
    for name in FILES:
        with open(os.path.join(EXAMPLES, name), "rb") as a, open(os.path.join(SHARED_EXAMPLES, name), "rb") as b:
            assert a.read() == b.read(), f"{name} differs from {SHARED_EXAMPLES}"


@pytest.mark.parametrize("name", sorted(FILES))
@pytest.mark.parametrize("encoding", ["json", "protobuf"])
def test_example_round_trips(server, name, encoding):
    signal = FILES[name]
    with open(example_path(name), "rb") as f:
        text = f.read()
    req = m.pb_from_otlp_json(signal, text)
    if encoding == "json":
        r = requests.post(f"{server.url}/v1/{signal}", data=text, headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        assert r.json() == {}
        assert r.headers["Content-Type"] == "application/json"
    else:
        r = requests.post(f"{server.url}/v1/{signal}", data=req.SerializeToString(),
                          headers={"Content-Type": "application/x-protobuf"})
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"] == "application/x-protobuf"
        assert r.content == b""
    server.wait_persisted()
    assert len(m.records_from_request(signal, req)) > 0
    for reader in READERS:
        compare(signal, [req], lake_records(server, signal, reader))


def test_trace_example_ids_are_lowercase_hex(server):
    with open(example_path("trace.json"), "rb") as f:
        r = requests.post(server.url + "/v1/traces", data=f.read(), headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    server.wait_persisted()
    rows = read_table(server, "spans")
    assert rows and all(r["trace_id"] == "5b8efff798038103d269b633813fc60c" for r in rows)
    assert {r["parent_span_id"] for r in rows} == {"eee19b7ec3c1b173"}
