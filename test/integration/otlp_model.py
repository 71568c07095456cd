"""Canonical OTLP records, built from what was sent and from what the lake holds.

A round-trip test turns the OTLP request it sent (a protobuf message from opentelemetry-proto) and
the rows an independent Delta reader returns into the same canonical form -- one dict per span,
log record or data point, with typed attribute values -- and compares them. Anything the lake
loses or alters (a type, an order, a dropped count, a schema URL) makes the two differ.

Typed values are tuples: ("string", s), ("bool", b), ("int", n), ("double", x), ("bytes", b),
("array", [v...]), ("kvlist", [(k, v)...]), None for an empty AnyValue. Doubles compare with NaN
equal to NaN.
"""
import base64
import json
import math

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

KINDS = ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"]
STATUS = ["UNSET", "OK", "ERROR"]
TEMPORALITY = ["UNSPECIFIED", "DELTA", "CUMULATIVE"]

REQUEST_TYPES = {
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "logs": logs_service_pb2.ExportLogsServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
}


class D(float):
    """A double that equals NaN when both are NaN."""

    def __eq__(self, other):
        if isinstance(other, float) and math.isnan(self) and math.isnan(other):
            return True
        return float.__eq__(self, other)

    def __hash__(self):
        return 0


# ---------------------------------------------------------------------------------------------
# From protobuf messages


def pb_value(v):
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "string_value":
        return ("string", v.string_value)
    if which == "bool_value":
        return ("bool", v.bool_value)
    if which == "int_value":
        return ("int", v.int_value)
    if which == "double_value":
        return ("double", D(v.double_value))
    if which == "bytes_value":
        return ("bytes", bytes(v.bytes_value))
    if which == "array_value":
        return ("array", [pb_value(x) for x in v.array_value.values])
    if which == "kvlist_value":
        return ("kvlist", [(kv.key, pb_value(kv.value)) for kv in v.kvlist_value.values])
    raise AssertionError(which)


def pb_attrs(kvs):
    return [(kv.key, pb_value(kv.value)) for kv in kvs]


def last_per_key(pairs):
    """An attribute list as the lake stores it: a key repeated later in the list keeps only its
    last value, at that position (docs/attributes.md)."""
    last = {k: i for i, (k, _) in enumerate(pairs)}
    return [p for i, p in enumerate(pairs) if last[p[0]] == i]


def pb_attr_list(kvs):
    return last_per_key(pb_attrs(kvs))


def pb_resource(rs):
    return {"attrs": pb_attr_list(rs.resource.attributes),
            "dropped": rs.resource.dropped_attributes_count, "schema_url": rs.schema_url}


def pb_scope(ss):
    return {"name": ss.scope.name, "version": ss.scope.version, "attrs": pb_attr_list(ss.scope.attributes),
            "dropped": ss.scope.dropped_attributes_count, "schema_url": ss.schema_url}


def hexid(b):
    return bytes(b).hex()


def spans_from_pb(req):
    out = []
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append({
                    "resource": pb_resource(rs), "scope": pb_scope(ss),
                    "trace_id": hexid(s.trace_id), "span_id": hexid(s.span_id),
                    "parent_span_id": hexid(s.parent_span_id), "trace_state": s.trace_state,
                    "flags": s.flags, "name": s.name, "kind": s.kind,
                    "start": s.start_time_unix_nano, "end": s.end_time_unix_nano,
                    "attrs": pb_attr_list(s.attributes), "dropped_attrs": s.dropped_attributes_count,
                    "events": [{"time": e.time_unix_nano, "name": e.name, "attrs": pb_attr_list(e.attributes),
                                "dropped": e.dropped_attributes_count} for e in s.events],
                    "dropped_events": s.dropped_events_count,
                    "links": [{"trace_id": hexid(l.trace_id), "span_id": hexid(l.span_id),
                               "trace_state": l.trace_state, "flags": l.flags,
                               "attrs": pb_attr_list(l.attributes), "dropped": l.dropped_attributes_count}
                              for l in s.links],
                    "dropped_links": s.dropped_links_count,
                    "status": {"code": s.status.code, "message": s.status.message},
                })
    return out


def logs_from_pb(req):
    out = []
    for rl in req.resource_logs:
        for sl in rl.scope_logs:
            for r in sl.log_records:
                out.append({
                    "resource": pb_resource(rl), "scope": pb_scope(sl),
                    "time": r.time_unix_nano, "observed_time": r.observed_time_unix_nano,
                    "severity_number": r.severity_number, "severity_text": r.severity_text,
                    "body": pb_value(r.body) if r.HasField("body") else None,
                    "attrs": pb_attr_list(r.attributes), "dropped": r.dropped_attributes_count,
                    "flags": r.flags, "trace_id": hexid(r.trace_id), "span_id": hexid(r.span_id),
                    "event_name": r.event_name,
                })
    return out


def pb_exemplars(exs):
    out = []
    for e in exs:
        which = e.WhichOneof("value")
        value = None
        if which == "as_int":
            value = ("int", e.as_int)
        elif which == "as_double":
            value = ("double", D(e.as_double))
        out.append({"time": e.time_unix_nano, "value": value, "trace_id": hexid(e.trace_id),
                    "span_id": hexid(e.span_id), "attrs": pb_attrs(e.filtered_attributes)})
    return out


def pb_opt(p, field):
    return D(getattr(p, field)) if p.HasField(field) else None


def metrics_from_pb(req):
    out = []
    for rm in req.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                base = {"resource": pb_resource(rm), "scope": pb_scope(sm), "name": m.name,
                        "description": m.description, "unit": m.unit, "metadata": pb_attrs(m.metadata)}
                which = m.WhichOneof("data")
                data = getattr(m, which)
                for p in data.data_points:
                    r = dict(base, type=which, start=p.start_time_unix_nano, time=p.time_unix_nano,
                             attrs=pb_attr_list(p.attributes), flags=p.flags)
                    r["temporality"] = getattr(data, "aggregation_temporality", 0)
                    if which == "sum":
                        r["is_monotonic"] = data.is_monotonic
                    if which in ("gauge", "sum"):
                        v = p.WhichOneof("value")
                        r["value"] = ("int", p.as_int) if v == "as_int" else (
                            ("double", D(p.as_double)) if v == "as_double" else None)
                        r["exemplars"] = pb_exemplars(p.exemplars)
                    elif which == "histogram":
                        r.update(count=p.count, sum=pb_opt(p, "sum"), min=pb_opt(p, "min"), max=pb_opt(p, "max"),
                                 bucket_counts=list(p.bucket_counts),
                                 bounds=[D(x) for x in p.explicit_bounds], exemplars=pb_exemplars(p.exemplars))
                    elif which == "exponential_histogram":
                        r.update(count=p.count, sum=pb_opt(p, "sum"), min=pb_opt(p, "min"), max=pb_opt(p, "max"),
                                 scale=p.scale, zero_count=p.zero_count, zero_threshold=D(p.zero_threshold),
                                 positive={"offset": p.positive.offset, "counts": list(p.positive.bucket_counts)},
                                 negative={"offset": p.negative.offset, "counts": list(p.negative.bucket_counts)},
                                 exemplars=pb_exemplars(p.exemplars))
                    elif which == "summary":
                        r.update(count=p.count, sum=D(p.sum),
                                 quantiles=[(D(q.quantile), D(q.value)) for q in p.quantile_values])
                    out.append(r)
    return out


FROM_PB = {"traces": spans_from_pb, "logs": logs_from_pb, "metrics": metrics_from_pb}


def records_from_request(signal, req):
    return FROM_PB[signal](req)


def pb_from_otlp_json(signal, text):
    """Parses OTLP/JSON (hex IDs, as the OTLP spec says) into the protobuf request message."""
    doc = json.loads(text) if isinstance(text, (str, bytes)) else text

    def fix(node):
        if isinstance(node, dict):
            for k, v in list(node.items()):
                if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                    node[k] = base64.b64encode(bytes.fromhex(v)).decode()
                else:
                    fix(v)
        elif isinstance(node, list):
            for x in node:
                fix(x)

    fix(doc)
    msg = REQUEST_TYPES[signal]()
    json_format.ParseDict(doc, msg, ignore_unknown_fields=True)
    return msg


# ---------------------------------------------------------------------------------------------
# From lake rows (dicts as a Delta reader returns them)


def _pairs_hook(pairs):
    return ("__obj__", pairs)


def typed_from_json_value(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, float):
        return ("double", D(v))
    if isinstance(v, str):
        return ("string", v)
    if isinstance(v, list):
        return ("array", [typed_from_json_value(x) for x in v])
    if isinstance(v, tuple) and v[0] == "__obj__":
        pairs = v[1]
        if len(pairs) == 1 and pairs[0][0].startswith("$"):
            key, inner = pairs[0]
            if key == "$bytes":
                return ("bytes", base64.b64decode(inner))
            if key == "$double":
                return ("double", D(float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}[inner])))
            if key == "$kvlist":
                return ("kvlist", [(k, typed_from_json_value(x)) for k, x in inner[1]])
            raise AssertionError(f"unknown escape {key}")
        return ("kvlist", [(k, typed_from_json_value(x)) for k, x in pairs])
    raise AssertionError(repr(v))


def parse_typed(text):
    return json.loads(text, object_pairs_hook=_pairs_hook, parse_constant=lambda c: float(c))


def attrs_from_json(text):
    obj = parse_typed(text)
    assert isinstance(obj, tuple) and obj[0] == "__obj__", text
    return [(k, typed_from_json_value(v)) for k, v in obj[1]]


def map_pairs(cell):
    """A map cell as the readers give it (pyarrow: (k, v) tuples; Polars: {"key", "value"} dicts)
    as [(key, value)]."""
    return [(e["key"], e["value"]) if isinstance(e, dict) else (e[0], e[1]) for e in cell or []]


def typed_from_map_value(value, letter):
    """One map value and its type letter (docs/attributes.md) as the model's typed value."""
    if letter == "e":
        assert value is None, value
        return None
    if letter == "s":
        return ("string", value)
    if letter == "i":
        return ("int", int(value))
    if letter == "d":
        return ("double", D(float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}.get(value, value))))
    if letter == "b":
        assert value in ("true", "false"), value
        return ("bool", value == "true")
    if letter == "y":
        return ("bytes", base64.b64decode(value, validate=True))
    if letter in "ak":
        typed = typed_from_json_value(parse_typed(value))
        assert typed[0] == ("array" if letter == "a" else "kvlist"), (letter, value)
        return typed
    raise AssertionError(f"unknown type letter {letter!r}")


def attrs_from_map(cell, letters):
    pairs = map_pairs(cell)
    assert len(pairs) == len(letters or ""), (pairs, letters)
    return [(k, typed_from_map_value(v, t)) for (k, v), t in zip(pairs, letters)]


def row_attrs(r, level):
    """The attribute list `<level>_attrs` of a row: from the map columns of a Delta reader, or the
    typed JSON object `<level>_attrs_json` of the read API."""
    if level + "_attrs_json" in r:
        return attrs_from_json(r[level + "_attrs_json"])
    return attrs_from_map(r[level + "_attrs"], r[level + "_attrs_types"])


def row_resource(r):
    return {"attrs": row_attrs(r, "resource"),
            "dropped": r["resource_dropped_attributes_count"], "schema_url": r["resource_schema_url"]}


def row_scope(r):
    return {"name": r["scope_name"], "version": r["scope_version"], "attrs": row_attrs(r, "scope"),
            "dropped": r["scope_dropped_attributes_count"], "schema_url": r["scope_schema_url"]}


def enum_number(names, text):
    return names.index(text) if text in names else int(text)


def spans_from_rows(spans, events, links):
    ev = {}
    for e in events:
        ev.setdefault((e["trace_id"], e["span_id"]), []).append(e)
    lk = {}
    for l in links:
        lk.setdefault((l["trace_id"], l["span_id"]), []).append(l)
    out = []
    for s in spans:
        key = (s["trace_id"], s["span_id"])
        es = sorted(ev.get(key, []), key=lambda e: e["event_index"])
        ls = sorted(lk.get(key, []), key=lambda l: l["link_index"])
        out.append({
            "resource": row_resource(s), "scope": row_scope(s),
            "trace_id": s["trace_id"], "span_id": s["span_id"], "parent_span_id": s["parent_span_id"],
            "trace_state": s["trace_state"], "flags": s["flags"], "name": s["name"],
            "kind": enum_number(KINDS, s["kind"]), "start": s["start_time_unix_nano"],
            "end": s["end_time_unix_nano"], "attrs": row_attrs(s, "span"),
            "dropped_attrs": s["dropped_attributes_count"],
            "events": [{"time": e["time_unix_nano"], "name": e["name"], "attrs": row_attrs(e, "event"),
                        "dropped": e["dropped_attributes_count"]} for e in es],
            "dropped_events": s["dropped_events_count"],
            "links": [{"trace_id": l["linked_trace_id"], "span_id": l["linked_span_id"],
                       "trace_state": l["link_trace_state"], "flags": l["link_flags"],
                       "attrs": row_attrs(l, "link"), "dropped": l["dropped_attributes_count"]}
                      for l in ls],
            "dropped_links": s["dropped_links_count"],
            "status": {"code": enum_number(STATUS, s["status_code"]), "message": s["status_message"]},
        })
    return out


def logs_from_rows(rows):
    out = []
    for r in rows:
        bt = r["body_type"]
        if bt == "empty":
            body = None
        elif bt == "string":
            body = ("string", r["body"])
        else:
            body = typed_from_json_value(parse_typed(r["body"]))
            assert body[0] == {"int": "int", "double": "double", "bool": "bool", "bytes": "bytes",
                               "array": "array", "kvlist": "kvlist"}[bt], (bt, body)
        out.append({
            "resource": row_resource(r), "scope": row_scope(r), "time": r["time_unix_nano"],
            "observed_time": r["observed_time_unix_nano"], "severity_number": r["severity_number"],
            "severity_text": r["severity_text"], "body": body, "attrs": row_attrs(r, "log"),
            "dropped": r["dropped_attributes_count"], "flags": r["flags"], "trace_id": r["trace_id"],
            "span_id": r["span_id"], "event_name": r["event_name"],
        })
    return out


def exemplars_from_json(text):
    out = []
    for e in json.loads(text, parse_constant=float):
        v = e.get("value")
        if isinstance(v, dict):
            value = typed_from_json_value(("__obj__", list(v.items())))
        elif v is None:
            value = None
        else:
            value = typed_from_json_value(v)
        attrs_text = json.dumps(e.get("filtered_attrs", {}))
        out.append({"time": e.get("time_unix_nano", 0), "value": value, "trace_id": e.get("trace_id", ""),
                    "span_id": e.get("span_id", ""), "attrs": attrs_from_json(attrs_text)})
    return out


def _dbl(x):
    return None if x is None else D(x)


def _typed_double(v):
    """A double as written in typed JSON arrays: a number or {"$double": "NaN"}."""
    if isinstance(v, dict):
        return D(float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}[v["$double"]]))
    return D(v)


TYPES = {"Gauge": "gauge", "Sum": "sum", "Histogram": "histogram", "ExpHistogram": "exponential_histogram",
         "Summary": "summary"}


def metrics_from_rows(points, hists):
    out = []
    for r in list(points) + list(hists):
        t = TYPES[r["instrument_type"]]
        rec = {"resource": row_resource(r), "scope": row_scope(r), "name": r["instrument_name"],
               "description": r["description"], "unit": r["unit"],
               "metadata": attrs_from_json(r["metric_metadata_json"]), "type": t,
               "start": r["start_time_unix_nano"], "time": r["time_unix_nano"],
               "attrs": row_attrs(r, "point"), "flags": r["flags"],
               "temporality": enum_number(TEMPORALITY, r["aggregation_temporality"])}
        if t == "sum":
            rec["is_monotonic"] = r["is_monotonic"]
        if t in ("gauge", "sum"):
            if r["value_int"] is not None:
                rec["value"] = ("int", r["value_int"])
                assert r["value"] == float(r["value_int"])
            elif r["value"] is not None:
                rec["value"] = ("double", D(r["value"]))
            else:
                rec["value"] = None
            rec["exemplars"] = exemplars_from_json(r["exemplars_json"])
        elif t == "histogram":
            rec.update(count=r["count"], sum=_dbl(r["sum"]), min=_dbl(r["min"]), max=_dbl(r["max"]),
                       bucket_counts=json.loads(r["counts_json"]),
                       bounds=[_typed_double(x) for x in json.loads(r["bounds_json"])],
                       exemplars=exemplars_from_json(r["exemplars_json"]))
        elif t == "exponential_histogram":
            pos, neg = json.loads(r["exp_positive_json"]), json.loads(r["exp_negative_json"])
            rec.update(count=r["count"], sum=_dbl(r["sum"]), min=_dbl(r["min"]), max=_dbl(r["max"]),
                       scale=r["exp_scale"], zero_count=r["exp_zero_count"],
                       zero_threshold=D(r["exp_zero_threshold"]), positive=pos, negative=neg,
                       exemplars=exemplars_from_json(r["exemplars_json"]))
        elif t == "summary":
            rec.update(count=r["count"], sum=D(r["sum"]),
                       quantiles=[(_typed_double(q["q"]), _typed_double(q["v"]))
                                  for q in json.loads(r["quantiles_json"])])
        out.append(rec)
    return out


def sort_key(signal, rec):
    if signal == "traces":
        return (rec["trace_id"], rec["span_id"])
    return json.dumps(rec, sort_keys=True, default=repr)


def canonical(signal, records):
    return sorted(records, key=lambda r: sort_key(signal, r))
