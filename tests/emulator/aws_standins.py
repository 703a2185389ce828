"""Local stand-ins for what AWS runs around a client, for the credential, TLS and proxy tests:

- `Recorder`: an HTTP(S) forwarder in front of the emulator (moto, which serves Cognito and
  STS on one port) that records which service each request was for and which access key id
  signed it (read from the SigV4 Authorization header: moto ignores signatures), notes the key
  ids STS hands out, and refuses AssumeRole of any role whose ARN contains "denied", as STS
  does for a role whose trust policy does not name the caller.
- `Imds`: the EC2 instance metadata service, IMDSv2 (a token, then the role, then its
  credentials), handing out a new key id on each fetch, with a chosen lifetime.
  It also serves ECS container credentials at /ecs-credentials (with the Authorization
  header AWS_CONTAINER_AUTHORIZATION_TOKEN sets), counted in .ecs_fetches.
- `ConnectProxy`: an HTTP CONNECT proxy that counts tunnels and keeps the Proxy-Authorization
  headers it saw.
- `make_ca`: a throwaway CA and a certificate for 127.0.0.1 signed by it, as PEM files.
- `Cluster`: a PostgreSQL cluster of its own with the environment a test gives its server
  process (the suite's shared cluster runs with AWS_EC2_METADATA_DISABLED and nothing else).

Everything listens on 127.0.0.1 only.
"""

import datetime
import http.client
import json
import os
import re
import select
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/[^/]+/[^/]+/([^/]+)/aws4_request")


def _serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _stop(server):
    server.shutdown()
    server.server_close()


class Recorder:
    """start() -> self; .url; .seen: [(service, key id, target or STS action)]; .issued: key ids
    STS handed out; stop()."""

    def __init__(self, upstream, tls=None):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.tls = tls  # (cert file, key file) to serve https
        self.seen = []
        self.issued = []
        self.lock = threading.Lock()

    def start(self):
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                match = CREDENTIAL_RE.search(self.headers.get("Authorization", ""))
                key, service = match.groups() if match else (None, None)
                form = urllib.parse.parse_qs(body.decode(errors="replace"))
                action = self.headers.get("X-Amz-Target", "").split(".")[-1] or (
                    form.get("Action", [""])[0])
                with recorder.lock:
                    recorder.seen.append((service, key, action))
                role = form.get("RoleArn", [""])[0]
                if action == "AssumeRole" and "denied" in role:
                    self.reply(403, b"""<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: sts:AssumeRole on resource: """
                               + role.encode() + b"""</Message></Error>
  <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>""",
                               "text/xml")
                    return
                conn = http.client.HTTPConnection(recorder.upstream.hostname,
                                                  recorder.upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection")}
                conn.request("POST", self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                if action == "AssumeRole":
                    issued = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", data)
                    with recorder.lock:
                        recorder.issued.append(issued.group(1).decode() if issued else None)
                self.reply(answer.status, data, answer.getheader("Content-Type", ""))
                conn.close()

            def reply(self, status, data, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        _serve(self.server)
        return self

    def signers(self, service=None):
        with self.lock:
            return [(s, k, a) for s, k, a in self.seen if service in (None, s)]

    def reset(self):
        with self.lock:
            self.seen.clear()
            self.issued.clear()

    def stop(self):
        _stop(self.server)


class Imds:
    """IMDSv2 stand-in. Each credentials fetch hands out key id PREFIX<n> (n from 1), valid
    for `lifetime` seconds. .fetches: how many credential documents were served; .tokens:
    how many tokens."""

    ROLE = "cognito-instance-role"

    def __init__(self, prefix="AKIAIMDS", lifetime=6 * 3600):
        self.prefix, self.lifetime = prefix, lifetime
        self.fetches = self.tokens = self.ecs_fetches = 0
        self.lock = threading.Lock()

    def start(self):
        imds = self

        def credentials(prefix, n):
            now = datetime.datetime.now(datetime.timezone.utc)
            expires = now + datetime.timedelta(seconds=imds.lifetime)
            return {"Code": "Success", "Type": "AWS-HMAC",
                    "LastUpdated": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "AccessKeyId": f"{prefix}{n}",
                    "SecretAccessKey": f"secret-{n}", "Token": f"token-{n}",
                    "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_PUT(self):
                if self.path != "/latest/api/token":
                    return self.reply(404, b"")
                with imds.lock:
                    imds.tokens += 1
                self.reply(200, b"imds-token", ttl=self.headers.get(
                    "X-aws-ec2-metadata-token-ttl-seconds", "21600"))

            def do_GET(self):
                if self.path == "/ecs-credentials":
                    if self.headers.get("Authorization") != "ecs-auth-token":
                        return self.reply(401, b"")
                    with imds.lock:
                        imds.ecs_fetches += 1
                        n = imds.ecs_fetches
                    return self.reply(200, json.dumps(credentials("AKIAECS", n)).encode())
                if self.headers.get("X-aws-ec2-metadata-token") != "imds-token":
                    return self.reply(401, b"")
                base = "/latest/meta-data/iam/security-credentials/"
                if self.path == base:
                    return self.reply(200, Imds.ROLE.encode())
                if self.path != base + Imds.ROLE:
                    return self.reply(404, b"")
                with imds.lock:
                    imds.fetches += 1
                    n = imds.fetches
                self.reply(200, json.dumps(credentials(imds.prefix, n)).encode())

            def reply(self, status, data, ttl=None):
                self.send_response(status)
                if ttl:
                    self.send_header("X-aws-ec2-metadata-token-ttl-seconds", ttl)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = _serve(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self

    def stop(self):
        _stop(self.server)


class ConnectProxy:
    """A CONNECT-only proxy. .tunnels: (host:port) of each tunnel opened; .auth: the
    Proxy-Authorization header of each CONNECT (None when absent)."""

    def __init__(self):
        self.tunnels, self.auth = [], []
        self.lock = threading.Lock()

    def start(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_CONNECT(self):
                with proxy.lock:
                    proxy.tunnels.append(self.path)
                    proxy.auth.append(self.headers.get("Proxy-Authorization"))
                host, port = self.path.rsplit(":", 1)
                try:
                    upstream = socket.create_connection((host, int(port)), timeout=10)
                except OSError:
                    self.send_error(502)
                    return
                self.send_response(200, "Connection established")
                self.end_headers()
                pair = [self.connection, upstream]
                try:
                    while True:
                        ready, _, _ = select.select(pair, [], [], 30)
                        if not ready:
                            break
                        for s in ready:
                            data = s.recv(65536)
                            if not data:
                                return
                            (upstream if s is self.connection else self.connection).sendall(data)
                except OSError:
                    pass
                finally:
                    upstream.close()
                    self.close_connection = True

        self.server = _serve(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
        self.port = self.server.server_address[1]
        return self

    def stop(self):
        _stop(self.server)


def make_ca(directory):
    """(ca.pem, server cert.pem, server key.pem) in DIRECTORY: a CA made for this test, and a
    certificate for 127.0.0.1 it signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cognito_fdw test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    directory = Path(directory)
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    for p in paths:
        p.chmod(0o644)
    return tuple(str(p) for p in paths)


def _pg_bindir():
    """The binaries of the suite's cluster: its postmaster's, whatever PG_MAJOR chose."""
    data = os.environ.get("PG_DATA")
    if data and Path(data, "postmaster.pid").is_file():
        pid = Path(data, "postmaster.pid").read_text().split()[0]
        try:
            return str(Path(os.readlink(f"/proc/{pid}/exe")).parent)
        except OSError:
            pass
    return "/usr/lib/postgresql/15/bin"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A PostgreSQL cluster whose server process has exactly ENV (plus PATH and HOME, the
    cluster's own directory): start() -> self; .port; .base (a directory the postgres OS user
    owns, for files the server should read); stop()."""

    def __init__(self, env=None):
        self.env = dict(env or {})
        self.base = Path(tempfile.mkdtemp(prefix="wrappers-creds-"))
        self.data, self.log = self.base / "data", self.base / "postgres.log"
        self.bindir = _pg_bindir()
        self.as_root = os.geteuid() == 0

    def _run(self, *argv, env=None):
        full = ["env", "-i", "PATH=/usr/bin:/bin", f"HOME={self.base}"]
        full += [f"{k}={v}" for k, v in (env or {}).items()] + list(argv)
        if self.as_root:
            full = ["runuser", "-u", "postgres", "--"] + full
        subprocess.run(full, check=True, cwd="/", stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)

    def chown(self):
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")
            for p in self.base.rglob("*"):
                shutil.chown(p, "postgres", "postgres")

    def start(self):
        self.chown()
        self.base.chmod(0o700)
        self._run(f"{self.bindir}/initdb", "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        self.port = _free_port()
        (self.base / "sock").mkdir()
        self.chown()
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                       f"unix_socket_directories = '{self.base / 'sock'}'\n"
                       "max_connections = 20\nshared_buffers = 16MB\n")
        self._run(f"{self.bindir}/pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w",
                  "-t", "60", "start", env=self.env)
        return self

    def crashes(self):
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines()
                if "terminated by signal" in line or "was terminated" in line]

    def stop(self):
        try:
            self._run(f"{self.bindir}/pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def wait_until(predicate, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
