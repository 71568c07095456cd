"""A real S3 server for the tests -- `moto_server` as a child process, with IAM authentication on
(wrong keys and wrong secrets are refused as AWS refuses them) -- and a small fault proxy that
sits in front of it and fails a share of the requests the way S3 does: 500 InternalError,
503 SlowDown, or no answer at all (the client's request timeout fires).
"""
import http.client
import http.server
import json
import os
import random
import shutil
import socket
import socketserver
import subprocess
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoS3:
    """moto_server on 127.0.0.1:<free port> with one IAM user allowed everything."""

    def __init__(self):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        exe = shutil.which("moto_server", path=os.path.join(ROOT, ".venv", "bin")) or "moto_server"
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3")  # user, policy, key; then auth
        self.proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(self.port)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("moto_server did not start")
        import boto3
        iam = boto3.client("iam", endpoint_url=self.endpoint, region_name="us-east-1",
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="otlake")
        iam.put_user_policy(UserName="otlake", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="otlake")["AccessKey"]
        self.key_id, self.secret = key["AccessKeyId"], key["SecretAccessKey"]

    def client(self):
        import boto3
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.key_id, aws_secret_access_key=self.secret)

    def create_bucket(self, name):
        self.client().create_bucket(Bucket=name)
        return name

    def env(self, bucket, prefix="", endpoint=None):
        """The variables a user sets (seed 000), for this server."""
        e = {"S3_BUCKET": bucket, "AWS_ACCESS_KEY_ID": self.key_id, "AWS_SECRET_ACCESS_KEY": self.secret,
             "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint or self.endpoint}
        if prefix:
            e["S3_PREFIX"] = prefix
        return e

    def storage_options(self, endpoint=None):
        """deltalake's storage options for reading straight from this server."""
        return {"AWS_ACCESS_KEY_ID": self.key_id, "AWS_SECRET_ACCESS_KEY": self.secret,
                "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint or self.endpoint,
                "AWS_ALLOW_HTTP": "true", "AWS_S3_ALLOW_UNSAFE_RENAME": "true"}

    def keys(self, bucket, prefix=""):
        out = {}
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                out[o["Key"]] = o["Size"]
        return out

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class FaultProxy:
    """An HTTP proxy to `upstream` that fails requests on purpose.

    fail_rate: share of requests answered with an S3 error (500 InternalError or 503 SlowDown,
    half each) or, with `hang_rate` of them, not answered for `hang_s` seconds before the
    connection is closed. `slow_bytes_per_s` throttles request bodies (to catch an upload in the
    middle). `fail_if(method, path)`, when set, returns a status code (503 SlowDown, 403
    AccessDenied, 500 InternalError) to answer that request with, or None (to hold a day between
    two phases). Counts what it did in `stats`; `log` keeps (method, path,
    status) of every request.
    """

    def __init__(self, upstream_port, fail_rate=0.0, hang_rate=0.0, hang_s=3.0, seed=1,
                 slow_bytes_per_s=None):
        self.upstream_port = upstream_port
        self.fail_rate, self.hang_rate, self.hang_s = fail_rate, hang_rate, hang_s
        self.slow_bytes_per_s = slow_bytes_per_s
        self.fail_if = None
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.stats = {"requests": 0, "forwarded": 0, "500": 0, "503": 0, "hung": 0}
        self.log = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _read(self, n):
                """n bytes of the request body (throttled when asked)."""
                chunks, left = [], n
                while left > 0:
                    step = min(left, 65536 if proxy.slow_bytes_per_s is None else 16384)
                    c = self.rfile.read(step)
                    if not c:
                        break
                    chunks.append(c)
                    left -= len(c)
                    if proxy.slow_bytes_per_s:
                        time.sleep(len(c) / proxy.slow_bytes_per_s)
                return b"".join(chunks)

            def _read_body(self):
                """The body as sent: Content-Length bytes, or the raw chunked encoding (the AWS
                SDK streams uploads as aws-chunked with a checksum trailer), forwarded verbatim."""
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    raw = []
                    while True:
                        line = self.rfile.readline()
                        raw.append(line)
                        size = int(line.split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while True:  # trailers, then the empty line
                                t = self.rfile.readline()
                                raw.append(t)
                                if t in (b"\r\n", b"\n", b""):
                                    break
                            break
                        raw.append(self._read(size + 2))
                    return b"".join(raw)
                return self._read(int(self.headers.get("Content-Length") or 0))

            def _handle(self):
                with proxy.lock:
                    proxy.log.append((self.command, self.path, "start"))
                    if os.environ.get("PROXY_DEBUG"):
                        print(self.command, self.path, dict(self.headers), flush=True)
                body = self._read_body()
                with proxy.lock:
                    proxy.stats["requests"] += 1
                    r = proxy.rng.random()
                    hang = r < proxy.fail_rate * proxy.hang_rate
                    fail = r < proxy.fail_rate
                    code = 503 if proxy.rng.random() < 0.5 else 500
                    forced = proxy.fail_if(self.command, self.path) if proxy.fail_if is not None else None
                    if forced:
                        hang, fail, code = False, True, int(forced)
                if hang:
                    with proxy.lock:
                        proxy.stats["hung"] += 1
                        proxy.log.append((self.command, self.path, "hang"))
                    time.sleep(proxy.hang_s)
                    self.close_connection = True
                    return
                if fail:
                    err = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code><Message>injected fault</Message></Error>" % (
                        {503: b"SlowDown", 403: b"AccessDenied"}.get(code, b"InternalError"))
                    self.send_response(code)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(err)))
                    self.end_headers()
                    self.wfile.write(err)
                    with proxy.lock:
                        proxy.stats[str(code)] += 1
                        proxy.log.append((self.command, self.path, code))
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "expect")}
                conn.request(self.command, self.path, body=body if body or self.command in ("PUT", "POST") else None,
                             headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                        self.send_header(k, v)
                # HEAD: the object's length, as the upstream said (there is no body).
                length = resp.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length if length is not None else str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()
                with proxy.lock:
                    proxy.stats["forwarded"] += 1
                    proxy.log.append((self.command, self.path, resp.status))

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        class ThreadedServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = ThreadedServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
