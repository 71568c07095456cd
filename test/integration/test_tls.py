"""TLS on the OTLP/HTTP port (--tls-cert/--tls-key/--tls-client-ca; docs/tls.md), with real clients:
curl (the system's, OpenSSL), the OpenTelemetry SDK's OTLP/HTTP exporter and Python's ssl module.
The gRPC port's TLS is tested in test_grpc.py."""
import http.client
import json
import shutil
import signal
import ssl
import subprocess

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from conftest import Server, otlake_bin, read_table, wait_for
from tls_pki import pki, read  # noqa: F401  (pki is a fixture)


def one_span_json(name):
    return json.dumps({"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "tls-test"}}]}, "scopeSpans": [{"spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": name,
            "kind": 1, "startTimeUnixNano": "1", "endTimeUnixNano": "2"}]}]}]})


def start(tmp_path, pki, *extra, client=None):
    ctx = ssl.create_default_context(cafile=f"{pki}/ca.pem")
    if client:
        ctx.load_cert_chain(f"{pki}/{client}.pem", f"{pki}/{client}.key")
    return Server(tmp_path, extra_args=["--grpc-port", "0", *extra], ssl_context=ctx).start()


def curl(*args):
    return subprocess.run(["curl", "-sS", "--max-time", "20", *args], capture_output=True, text=True)


def post_with_curl(s, pki, name, *cert_args):
    return curl("--cacert", f"{pki}/ca.pem", *cert_args, "-H", "Content-Type: application/json",
                "--data-binary", one_span_json(name), "-w", "%{http_code}", "-o", "/dev/null",
                f"{s.url}/v1/traces")


def test_https_with_curl_and_the_sdk_exporter_and_plaintext_refused(tmp_path, pki):
    s = start(tmp_path, pki, "--tls-cert", f"{pki}/server.pem", "--tls-key", f"{pki}/server.key")
    try:
        assert s.url.startswith("https://")
        r = post_with_curl(s, pki, "from-curl")
        assert (r.returncode, r.stdout) == (0, "200"), r.stderr
        r = curl("--cacert", f"{pki}/ca.pem", f"{s.url}/healthz")
        assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True, r.stderr

        tp = TracerProvider(resource=Resource.create({"service.name": "tls-test"}))
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the environment override the session's
        # CA file (the exporter's certificate_file): a session that ignores the environment.
        session = requests.Session()
        session.trust_env = False
        tp.add_span_processor(SimpleSpanProcessor(
            OTLPSpanExporter(endpoint=f"{s.url}/v1/traces", certificate_file=f"{pki}/ca.pem", session=session)))
        with tp.get_tracer("tls").start_as_current_span("from-sdk"):
            pass
        tp.shutdown()

        # A client that does not trust the certificate, and plaintext HTTP, get no answer.
        r = curl(f"{s.url}/healthz")
        assert r.returncode == 60, (r.returncode, r.stderr)  # CURLE_PEER_FAILED_VERIFICATION
        r = curl(f"http://127.0.0.1:{s.port}/healthz")
        assert r.returncode != 0 and r.stdout == "", (r.returncode, r.stdout)
        # TLS older than 1.2 is refused.
        r = curl("--cacert", f"{pki}/ca.pem", "--tlsv1.1", "--tls-max", "1.1", f"{s.url}/healthz")
        assert r.returncode != 0 and r.stdout == "", (r.returncode, r.stdout)
        # ALPN: otlake's HTTP port speaks HTTP/1.1 and says so.
        r = curl("--cacert", f"{pki}/ca.pem", "-v", "-o", "/dev/null", f"{s.url}/healthz")
        assert "ALPN: server accepted http/1.1" in r.stderr, r.stderr

        s.wait_persisted()
        assert sorted(x["name"] for x in read_table(s, "spans", columns=["name"])) == ["from-curl", "from-sdk"]
    finally:
        assert s.stop() in (0, None), s.read_log()


def test_mutual_tls_with_curl(tmp_path, pki):
    s = start(tmp_path, pki, "--tls-cert", f"{pki}/server.pem", "--tls-key", f"{pki}/server.key",
              "--tls-client-ca", f"{pki}/ca.pem", client="client")
    try:
        r = post_with_curl(s, pki, "with-client-cert", "--cert", f"{pki}/client.pem", "--key", f"{pki}/client.key")
        assert (r.returncode, r.stdout) == (0, "200"), r.stderr
        for cert_args in ([], ["--cert", f"{pki}/stranger.pem", "--key", f"{pki}/stranger.key"]):
            r = post_with_curl(s, pki, "refused", *cert_args)
            assert r.returncode != 0 and r.stdout in ("", "000"), (cert_args, r.returncode, r.stdout, r.stderr)
        s.wait_persisted()  # through the client certificate of the fixture's context
        assert [x["name"] for x in read_table(s, "spans", columns=["name"])] == ["with-client-cert"]
    finally:
        assert s.stop() in (0, None), s.read_log()


def test_sighup_reload_keeps_open_keepalive_connections(tmp_path, pki):
    cert, key = str(tmp_path / "live.pem"), str(tmp_path / "live.key")
    shutil.copy(f"{pki}/server.pem", cert)
    shutil.copy(f"{pki}/server.key", key)
    s = start(tmp_path, pki, "--tls-cert", cert, "--tls-key", key)
    try:
        def served_cert():
            return ssl.get_server_certificate(("127.0.0.1", s.port)).strip()

        conn = http.client.HTTPSConnection("127.0.0.1", s.port, context=s.ssl_context, timeout=10)
        conn.request("GET", "/healthz")
        assert conn.getresponse().read() and conn.sock is not None
        sock = conn.sock
        assert served_cert() == read(f"{pki}/server.pem").decode().strip()
        shutil.copy(f"{pki}/server2.pem", cert)
        shutil.copy(f"{pki}/server2.key", key)
        s.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: served_cert() == read(f"{pki}/server2.pem").decode().strip(), "the new certificate served")
        # The connection opened before the reload still answers, on the same socket.
        conn.request("POST", "/v1/traces", body=one_span_json("after-reload"),
                     headers={"Content-Type": "application/json"})
        assert conn.getresponse().status == 200
        assert conn.sock is sock
        conn.close()
        assert s.proc.poll() is None  # SIGHUP reloads; it does not stop the server
        s.wait_persisted()
        assert [x["name"] for x in read_table(s, "spans", columns=["name"])] == ["after-reload"]
    finally:
        assert s.stop() in (0, None), s.read_log()


def cli(*args):
    return subprocess.run([otlake_bin(), *args], capture_output=True, text=True, timeout=60)


def test_cli_status_and_sources_over_tls_and_mutual_tls(tmp_path, pki):
    assert cli("init", "-D", str(tmp_path)).returncode == 0
    key = cli("keys", "create", "--scope", "admin", "-D", str(tmp_path)).stdout.strip()
    s = start(tmp_path, pki, "--tls-cert", f"{pki}/server.pem", "--tls-key", f"{pki}/server.key")
    try:
        # The running server's own certificate (from its server.json) is trusted by default.
        r = cli("status", "-D", str(tmp_path))
        assert r.returncode == 0 and " OK" in r.stdout, (r.returncode, r.stdout, r.stderr)
        r = cli("sources", "list", "-D", str(tmp_path), "--key", key, "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["data"]["items"] == [], (r.returncode, r.stdout, r.stderr)
        # An explicit CA, with the host name checked against the certificate (127.0.0.1 is in it).
        r = cli("status", "-P", str(s.port), "--tls-ca", f"{pki}/ca.pem")
        assert r.returncode == 0, r.stderr
        r = cli("status", "-P", str(s.port), "--tls-ca", f"{pki}/otherca.pem")
        assert r.returncode == 3 and "not trusted" in r.stderr, r.stderr
        r = cli("status", "-P", str(s.port))  # plain HTTP to a TLS port: said, not misread
        assert r.returncode == 3 and "--tls-ca" in r.stderr, r.stderr
    finally:
        assert s.stop() in (0, None), s.read_log()

    s = start(tmp_path, pki, "--tls-cert", f"{pki}/server.pem", "--tls-key", f"{pki}/server.key",
              "--tls-client-ca", f"{pki}/ca.pem", client="client")
    try:
        r = cli("status", "-D", str(tmp_path))
        assert r.returncode == 3 and "--tls-client-cert" in r.stderr, r.stderr
        r = cli("status", "-D", str(tmp_path), "--tls-client-cert", f"{pki}/client.pem",
                "--tls-client-key", f"{pki}/client.key")
        assert r.returncode == 0 and " OK" in r.stdout, (r.stdout, r.stderr)
    finally:
        assert s.stop() in (0, None), s.read_log()


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
