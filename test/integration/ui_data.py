"""Generated telemetry for the web UI tests (test_ui*.py): traces with nesting, errors, events and
links, one large trace, logs of every severity, and metrics (gauge, sum, histogram), sent as
OTLP/JSON to a running otlake. Every helper returns what it sent so tests can check the UI
against it."""
import json
import os
import random
import time
import urllib.request


def post(url, path, body, key=None):
    data = json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method="POST",
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": "Bearer " + key} if key else {})})
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.status == 200, r.read()


def attr(k, v):
    if isinstance(v, bool):
        return {"key": k, "value": {"boolValue": v}}
    if isinstance(v, int):
        return {"key": k, "value": {"intValue": str(v)}}
    if isinstance(v, float):
        return {"key": k, "value": {"doubleValue": v}}
    return {"key": k, "value": {"stringValue": str(v)}}


def hexid(n):
    return os.urandom(n).hex()


def resource(service, **extra):
    return {"attributes": [attr("service.name", service)] + [attr(k, v) for k, v in extra.items()]}


def send_trace(url, spans, key=None):
    """spans: dicts with service, name, trace_id, span_id, parent, start_ns, end_ns, error, attrs,
    events [(name, t_ns, attrs)], links [(trace_id, span_id)]."""
    by_service = {}
    for s in spans:
        by_service.setdefault(s["service"], []).append({
            "traceId": s["trace_id"], "spanId": s["span_id"], "parentSpanId": s.get("parent", ""),
            "name": s["name"], "kind": s.get("kind", 2),
            "startTimeUnixNano": str(s["start_ns"]), "endTimeUnixNano": str(s["end_ns"]),
            "attributes": [attr(k, v) for k, v in s.get("attrs", {}).items()],
            "events": [{"name": n, "timeUnixNano": str(t), "attributes": [attr(k, v) for k, v in a.items()]}
                       for n, t, a in s.get("events", [])],
            "links": [{"traceId": t, "spanId": sp} for t, sp in s.get("links", [])],
            "status": {"code": 2, "message": s.get("message", "boom")} if s.get("error") else {"code": 1},
        })
    body = {"resourceSpans": [{"resource": resource(svc, **{"host.name": "ui-test"}),
                               "scopeSpans": [{"scope": {"name": "ui-test"}, "spans": sp}]}
                              for svc, sp in by_service.items()]}
    post(url, "/v1/traces", body, key)


def checkout_trace(url, now_ns=None, error=True, key=None, link_to=None):
    """A 6-span checkout trace across 3 services; one error span with an event. Returns the spans."""
    now_ns = now_ns or time.time_ns()
    tid = hexid(16)
    ms = 1_000_000
    t0 = now_ns - 5_000 * ms
    ids = [hexid(8) for _ in range(6)]
    spans = [
        dict(service="frontend", name="GET /checkout", trace_id=tid, span_id=ids[0], start_ns=t0, end_ns=t0 + 420 * ms,
             attrs={"http.route": "/checkout", "http.response.status_code": 500 if error else 200},
             links=[link_to] if link_to else []),
        dict(service="checkout", name="PlaceOrder", trace_id=tid, span_id=ids[1], parent=ids[0], start_ns=t0 + 10 * ms,
             end_ns=t0 + 400 * ms, attrs={"order.id": "A-17"}),
        dict(service="checkout", name="reserve stock", trace_id=tid, span_id=ids[2], parent=ids[1], start_ns=t0 + 20 * ms,
             end_ns=t0 + 120 * ms, attrs={"sku": "cactus"}),
        dict(service="payments", name="Charge", trace_id=tid, span_id=ids[3], parent=ids[1], start_ns=t0 + 130 * ms,
             end_ns=t0 + 390 * ms, error=error, message="card declined",
             attrs={"payment.provider": "acme", "payment.amount": 42.5},
             events=[("retry", t0 + 200 * ms, {"attempt": 1}), ("declined", t0 + 380 * ms, {"code": "51"})]),
        dict(service="payments", name="fraud check", trace_id=tid, span_id=ids[4], parent=ids[3], start_ns=t0 + 140 * ms,
             end_ns=t0 + 180 * ms),
        dict(service="checkout", name="send email", trace_id=tid, span_id=ids[5], parent=ids[1], start_ns=t0 + 395 * ms,
             end_ns=t0 + 398 * ms),
    ]
    send_trace(url, spans, key)
    return tid, spans


def big_trace(url, n=10_000, now_ns=None, key=None, fanout=8):
    """One trace of n spans (a tree with `fanout` children per span), sent in chunks."""
    now_ns = now_ns or time.time_ns()
    tid = hexid(16)
    ms = 1_000_000
    t0 = now_ns - 60_000 * ms
    spans = []
    for i in range(n):
        parent = spans[(i - 1) // fanout]["span_id"] if i else ""
        start = t0 + i * ms
        spans.append(dict(service=f"svc-{i % 5}", name=f"op-{i % 37}", trace_id=tid, span_id=hexid(8),
                          parent=parent, start_ns=start, end_ns=start + (n - i) * ms // 10 + ms, error=(i % 997 == 5)))
    for c in range(0, n, 2000):
        send_trace(url, spans[c:c + 2000], key)
    return tid, spans


SEVERITIES = [(1, "TRACE"), (5, "DEBUG"), (9, "INFO"), (13, "WARN"), (17, "ERROR"), (21, "FATAL")]


def send_logs(url, records, key=None):
    """records: dicts with service, body, severity (number), text, trace_id, span_id, t_ns, attrs."""
    by_service = {}
    for r in records:
        by_service.setdefault(r["service"], []).append({
            "timeUnixNano": str(r.get("t_ns") or time.time_ns()), "severityNumber": r.get("severity", 9),
            "severityText": r.get("text", ""), "body": {"stringValue": r["body"]},
            "traceId": r.get("trace_id", ""), "spanId": r.get("span_id", ""),
            "attributes": [attr(k, v) for k, v in r.get("attrs", {}).items()],
        })
    body = {"resourceLogs": [{"resource": resource(svc), "scopeLogs": [{"scope": {"name": "ui-test"}, "logRecords": recs}]}
                             for svc, recs in by_service.items()]}
    post(url, "/v1/logs", body, key)


def sample_logs(url, n=60, trace_id="", now_ns=None, key=None):
    now_ns = now_ns or time.time_ns()
    rnd = random.Random(7)
    recs = []
    for i in range(n):
        sev, text = SEVERITIES[i % len(SEVERITIES)]
        recs.append(dict(service=["frontend", "checkout", "payments"][i % 3], body=f"log line {i}: {text.lower()} event",
                         severity=sev, text=text, t_ns=now_ns - rnd.randint(1, 3000) * 1_000_000_000 // 10,
                         trace_id=trace_id if i % 10 == 0 else "", attrs={"line": i}))
    send_logs(url, recs, key)
    return recs


def send_metrics(url, now_ns=None, key=None, points=30):
    """A gauge (cpu.temperature, two hosts), a cumulative sum (requests) and a histogram
    (latency) over the last `points` minutes. Returns the gauge values per host."""
    now_ns = now_ns or time.time_ns()
    minute = 60 * 1_000_000_000
    gauge = {"a": [], "b": []}
    gpts, spts, hpts = [], [], []
    total = 0
    for i in range(points):
        t = now_ns - (points - i) * minute
        for host, base in (("a", 40.0), ("b", 60.0)):
            v = base + (i % 7)
            gauge[host].append((t, v))
            gpts.append({"timeUnixNano": str(t), "asDouble": v, "attributes": [attr("host", host)]})
        total += 10 + i
        spts.append({"timeUnixNano": str(t), "startTimeUnixNano": str(now_ns - (points + 1) * minute), "asInt": str(total)})
        counts = [i, 2 * i, 3, 1]
        hpts.append({"timeUnixNano": str(t), "startTimeUnixNano": str(t - minute), "count": str(sum(counts)),
                     "sum": 1.0 * sum(counts), "bucketCounts": [str(c) for c in counts], "explicitBounds": [10.0, 50.0, 100.0]})
    body = {"resourceMetrics": [{"resource": resource("checkout"), "scopeMetrics": [{"scope": {"name": "ui-test"}, "metrics": [
        {"name": "cpu.temperature", "unit": "Cel", "gauge": {"dataPoints": gpts}},
        {"name": "requests", "unit": "1", "sum": {"dataPoints": spts, "aggregationTemporality": 2, "isMonotonic": True}},
        {"name": "latency", "unit": "ms", "histogram": {"dataPoints": hpts, "aggregationTemporality": 2}},
    ]}]}]}
    post(url, "/v1/metrics", body, key)
    return gauge
