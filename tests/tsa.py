"""A loopback RFC 3161 time-stamping authority for tests: `openssl ts -reply` behind an HTTP server on 127.0.0.1.

`TestAuthority(dir)` makes a root CA and a TSA certificate signed by it (extended key usage timeStamping, critical,
as RFC 3161 requires), writes openssl's TSA config, and answers each POSTed TimeStampReq by running
`openssl ts -reply` on it. `ca_pem` is what `auditor verify --tsa-ca` and `openssl ts -verify -CAfile` take.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

POLICY = "1.3.6.1.4.1.55555.1.1"
TSA_NAME = "auditor test TSA"

_CONFIG = """\
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = {policy}
digests = sha256, sha384, sha512
accuracy = secs:1
clock_precision_digits = 0
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "auditor tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def make_certificates(directory: Path, *, ca_name: str = "auditor test root CA") -> tuple[Path, Path, Path]:
    """A root CA and a TSA certificate it signs; (ca.pem, tsa.pem, tsa.key) in `directory`."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(ca_name))
        .issuer_name(_name(ca_name))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa = (
        x509.CertificateBuilder()
        .subject_name(_name(TSA_NAME))
        .issuer_name(ca.subject)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_pem, tsa_pem, key = directory / "ca.pem", directory / "tsa.pem", directory / "tsa.key"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    tsa_pem.write_bytes(tsa.public_bytes(serialization.Encoding.PEM))
    _write_key(key, tsa_key)
    return ca_pem, tsa_pem, key


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    authority: TestAuthority


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        authority = self.server.authority
        authority.requests.append(body)
        status, payload = authority.answer(body, self.headers.get("Content-Type", ""))
        self.send_response(status)
        self.send_header("Content-Type", "application/timestamp-reply" if status == 200 else "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class TestAuthority:
    """The loopback TSA; `failing = True` makes it answer HTTP 503, `garbage` a 200 that is no TimeStampResp."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca_pem, self.tsa_pem, self.key = make_certificates(directory)
        (directory / "serial").write_text("01\n")
        self.config = directory / "tsa.cnf"
        self.config.write_text(_CONFIG.format(dir=directory, policy=POLICY))
        self.requests: list[bytes] = []
        self.failing = False
        self.garbage: bytes | None = None
        """When set, answered with status 200 instead of a TimeStampResp (a misconfigured URL, a proxy page)."""
        self._lock = threading.Lock()
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>/tsa"""
        assert self._server is not None, "start() the authority first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/tsa"

    def answer(self, query: bytes, content_type: str) -> tuple[int, bytes]:
        """(HTTP status, body) for one request: openssl's TimeStampResp, or an error."""
        if self.failing:
            return 503, b"the authority is down"
        if self.garbage is not None:
            return 200, self.garbage
        if content_type != "application/timestamp-query":
            return 415, b"expected application/timestamp-query"
        with self._lock, tempfile.TemporaryDirectory(dir=self.directory) as work:
            request, response = Path(work) / "request.tsq", Path(work) / "response.tsr"
            request.write_bytes(query)
            done = subprocess.run(
                [
                    "openssl",
                    "ts",
                    "-reply",
                    "-config",
                    str(self.config),
                    "-queryfile",
                    str(request),
                    "-out",
                    str(response),
                ],
                capture_output=True,
                check=False,
            )
            if done.returncode != 0 or not response.is_file():
                return 400, done.stderr
            return 200, response.read_bytes()

    def start(self) -> TestAuthority:
        """Listen on a free loopback port."""
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.authority = self
        threading.Thread(target=self._server.serve_forever, name="test-tsa", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> TestAuthority:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
