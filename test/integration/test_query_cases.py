"""Data-driven read API tests (DuckDB's sqllogictest idea): each file in query_cases/ holds OTLP/JSON
to ingest and queries with their expected rows (in order) or expected error. They run against the
real server. Placeholders: "$now-<N>s" / "$now+<N>s" / "$now-<N>ms" (nanoseconds, as OTLP/JSON
strings), "$now_ms-<N>s" (epoch ms, in query strings), "$today" (UTC date), "$big" (a 200 KiB
string)."""
import datetime
import glob
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import Server

CASES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "query_cases", "*.json")))
BIG = "x" * (200 * 1024)


def expand(text, now_ns):
    def ns(m):
        sign = -1 if m.group(1) == "-" else 1
        scale = 1_000_000 if m.group(3) == "ms" else 1_000_000_000
        return str(now_ns + sign * int(m.group(2)) * scale)

    text = re.sub(r"\$now_ms([-+])(\d+)s", lambda m: str(now_ns // 1_000_000 + (-1 if m.group(1) == "-" else 1) * int(m.group(2)) * 1000), text)
    text = re.sub(r"\$now([-+])(\d+)(ms|s)", ns, text)
    text = text.replace("$today", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"))
    return text.replace("$big", BIG)


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.mark.parametrize("case", CASES, ids=[os.path.basename(c)[:-5] for c in CASES])
def test_query_case(tmp_path, case):
    now_ns = time.time_ns()
    with open(case, encoding="utf-8") as f:
        spec = json.loads(expand(f.read(), now_ns))
    srv = Server(tmp_path).start()
    try:
        for item in spec["ingest"]:
            req = urllib.request.Request(f"{srv.url}/v1/{item['signal']}", data=json.dumps(item["body"]).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(req, timeout=30) as r:
                assert r.status == 200, r.read()
        srv.wait_persisted()
        for q in spec["queries"]:
            path = q["path"]
            base, _, query = path.partition("?")
            url = srv.url + urllib.parse.quote(base) + ("?" + urllib.parse.quote(query, safe="=&%<>!") if query else "")
            status, body = get(url)
            if "status" in q:
                assert status == q["status"], (path, body)
                assert q["error"] in body["error"], (path, body)
                continue
            assert status == 200, (path, body)
            assert body["count"] == len(body["rows"]), body
            got = [{k: row[k] for k in exp} for row, exp in zip(body["rows"], q["rows"])]
            assert len(body["rows"]) == len(q["rows"]) and got == q["rows"], (path, body["rows"])
    finally:
        assert srv.stop() == 0, srv.read_log()
