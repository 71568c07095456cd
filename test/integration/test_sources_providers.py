"""Ingestion sources on GCS and Azure Blob Storage (docs/sources.md "Providers"): the same
connector through arrow::fs's GcsFileSystem and AzureFileSystem, against real emulators started
here -- fake-gcs-server (Go module proxy) and azurite (npm), both installed into .tools/ by
tools/install-deps.sh. Files are discovered, ingested into the source's project and queryable; the
connection test names a missing bucket/container and wrong credentials; a scan reports a
container that vanishes and recovers by itself."""
import json
import os
import socket
import subprocess
import time
import urllib.request

import pytest
import requests

from conftest import ROOT, Server, otlake_bin, wait_for

TOOLS = os.path.join(ROOT, ".tools")
# Azurite's well-known development account (public, documented by Microsoft).
AZ_ACCOUNT = "devstoreaccount1"
AZ_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    # Azurite (node) loads ~450 modules at start: seconds when idle, minutes on a loaded machine.
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


def stop_process(proc):
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # azurite may wait for idle sockets to close
        proc.kill()
        proc.wait(timeout=10)


def tool(path):
    p = os.path.join(TOOLS, path)
    if not os.access(p, os.X_OK):
        raise RuntimeError(f"{p} is missing: run tools/install-deps.sh")
    return p


class FakeGcs:
    """fake-gcs-server on 127.0.0.1:<free port>, in memory; set up through its JSON API."""

    def __init__(self):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([tool("bin/fake-gcs-server"), "-scheme", "http", "-host", "127.0.0.1",
                                      "-port", str(self.port), "-backend", "memory",
                                      "-public-host", f"127.0.0.1:{self.port}", "-log-level", "error"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc, "fake-gcs-server")

    def _call(self, method, path, body=b"", ctype="application/json"):
        req = urllib.request.Request(self.endpoint + path, data=body if method != "DELETE" else None,
                                     headers={"Content-Type": ctype}, method=method)
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status

    def create_bucket(self, name):
        self._call("POST", "/storage/v1/b?project=test", json.dumps({"name": name}).encode())

    def put(self, bucket, key, data):
        from urllib.parse import quote
        self._call("POST", f"/upload/storage/v1/b/{bucket}/o?uploadType=media&name={quote(key, safe='')}", data,
                   "application/octet-stream")

    def stop(self):
        stop_process(self.proc)


class Azurite:
    """azurite's Blob service on 127.0.0.1:<free port> with its data in `location`."""

    def __init__(self, location):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([tool("azurite/node_modules/.bin/azurite-blob"), "--blobHost", "127.0.0.1",
                                      "--blobPort", str(self.port), "--location", str(location),
                                      "--skipApiVersionCheck", "--silent"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc, "azurite")

    def fs(self):
        # Test setup only (the code under test is otlake's): pyarrow's Azure client.
        import pyarrow.fs as pafs
        return pafs.AzureFileSystem(account_name=AZ_ACCOUNT, account_key=AZ_KEY,
                                    blob_storage_authority=f"127.0.0.1:{self.port}", blob_storage_scheme="http",
                                    dfs_storage_authority=f"127.0.0.1:{self.port}", dfs_storage_scheme="http")

    def put(self, container, key, data):
        with self.fs().open_output_stream(f"{container}/{key}") as f:
            f.write(data)

    def stop(self):
        stop_process(self.proc)


def trace_file(trace_id, n=3, service="cloud-batch"):
    now = time.time_ns()
    spans = [{"traceId": trace_id, "spanId": f"{i + 1:016x}", "name": f"op{i}", "kind": 1,
              "startTimeUnixNano": str(now - 1_000_000), "endTimeUnixNano": str(now)} for i in range(n)]
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]}).encode()


class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env()
    e.gcs = FakeGcs()
    e.az = Azurite(tmp_path_factory.mktemp("azurite"))
    e.base = tmp_path_factory.mktemp("providers")
    subprocess.run([otlake_bin(), "init", "-D", str(e.base)], check=True, capture_output=True)
    e.admin = subprocess.run([otlake_bin(), "keys", "create", "--scope", "admin", "-D", str(e.base)],
                             capture_output=True, text=True, check=True).stdout.strip()
    e.server = Server(e.base, env={}).start()
    yield e
    e.server.stop()
    e.gcs.stop()
    e.az.stop()


def call(e, method, path, body=None):
    return requests.request(method, e.server.url + path, headers={"Authorization": "Bearer " + e.admin},
                            data=None if body is None else json.dumps(body), timeout=60)


def create(e, body):
    r = call(e, "POST", "/v3/ingestion-sources", body)
    assert r.status_code == 201, r.text
    return r.json()["data"]["id"]


def file_status(e, sid, key):
    for f in call(e, "GET", f"/v3/ingestion-sources/{sid}/files?limit=1000").json()["data"]["items"]:
        if f["s3_key"] == key:
            return f
    return None


def wait_file(e, sid, key, status, timeout=60):
    return wait_for(lambda: (lambda f: f if f and f["status"] == status else None)(file_status(e, sid, key)),
                    f"{key} to be {status} (now {file_status(e, sid, key)})", timeout=timeout, interval=0.3)


def spans(e, project, trace_id):
    r = requests.get(e.server.url + "/api/spans", params={"project_id": project, "trace_id": trace_id, "limit": 100},
                     timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["rows"]


def test_gcs_source_ingests_from_fake_gcs_server(env):
    env.gcs.create_bucket("otel_drop")  # GCS allows '_' in bucket names
    tid = "a1" * 16
    env.gcs.put("otel_drop", "2026/12/07/batch-1.json", trace_file(tid, n=3))
    env.gcs.put("otel_drop", "2026/12/07/notes.txt", b"not listed")
    sid = create(env, {"name": "gcs-drop", "provider": "gcs", "bucket": "otel_drop", "prefix": "2026/",
                       "credential_type": "anonymous", "endpoint_url": env.gcs.endpoint,
                       "scan_interval_seconds": 10, "application_ids": ["gcsproj"]})
    t = call(env, "POST", f"/v3/ingestion-sources/{sid}/test").json()
    assert t == {"status": "success", "files_found": 1}, t
    f = wait_file(env, sid, "2026/12/07/batch-1.json", "completed")
    assert f["spans_count"] == 3 and f["retries"] == 0
    rows = wait_for(lambda: (lambda r: r if len(r) == 3 else None)(spans(env, "gcsproj", tid)), "3 spans from gcs")
    assert {r["service_name"] for r in rows} == {"cloud-batch"}
    # A second object later is found by a later scan (Wake via PATCH), the first not ingested twice.
    tid2 = "b2" * 16
    env.gcs.put("otel_drop", "2026/12/08/batch-2.json", trace_file(tid2, n=2))
    call(env, "PATCH", f"/v3/ingestion-sources/{sid}", {"description": "rescan"})
    wait_file(env, sid, "2026/12/08/batch-2.json", "completed")
    wait_for(lambda: len(spans(env, "gcsproj", tid2)) == 2, "2 spans of the second gcs object")
    assert len(spans(env, "gcsproj", tid)) == 3
    # A bucket that does not exist is named.
    nb = create(env, {"name": "gcs-missing", "provider": "gcs", "bucket": "no-such-gcs-bucket",
                      "credential_type": "anonymous", "endpoint_url": env.gcs.endpoint,
                      "application_ids": ["gcsproj"]})
    t = call(env, "POST", f"/v3/ingestion-sources/{nb}/test").json()
    assert t["status"] == "error" and "NoSuchBucket" in t["message"], t
    assert call(env, "DELETE", f"/v3/ingestion-sources/{nb}").status_code == 200


def test_azure_source_ingests_from_azurite(env):
    fs = env.az.fs()
    fs.create_dir("otel-drop")
    tid = "c3" * 16
    env.az.put("otel-drop", "traces/2026/12/07/a.json", trace_file(tid, n=4, service="az-batch"))
    env.az.put("otel-drop", "other/b.json", trace_file("d4" * 16))
    sid = create(env, {"name": "az-drop", "provider": "azure", "bucket": "otel-drop", "prefix": "traces/",
                       "credential_type": "access_key", "access_key_id": AZ_ACCOUNT, "secret_access_key": AZ_KEY,
                       "endpoint_url": env.az.endpoint, "scan_interval_seconds": 10, "application_ids": ["azproj"]})
    t = call(env, "POST", f"/v3/ingestion-sources/{sid}/test").json()
    assert t == {"status": "success", "files_found": 1}, t
    f = wait_file(env, sid, "traces/2026/12/07/a.json", "completed")
    assert f["spans_count"] == 4
    rows = wait_for(lambda: (lambda r: r if len(r) == 4 else None)(spans(env, "azproj", tid)), "4 spans from azure")
    assert {r["service_name"] for r in rows} == {"az-batch"}
    assert spans(env, "azproj", "d4" * 16) == []  # outside the prefix
    src = call(env, "GET", f"/v3/ingestion-sources/{sid}").json()["data"]
    assert src["provider"] == "azure" and src["has_credentials"] is True and AZ_KEY not in json.dumps(src)


def test_azure_wrong_key_and_missing_container_are_named(env):
    wrong = create(env, {"name": "az-wrong", "provider": "azure", "bucket": "otel-drop", "credential_type": "access_key",
                         "access_key_id": AZ_ACCOUNT, "secret_access_key": "d3Jvbmcta2V5LXZhbHVlLTEyMzQ1Ng==",
                         "endpoint_url": env.az.endpoint, "application_ids": ["azproj"]})
    t = call(env, "POST", f"/v3/ingestion-sources/{wrong}/test").json()
    assert t["status"] == "error" and ("AccessDenied" in t["message"] or "AuthenticationFailed" in t["message"]), t
    assert "d3Jvbmcta2V5" not in json.dumps(t)
    missing = create(env, {"name": "az-missing", "provider": "azure", "bucket": "no-such-container",
                           "credential_type": "access_key", "access_key_id": AZ_ACCOUNT, "secret_access_key": AZ_KEY,
                           "endpoint_url": env.az.endpoint, "application_ids": ["azproj"]})
    t = call(env, "POST", f"/v3/ingestion-sources/{missing}/test").json()
    assert t["status"] == "error" and "NoSuchBucket" in t["message"] and "container" in t["message"], t
    # The container appears: the source recovers by itself on a later scan.
    wait_for(lambda: call(env, "GET", f"/v3/ingestion-sources/{missing}").json()["data"]["scan"]["error"],
             "the scan to report the missing container", timeout=30, interval=0.3)
    env.az.fs().create_dir("no-such-container")
    env.az.put("no-such-container", "late.json", trace_file("e5" * 16, n=1))
    call(env, "PATCH", f"/v3/ingestion-sources/{missing}", {"description": "rescan"})
    wait_file(env, missing, "late.json", "completed")
    assert call(env, "GET", f"/v3/ingestion-sources/{missing}").json()["data"]["scan"]["error"] is None
    for sid in (wrong, missing):
        assert call(env, "DELETE", f"/v3/ingestion-sources/{sid}").status_code == 200


def test_provider_fields_are_validated(env):
    base = {"name": "v", "bucket": "some-bucket", "application_ids": ["p"]}
    for over, field in [({"provider": "azure"}, "access_key_id"),
                        ({"provider": "azure", "access_key_id": "acct", "bucket": "has.dot"}, "bucket"),
                        ({"provider": "gcs", "role_arn": "arn:aws:iam::123456789012:role/r"}, "role_arn"),
                        ({"provider": "gcs", "credential_type": "access_key", "secret_access_key": "x"},
                         "secret_access_key"),
                        ({"provider": "dropbox"}, "provider")]:
        r = call(env, "POST", "/v3/ingestion-sources", dict(base, **over))
        assert r.status_code == 400 and f"'{field}'" in r.json()["error"], (over, r.text)
