"""Certificates for TLS tests, made with the openssl command line: two CAs, server certificates
for 127.0.0.1/localhost, a client certificate from the first CA and one from the other."""
import os
import subprocess

import pytest


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=d)
    return os.path.join(d, f"{name}.pem")


def make_cert(d, ca, name, server=True):
    """A certificate for `name` signed by CA `ca` (files <name>.pem / <name>.key in d)."""
    ext = os.path.join(d, f"{name}.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n" if server else "extendedKeyUsage=clientAuth\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-days", "2", "-extfile", ext, "-out", f"{name}.pem", cwd=d)
    return os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key")


def read(path):
    with open(path, "rb") as f:
        return f.read()


@pytest.fixture
def pki(tmp_path):
    """A directory of CA, server, client and stranger certificates (<name>.pem, <name>.key)."""
    d = str(tmp_path / "pki")
    os.makedirs(d)
    make_ca(d, "ca")
    make_ca(d, "otherca")
    make_cert(d, "ca", "server")
    make_cert(d, "ca", "server2")
    make_cert(d, "ca", "client", server=False)
    make_cert(d, "otherca", "stranger", server=False)
    return d
