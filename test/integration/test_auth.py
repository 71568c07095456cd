"""API keys (docs/auth.md): `otlake keys create|list|revoke` and `otlake start --auth required`.

Open mode is unchanged; required mode: 401 + WWW-Authenticate without a (valid) key, 403 for the
wrong scope or project, a revoked key refused within about a second without a restart, failures
counted in /healthz, and no secret in `keys list`, the key store's bytes or the server log."""
import json
import os
import stat
import subprocess
import time

import requests

from conftest import Server, otlake_bin, wait_for

TRACE_A = "5b8efff798038103d269b633813fc60c"
TRACE_B = "6c9f0008a9149214e37ac744924ed71d"


def spans_body(trace_id, name, span_id="eee19b7ec3c1b174"):
    now = time.time_ns()
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "authsvc"}}]},
        "scopeSpans": [{"scope": {"name": "lib"}, "spans": [{
            "traceId": trace_id, "spanId": span_id, "name": name, "kind": 2,
            "startTimeUnixNano": str(now - 1_000_000), "endTimeUnixNano": str(now)}]}]}]}).encode()


def keys(base, *args, check=True):
    r = subprocess.run([otlake_bin(), "keys", *args, "-D", str(base)], capture_output=True, text=True)
    if check:
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r


def create(base, *args):
    token = keys(base, "create", *args).stdout.strip()
    assert token.startswith("otlk_") and len(token) == 58, token
    return token


def secret(token):
    return token.split("_", 2)[2]


def bearer(token):
    return {"Authorization": "Bearer " + token}


def post(server, token=None, body=None, headers=None, path="/v1/traces"):
    h = {"Content-Type": "application/json"}
    if token:
        h.update(bearer(token))
    h.update(headers or {})
    return requests.post(server.url + path, data=body or spans_body(TRACE_A, "x"), headers=h, timeout=30)


def get(server, path, token=None, params=None):
    return requests.get(server.url + path, headers=bearer(token) if token else {}, params=params, timeout=30)


def test_open_mode_is_unchanged(server):
    h = server.health()
    assert h["auth"] == {"mode": "open", "failures_total": 0, "unauthenticated": 0, "forbidden": 0}
    assert post(server).status_code == 200
    # A header open mode does not read changes nothing.
    assert post(server, token="otlk_000000000000_" + "0" * 40).status_code == 200
    assert get(server, "/api/spans", params={"date_from": "2020-01-01"}).status_code == 200
    assert get(server, "/api/days").status_code == 200
    assert server.health()["auth"]["failures_total"] == 0
    assert not os.path.exists(os.path.join(server.root, "configs", "keys.sqlite"))  # none created


def test_required_mode(tmp_path):
    base = tmp_path
    subprocess.run([otlake_bin(), "init", "-D", str(base)], check=True, capture_output=True)
    # Keys created with the server stopped.
    admin = create(base, "--scope", "admin", "--name", "ops")
    ingest = create(base, "--scope", "ingest", "--name", "collector")
    read = create(base, "--scope", "read")
    ingest_shop = create(base, "--scope", "ingest", "--project", "shop")
    read_shop = create(base, "--scope", "read", "--project", "shop")
    tokens = [admin, ingest, read, ingest_shop, read_shop]
    assert len({secret(t) for t in tokens}) == 5

    s = Server(base, extra_args=["--auth", "required"]).start()
    failures = 0
    try:
        # /healthz stays public.
        h = get(s, "/healthz")
        assert h.status_code == 200 and h.json()["auth"]["mode"] == "required"

        # CORS preflight stays public and lets browsers send the key.
        r = requests.options(s.url + "/v1/traces", headers={"Origin": "http://127.0.0.1:9",
                                                          "Access-Control-Request-Headers": "authorization"})
        assert r.status_code == 204 and "Authorization" in r.headers["Access-Control-Allow-Headers"]

        # No key, a malformed one, a wrong one, one in the URL: 401 + WWW-Authenticate, no echo.
        r = post(s)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Bearer realm="otlake"'
        assert "Authorization: Bearer" in r.json()["message"]
        wrong = ingest[:-1] + ("0" if ingest[-1] != "0" else "1")
        for hdrs in ({"Authorization": "Bearer nonsense"}, {"Authorization": "Basic dXNlcjpwYXNz"},
                     bearer(wrong), {"Authorization": ingest}):
            r = requests.post(s.url + "/v1/traces", data=spans_body(TRACE_A, "x"),
                              headers={"Content-Type": "application/json", **hdrs}, timeout=30)
            assert r.status_code == 401, (hdrs, r.status_code, r.text)
            assert r.headers["WWW-Authenticate"] == 'Bearer realm="otlake"'
            assert secret(ingest) not in r.text and secret(wrong) not in r.text
        r = get(s, "/api/spans", params={"api_key": read})
        assert r.status_code == 401 and "URL" in r.json()["error"] and secret(read) not in r.text
        r = requests.get(s.url + "/api/spans?token=" + read.replace("_", "%5F"), timeout=30)
        assert r.status_code == 401 and "URL" in r.json()["error"]
        r = get(s, "/api/spans")
        assert r.status_code == 401 and r.json()["status"] == 401 and "WWW-Authenticate" in r.headers
        # OTLP/protobuf clients get a google.rpc.Status in protobuf.
        r = requests.post(s.url + "/v1/traces", data=b"", headers={"Content-Type": "application/x-protobuf"})
        assert r.status_code == 401 and r.headers["Content-Type"] == "application/x-protobuf"
        failures += 9

        # Scopes: ingest writes but cannot read; read reads but cannot write; admin does both.
        assert post(s, ingest, spans_body(TRACE_A, "by-ingest")).status_code == 200
        r = get(s, "/api/spans", ingest)
        assert r.status_code == 403 and "scope ingest" in r.json()["error"] and "WWW-Authenticate" not in r.headers
        r = post(s, read)
        assert r.status_code == 403 and "scope read" in r.json()["message"]
        failures += 2
        assert post(s, admin, spans_body(TRACE_A, "by-admin", "aaaaaaaaaaaaaaaa")).status_code == 200

        # A project key ingests into its project (named or not) and nowhere else.
        assert post(s, ingest_shop, spans_body(TRACE_B, "shop-1", "bbbbbbbbbbbbbbbb")).status_code == 200
        assert post(s, ingest_shop, spans_body(TRACE_B, "shop-2", "cccccccccccccccc"),
                    headers={"x-otlake-project-id": "shop"}).status_code == 200
        r = post(s, ingest_shop, headers={"x-otlake-project-id": "default"})
        assert r.status_code == 403 and "limited to project 'shop'" in r.json()["message"]
        assert post(s, ingest_shop, path="/v1/traces?project_id=other").status_code == 403
        failures += 2
        s.wait_persisted()

        def names(token, **params):
            r = get(s, "/api/spans", token, params={"select": "name,project_id", **params})
            assert r.status_code == 200, r.text
            return sorted((row["project_id"], row["name"]) for row in r.json()["rows"])

        everything = [("default", "by-admin"), ("default", "by-ingest"), ("shop", "shop-1"), ("shop", "shop-2")]
        assert names(read) == everything
        assert names(admin) == everything
        # A key of project shop reads only shop, and may not ask for another project.
        assert names(read_shop) == [("shop", "shop-1"), ("shop", "shop-2")]
        assert names(read_shop, project_id="shop") == [("shop", "shop-1"), ("shop", "shop-2")]
        assert names(read_shop, name_like="by-%") == []
        r = get(s, "/api/spans", read_shop, params={"project_id": "default"})
        assert r.status_code == 403 and "limited to project 'shop'" in r.json()["error"]
        r = get(s, "/api/days", read_shop)
        assert r.status_code == 403 and "every project" in r.json()["error"]
        assert get(s, "/api/services", read_shop).status_code == 403
        failures += 3
        assert get(s, "/api/traces/" + TRACE_A, read_shop).status_code == 404  # another project's
        r = get(s, "/api/traces/" + TRACE_B, read_shop)
        assert r.status_code == 200 and r.json()["count"] == 2
        assert get(s, "/api/traces/" + TRACE_A, read).json()["count"] == 2
        assert get(s, "/api/days", read).status_code == 200

        # A key created while the server runs works within about a second, without a restart.
        late = create(base, "--scope", "ingest")
        t0 = time.time()
        codes = []
        wait_for(lambda: codes.append(post(s, late).status_code) or codes[-1] == 200, "new key accepted",
                 timeout=5, interval=0.05)
        assert time.time() - t0 < 2.0
        failures += codes.count(401)

        # Revoked while running: refused within about a second.
        key_id = read.split("_")[1]
        out = keys(base, "revoke", key_id)
        assert "Revoked" in out.stdout
        t0 = time.time()
        codes = []
        wait_for(lambda: codes.append(get(s, "/api/spans", read).status_code) or codes[-1] == 401,
                 "revoked key refused", timeout=5, interval=0.05)
        assert time.time() - t0 < 2.0, codes
        r = get(s, "/api/spans", read)
        assert r.status_code == 401 and "revoked" in r.json()["error"]
        failures += 2

        # Every 401 and 403 counted.
        a = s.health()["auth"]
        assert a["failures_total"] == failures == a["unauthenticated"] + a["forbidden"], (a, failures)
        assert a["forbidden"] == 7
    finally:
        rc = s.stop()
    assert rc == 0, s.read_log()

    # `keys list` never shows a secret; it shows who used what (written back at stop).
    all_tokens = tokens + [late]
    table = keys(base, "list").stdout
    js = keys(base, "list", "--json").stdout
    for t in all_tokens:
        assert secret(t) not in table and secret(t) not in js
    rows = [json.loads(line) for line in js.splitlines()]
    assert [r["scope"] for r in rows] == ["admin", "ingest", "read", "ingest", "read", "ingest"]
    by_id = {r["id"]: r for r in rows}
    assert by_id[key_id]["revoked"] is True and by_id[key_id]["revoked_utc"]
    assert by_id[ingest.split("_")[1]]["last_used_utc"] is not None
    assert by_id[ingest_shop.split("_")[1]]["project"] == "shop"
    assert "ID" in table and "LAST USED" in table and "REVOKED" in table and "shop" in table

    # The store holds no secret, and is readable by its owner only; nor does the log hold one.
    cfg = os.path.join(base, "default", "configs")
    files = [os.path.join(cfg, f) for f in os.listdir(cfg) if f.startswith("keys.sqlite")]
    assert files
    for f in files:
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
        data = open(f, "rb").read()
        for t in all_tokens:
            assert secret(t).encode() not in data and t.encode() not in data
    log = open(s.log_path, "rb").read().decode(errors="replace")
    for t in all_tokens:
        assert secret(t) not in log


def test_keys_cli_usage(tmp_path):
    subprocess.run([otlake_bin(), "init", "-D", str(tmp_path)], check=True, capture_output=True)
    assert keys(tmp_path, "list", check=False).stdout.startswith("No API keys")
    assert keys(tmp_path, "create", check=False).returncode == 2                      # no --scope
    assert keys(tmp_path, "create", "--scope", "root", check=False).returncode == 2
    assert keys(tmp_path, "create", "--scope", "admin", "--project", "p", check=False).returncode == 2
    assert keys(tmp_path, "create", "--scope", "read", "--project", "a/b", check=False).returncode == 2
    assert keys(tmp_path, "revoke", check=False).returncode == 2
    assert keys(tmp_path, "revoke", "ffffffffffff", check=False).returncode == 1
    assert keys(tmp_path, "frob", check=False).returncode == 2
    r = keys(tmp_path, "create", "--scope", "read", "--json")
    k = json.loads(r.stdout)
    assert k["key"].startswith("otlk_" + k["id"] + "_") and k["scope"] == "read" and k["project"] is None
    r = subprocess.run([otlake_bin(), "keys", "list", "-D", str(tmp_path / "nope")], capture_output=True, text=True)
    assert r.returncode == 1
    r = subprocess.run([otlake_bin(), "start", "-F", "-D", str(tmp_path), "--auth", "maybe"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--auth" in r.stderr


def test_admin_routes_need_an_admin_key_even_in_open_mode(server):
    """/v3/* holds cloud credentials (ingestion sources): an admin key always, whatever --auth says.
    An admin key reaches the (empty) list of sources."""
    r = get(server, "/v3/ingestion-sources")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Bearer realm="otlake"'
    # Keys created while the server runs (the store did not exist at start) are picked up.
    ingest = create(server.base_dir, "--scope", "ingest")
    admin = create(server.base_dir, "--scope", "admin")
    wait_for(lambda: get(server, "/v3/ingestion-sources", admin).status_code == 200, "admin key accepted",
             timeout=5)
    assert get(server, "/v3/ingestion-sources", admin).json()["data"]["items"] == []
    r = get(server, "/v3/ingestion-sources", ingest)
    assert r.status_code == 403 and "scope admin" in r.json()["error"]
    assert post(server).status_code == 200  # ingest stays open
    a = server.health()["auth"]
    assert a["mode"] == "open" and a["unauthenticated"] >= 1 and a["forbidden"] == 1


def test_sdk_exporter_sends_the_key(tmp_path):
    """The real OTel SDK exporter, configured with the key as a header (what
    OTEL_EXPORTER_OTLP_HEADERS does), gets its spans in; without the key it is refused at once."""
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExportResult

    subprocess.run([otlake_bin(), "init", "-D", str(tmp_path)], check=True, capture_output=True)
    token = create(tmp_path, "--scope", "ingest", "--project", "sdk")
    read = create(tmp_path, "--scope", "read")
    s = Server(tmp_path, extra_args=["--auth", "required"]).start()
    try:
        provider = TracerProvider()
        with provider.get_tracer("t").start_as_current_span("sdk-span") as span:
            pass
        spans = [span]
        ok = OTLPSpanExporter(endpoint=s.url + "/v1/traces", compression=Compression.Gzip,
                              headers={"Authorization": "Bearer " + token})
        assert ok.export(spans) == SpanExportResult.SUCCESS
        t0 = time.time()
        assert OTLPSpanExporter(endpoint=s.url + "/v1/traces").export(spans) == SpanExportResult.FAILURE
        assert time.time() - t0 < 5  # 401 is not retried
        s.wait_persisted()
        rows = get(s, "/api/spans", read, params={"select": "name,project_id"}).json()["rows"]
        assert rows == [{"name": "sdk-span", "project_id": "sdk"}]
    finally:
        assert s.stop() == 0


def _raw_request(server, head, timeout=5.0):
    """Sends `head` (request line + headers, no body) on a fresh socket and returns (seconds to the
    answer, the answer's bytes up to the server's close)."""
    import socket
    s = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    try:
        t0 = time.monotonic()
        s.sendall(head.encode())
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
        return time.monotonic() - t0, data
    finally:
        s.close()


def test_unauthenticated_body_is_not_read(tmp_path):
    """The key is checked once the header is read, before the body: a POST announcing 100 MB
    without a valid key gets its 401 at once and the connection closes, though none of the body
    was sent (a server reading the body first would wait for it until its idle timeout); with
    `Expect: 100-continue` no 100 is sent. A valid key still gets its body read (the same header
    without a key or body waits until the client sends it)."""
    subprocess.run([otlake_bin(), "init", "-D", str(tmp_path)], check=True, capture_output=True)
    admin = create(tmp_path, "--scope", "admin")
    ingest = create(tmp_path, "--scope", "ingest")
    srv = Server(tmp_path, extra_args=["--auth", "required"]).start()
    try:
        big = 100 * 1024 * 1024
        for extra in ("", "Expect: 100-continue\r\n"):
            for path, token in (("/v1/traces", None), ("/v1/traces", "otlk_000000000000_" + "0" * 40),
                                ("/v3/ingestion-sources", ingest)):
                auth = f"Authorization: Bearer {token}\r\n" if token else ""
                took, data = _raw_request(srv, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                               f"Content-Length: {big}\r\n{auth}{extra}\r\n")
                status = data.split(b"\r\n", 1)[0]
                want = b" 403 " if token == ingest else b" 401 "
                assert want in status, (path, extra, data[:300])
                assert b"100 Continue" not in data, data[:300]
                assert took < 2.0, (path, took)  # answered without waiting for the body
                assert b"connection: close" in data.lower(), data[:300]
        # With a valid key the server waits for the announced body (no answer within 1 s).
        took, data = _raw_request(srv, f"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                       f"Content-Length: 1000\r\nAuthorization: Bearer {ingest}\r\n\r\n", timeout=1.0)
        assert data == b"", data[:300]
        # A 100-continue with a valid key gets its 100, then the body is read and acknowledged.
        import socket
        body = spans_body(TRACE_B, "after-100")
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall((f"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nAuthorization: Bearer {ingest}\r\n\r\n").encode())
            assert s.recv(100).startswith(b"HTTP/1.1 100 Continue")
            s.sendall(body)
            assert b" 200 " in s.recv(4096).split(b"\r\n", 1)[0]
        h = srv.health()["auth"]
        assert h["unauthenticated"] >= 4 and h["forbidden"] >= 2, h
        assert get(srv, "/v3/ingestion-sources", admin).status_code == 200
    finally:
        srv.stop()
