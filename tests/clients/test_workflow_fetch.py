"""Fetching a workflow from a URL, against a real HTTPS server on loopback (a self-signed
certificate the client trusts): the file comes back byte for byte; http, a redirect to http,
a private address (unless allowed, as here for loopback), a body over the limit (declared or
streamed), a 404 and a redirect loop are refused with what to do instead."""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.comfy.fixtures import SDXL, fixture_bytes
from tools.clients.workflow_fetch import FetchRefused, fetch_workflow_bytes

LIMIT = 100_000


def _certificate(tmp: Path) -> tuple[Path, Path, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(pem)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                         serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path, pem.decode()


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "Transfer-Encoding" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        port = self.server.server_address[1]
        if self.path == "/sdxl.json":
            self._send(200, fixture_bytes(SDXL))
        elif self.path == "/moved":
            self._send(302, headers={"Location": "/sdxl.json"})
        elif self.path == "/to-http":
            self._send(302, headers={"Location": f"http://127.0.0.1:{port}/sdxl.json"})
        elif self.path == "/loop":
            self._send(302, headers={"Location": "/loop"})
        elif self.path == "/declared-big":
            self._send(200, b"{" + b" " * (LIMIT + 1) + b"}")
        elif self.path == "/streamed-big":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b" " * 10_000
            for _ in range(LIMIT // 10_000 + 2):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._send(404, b"not found")


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    cert, key, pem = _certificate(tmp_path_factory.mktemp("tls"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", pem
    finally:
        server.shutdown()
        server.server_close()


async def _fetch(server: tuple[str, str], path: str, *, allow_private: bool = True) -> bytes:
    base, pem = server
    trusted = ssl.create_default_context(cadata=pem)
    async with httpx.AsyncClient(verify=trusted, trust_env=False) as http:
        return await fetch_workflow_bytes(
            http, base + path, max_bytes=LIMIT, timeout_s=5, allow_private=allow_private
        )


async def test_a_workflow_is_fetched_byte_for_byte_also_after_a_redirect(
    https_server: tuple[str, str],
) -> None:
    assert await _fetch(https_server, "/sdxl.json") == fixture_bytes(SDXL)
    assert await _fetch(https_server, "/moved") == fixture_bytes(SDXL)


@pytest.mark.parametrize(
    ("path", "allow_private", "says"),
    [
        ("/sdxl.json", False, "not a public address"),
        ("/to-http", True, "only https URLs"),
        ("/loop", True, "redirected more than 3 times"),
        ("/declared-big", True, "a workflow is at most"),
        ("/streamed-big", True, "the most a workflow may be"),
        ("/missing.json", True, "answered 404"),
    ],
)
async def test_what_is_refused_says_why(
    https_server: tuple[str, str], path: str, allow_private: bool, says: str
) -> None:
    with pytest.raises(FetchRefused, match=says):
        await _fetch(https_server, path, allow_private=allow_private)


async def test_a_plain_http_url_is_refused_before_any_request() -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        with pytest.raises(FetchRefused, match="only https URLs"):
            await fetch_workflow_bytes(http, "http://127.0.0.1:9/x.json", max_bytes=10, timeout_s=1)
