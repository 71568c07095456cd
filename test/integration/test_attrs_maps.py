"""Schema 2 attribute maps (docs/attributes.md), end to end against the real server:
- every AnyValue type (NaN, +-Inf, -0.0, int64 extremes, bytes, nested arrays and kvlists, empty
  values, empty strings, duplicate keys) at every attribute level comes back from the lake through
  three independent readers, from the read API's typed JSON and from /api/traces/{id}?format=otlp;
- the issue's exact SQL (`span_attrs['http.route'] = '/cart'`,
  `CAST(span_attrs['http.response.status_code'] AS INT) >= 500`) with DuckDB delta_scan and
  deltalake, the same filters in Polars, and Spark with Delta (slow: OTLAKE_SLOW=1);
- duplicate keys keep the last value and are counted in /healthz;
- a day written with schema_version 1 is skipped with a warning naming it, not misread."""
import glob
import json
import math
import os
import subprocess
import sys

import pytest
import requests
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2

from conftest import READERS, _duckdb_con
import otlp_model as m
from test_sdk_roundtrip import compare, lake_records

TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")


def any_value(v):
    """A Python value as an AnyValue: None = empty, bytes, bool, int, float, str, list (array),
    and ("kv", [(k, v), ...]) (kvlist, duplicate keys allowed)."""
    a = common_pb2.AnyValue()
    if v is None:
        pass
    elif isinstance(v, bytes):
        a.bytes_value = v
    elif isinstance(v, bool):
        a.bool_value = v
    elif isinstance(v, int):
        a.int_value = v
    elif isinstance(v, float):
        a.double_value = v
    elif isinstance(v, str):
        a.string_value = v
    elif isinstance(v, list):
        a.array_value.values.extend(any_value(x) for x in v)
    elif isinstance(v, tuple) and v[0] == "kv":
        a.kvlist_value.values.extend(kv(k, x) for k, x in v[1])
    else:
        raise AssertionError(v)
    return a


def kv(k, v):
    return common_pb2.KeyValue(key=k, value=any_value(v))


def every_type(prefix):
    """Attributes of every type and edge, with `prefix` in the string values."""
    return [kv(k, v) for k, v in [
        ("http.route", f"/{prefix}"), ("str.empty", ""), ("str.unicode", "日本語 ✓ \"q\" \\ \n"),
        ("int", -42), ("int.max", 2**63 - 1), ("int.min", -2**63),
        ("dbl", 0.1), ("dbl.whole", 2.0), ("dbl.neg0", -0.0), ("dbl.tiny", 5e-324), ("dbl.huge", 1e300),
        ("dbl.nan", float("nan")), ("dbl.inf", float("inf")), ("dbl.ninf", float("-inf")),
        ("bool", True), ("bool.f", False), ("bytes", b"\x00\xff\x10"), ("bytes.empty", b""),
        ("arr", [1, "x", 2.5, None, [True, b"\x01"], ("kv", [("a", 1), ("a", 2)])]), ("arr.empty", []),
        ("kvl", ("kv", [("a", 1), ("b", [float("nan")]), ("a", "again")])),
        ("kvl.escape", ("kv", [("$bytes", "not bytes")])), ("kvl.empty", ("kv", [])),
        ("empty", None), ("$bytes", "a key like an escape"),
        ("dup", "first"), ("dup.int", 1), ("dup", "last"), ("dup.int", 2.5),
    ]]


def traces_request():
    req = trace_service_pb2.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend([kv("service.name", "attr-svc")] + every_type("resource"))
    ss = rs.scope_spans.add()
    ss.scope.name = "scope"
    ss.scope.attributes.extend(every_type("scope"))
    s = ss.spans.add()
    s.trace_id = TRACE_ID
    s.span_id = bytes.fromhex("eee19b7ec3c1b173")
    s.name = "every type"
    s.start_time_unix_nano = 1_700_000_000_000_000_000
    s.end_time_unix_nano = 1_700_000_000_100_000_000
    s.attributes.extend(every_type("span"))
    ev = s.events.add()
    ev.name = "ev"
    ev.time_unix_nano = 1_700_000_000_050_000_000
    ev.attributes.extend(every_type("event"))
    ln = s.links.add()
    ln.trace_id = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
    ln.span_id = bytes.fromhex("b7ad6b7169203331")
    ln.attributes.extend(every_type("link"))
    s2 = ss.spans.add()  # no attributes at all: an empty map and ""
    s2.trace_id = TRACE_ID
    s2.span_id = bytes.fromhex("00000000000000a1")
    s2.name = "no attributes"
    s2.start_time_unix_nano = 1_700_000_000_000_000_001
    return req


def logs_request():
    req = logs_service_pb2.ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.extend(every_type("resource"))
    sl = rl.scope_logs.add()
    sl.scope.attributes.extend(every_type("scope"))
    r = sl.log_records.add()
    r.time_unix_nano = 1_700_000_000_000_000_000
    r.body.string_value = "hello"
    r.attributes.extend(every_type("log"))
    return req


def metrics_request():
    req = metrics_service_pb2.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend(every_type("resource"))
    sm = rm.scope_metrics.add()
    met = sm.metrics.add()
    met.name = "g"
    p = met.gauge.data_points.add()
    p.time_unix_nano = 1_700_000_000_000_000_000
    p.as_int = 7
    p.attributes.extend(every_type("point"))
    return req


def post(server, signal, req):
    r = requests.post(f"{server.url}/v1/{signal}", data=req.SerializeToString(),
                      headers={"Content-Type": "application/x-protobuf"}, timeout=30)
    assert r.status_code == 200, r.text


def test_every_attribute_type_round_trips_through_three_readers_the_api_and_otlp(server):
    reqs = {"traces": traces_request(), "logs": logs_request(), "metrics": metrics_request()}
    for signal, req in reqs.items():
        post(server, signal, req)
    server.wait_persisted()
    for signal, req in reqs.items():
        for reader in READERS:
            compare(signal, [req], lake_records(server, signal, reader))

    # The stored form: values as text, one letter per entry, the last of a repeated key.
    from conftest import read_table
    span = [r for r in read_table(server, "spans") if r["name"] == "every type"][0]
    values = dict(span["span_attrs"])
    keys = [k for k, _ in span["span_attrs"]]
    assert keys[-2:] == ["dup", "dup.int"] and len(keys) == len(set(keys))
    letters = dict(zip(keys, span["span_attrs_types"]))
    assert (values["int.max"], letters["int.max"]) == (str(2**63 - 1), "i")
    assert (values["dbl.whole"], letters["dbl.whole"]) == ("2", "d")
    assert (values["dbl.neg0"], values["dbl.tiny"], values["dbl.huge"]) == ("-0", "5e-324", "1e+300")
    assert (values["dbl.nan"], values["dbl.inf"], values["dbl.ninf"]) == ("NaN", "Infinity", "-Infinity")
    assert (values["bytes"], letters["bytes"]) == ("AP8Q", "y")
    assert (values["bytes.empty"], letters["bytes.empty"]) == ("", "y")
    assert (values["empty"], letters["empty"]) == (None, "e")
    assert (values["str.empty"], letters["str.empty"]) == ("", "s")
    assert (values["dup"], letters["dup"], values["dup.int"], letters["dup.int"]) == ("last", "s", "2.5", "d")
    assert letters["arr"] == "a" and json.loads(values["arr"])[0] == 1
    assert (values["kvl.escape"], letters["kvl.escape"]) == ('{"$kvlist":{"$bytes":"not bytes"}}', "k")
    assert (values["kvl"], letters["kvl"]) == ('{"a":1,"b":[{"$double":"NaN"}],"a":"again"}', "k")
    empty = [r for r in read_table(server, "spans") if r["name"] == "no attributes"][0]
    assert (list(empty["span_attrs"]), empty["span_attrs_types"]) == ([], "")

    # The read API answers the same typed JSON objects as schema 1.
    rows = requests.get(f"{server.url}/api/spans?date_from=2023-11-14&date_to=2099-01-01&"
                        f"time_ms_from=0&name=every type", timeout=30).json()["rows"]
    assert len(rows) == 1
    api = rows[0]["span_attrs_json"]
    assert api["dbl.whole"] == 2.0 and api["dbl.nan"] == {"$double": "NaN"}
    assert api["bytes"] == {"$bytes": "AP8Q"} and api["empty"] is None and api["dup"] == "last"
    assert "span_attrs_types" not in rows[0] and "span_attrs" not in rows[0]

    # Lossless OTLP back out: the export decodes to the records that were sent.
    r = requests.get(f"{server.url}/api/traces/{TRACE_ID.hex()}?format=otlp", timeout=30)
    assert r.status_code == 200, r.text
    back = m.pb_from_otlp_json("traces", r.content)
    compare("traces", [reqs["traces"]], m.records_from_request("traces", back))

    # Dropped duplicates are counted: 2 per list; traces 5 lists (resource, scope, span, event,
    # link), logs 3, metrics 2 (resource, point).
    health = requests.get(f"{server.url}/healthz", timeout=30).json()
    dropped = {s: health["signals"][s]["duplicate_attribute_keys_dropped"] for s in reqs}
    assert dropped == {"traces": 10, "logs": 6, "metrics": 4}, dropped


def cart_spans(server):
    """Six spans: routes /cart (4) and /home (2), status codes 200/503/500/404/502/200."""
    codes = [200, 503, 500, 404, 502, 200]
    spans = [{"traceId": f"{i + 1:032x}", "spanId": f"{i + 1:016x}", "name": f"GET {i}",
              "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000500000000",
              "attributes": [{"key": "http.route", "value": {"stringValue": "/cart" if i < 4 else "/home"}},
                             {"key": "http.response.status_code", "value": {"intValue": str(c)}}]}
             for i, c in enumerate(codes)]
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
                               "scopeSpans": [{"spans": spans}]}]}
    r = requests.post(f"{server.url}/v1/traces", data=json.dumps(body), headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    server.wait_persisted()
    return server.table_path("spans", None)


ROUTE_SQL = "SELECT count(*) AS n FROM spans WHERE span_attrs['http.route'] = '/cart'"
STATUS_SQL = "SELECT count(*) AS n FROM spans WHERE CAST(span_attrs['http.response.status_code'] AS INT) >= 500"


def test_issue_sql_with_duckdb_deltalake_and_polars(server):
    path = cart_spans(server)
    # otlake's own filters on the same map: a number matches in any spelling (the raw value-leaf
    # pre-scan looks for each), an absent value skips the row group, comparisons cast.
    for query, want in (("attr.http.route=/cart", 4), ("attr.http.response.status_code=503.0", 1),
                        ("attr.http.response.status_code=503", 1), ("attr.http.route=/nowhere", 0),
                        ("attr.http.response.status_code>=500", 3), ("attr.http.route!=/cart", 2)):
        rows = requests.get(f"{server.url}/api/spans?time_ms_from=0&{query}", timeout=30).json()["rows"]
        assert len(rows) == want, query
    con = _duckdb_con()
    for sql, want in ((ROUTE_SQL, 4), (STATUS_SQL, 3)):
        assert con.execute(sql.replace("FROM spans", f"FROM delta_scan('{path}')")).fetchone()[0] == want, sql
    # A missing key is NULL, not an error.
    assert con.execute(f"SELECT count(span_attrs['nope']) FROM delta_scan('{path}')").fetchone()[0] == 0

    import pyarrow as pa
    from deltalake import DeltaTable, QueryBuilder
    qb = QueryBuilder().register("spans", DeltaTable(path))
    for sql, want in ((ROUTE_SQL, 4), (STATUS_SQL, 3)):
        assert pa.table(qb.execute(sql).read_all()).column("n")[0].as_py() == want, sql

    import polars as pl
    attr = lambda key: pl.col("span_attrs").map.get(key)  # Polars 2 reads the Delta map as a Map
    lf = pl.scan_delta(path)
    assert lf.filter(attr("http.route") == "/cart").collect().height == 4
    assert lf.filter(attr("http.response.status_code").cast(pl.Int32) >= 500).collect().height == 3


SPARK_SCRIPT = r'''
import glob, os, sys
from pyspark.sql import SparkSession
jars = [glob.glob(os.path.expanduser("~/.m2/repository/io/delta/%s/4.0.0/%s-4.0.0.jar" % (a, a)))[0]
        for a in ("delta-spark_2.13", "delta-storage")]
spark = (SparkSession.builder.master("local[1]").config("spark.jars", ",".join(jars))
         .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
         .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
         .config("spark.ui.enabled", "false").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
spark.read.format("delta").load(sys.argv[1]).createOrReplaceTempView("spans")
print(spark.sql(sys.argv[2]).collect()[0][0])
print(spark.sql(sys.argv[3]).collect()[0][0])
print(spark.sql("SELECT span_attrs_types FROM spans LIMIT 1").collect()[0][0])
spark.stop()
'''


def spark_available():
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return bool(glob.glob(os.path.expanduser("~/.m2/repository/io/delta/delta-spark_2.13/4.0.0/*.jar")))


@pytest.mark.slow
def test_issue_sql_with_spark_and_delta(server):
    """pyspark + delta-spark (toolchain.md's recipe; tools/install-deps.sh --spark). ~15 s CPU."""
    if not spark_available():
        pytest.skip("pyspark and the delta-spark jars are not installed (tools/install-deps.sh --spark)")
    path = cart_spans(server)
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable)
    p = subprocess.run([sys.executable, "-c", SPARK_SCRIPT, path, ROUTE_SQL, STATUS_SQL],
                       capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stderr[-4000:]
    assert p.stdout.split() == ["4", "3", "si"], p.stdout


def test_schema_version_1_day_is_skipped_by_name(server):
    """A day whose tables have *_attrs_json columns (schema 1) is not read as if it had no
    attributes: the answer says which day and table it skipped and why."""
    import pyarrow as pa
    from deltalake import write_deltalake
    day = "2026-01-05"
    old = pa.table({"project_id": ["default"], "schema_version": pa.array([1], pa.int64()),
                    "service_name": ["old"], "resource_attrs_json": ['{"service.name":"old"}'],
                    "event_ts": pa.array([1767571200000], pa.int64()), "span_attrs_json": ['{"a":1}']})
    write_deltalake(os.path.join(server.root, "staging", "days", day, "otel", "spans"), old)
    cart_spans(server)
    r = requests.get(f"{server.url}/api/spans?time_ms_from=0", timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["rows"]) == 6  # today's rows still answered
    warnings = " ".join(body.get("warnings", []))
    assert f"{day} spans skipped" in warnings and "schema_version 1" in warnings, body.get("warnings")
    days = requests.get(f"{server.url}/api/days", timeout=30).json()
    old_day = [d for d in (days["days"] if isinstance(days, dict) else days) if d["day"] == day][0]
    spans = old_day["tables"]["spans"]
    assert "schema_version 1" in spans.get("error", ""), spans
