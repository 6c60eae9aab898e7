"""Test helpers for JWT-signed callbacks: RSA keys, a token minter, and a loopback JWKS server.

Plain helpers (``make_rsa_key``, ``mint_token``, ``JwksServer``, ``unreachable_url``,
``hung_endpoint``) work anywhere; the fixtures at the bottom (``signing_key``, ``jwks_server``)
become available to every test file once ``tests/conftest.py`` imports them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

TEST_ISSUER = "https://acscallautomation.communication.azure.com"
TEST_AUDIENCE = "00000000-1111-2222-3333-444444444444"


@dataclass(frozen=True)
class RsaKeyPair:
    """An RSA signing key and the key id it is published under."""

    kid: str
    private_key: rsa.RSAPrivateKey = field(repr=False)

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWKS entry, shaped like Communication Services publishes them."""
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def make_rsa_key(kid: str = "test-key-1") -> RsaKeyPair:
    return RsaKeyPair(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))


def token_claims(
    *,
    issuer: str = TEST_ISSUER,
    audience: str = TEST_AUDIENCE,
    expires_in: float | None = 300,
    not_before_in: float | None = None,
    issued_at_in: float | None = 0,
    now: float | None = None,
) -> dict[str, Any]:
    """Claims with times given as seconds from now (negative for the past); None omits one."""
    moment = time.time() if now is None else now
    claims: dict[str, Any] = {"iss": issuer, "aud": audience}
    for name, offset in (("exp", expires_in), ("nbf", not_before_in), ("iat", issued_at_in)):
        if offset is not None:
            claims[name] = int(moment + offset)
    return claims


def mint_token(
    key: RsaKeyPair,
    *,
    kid: str | None = None,
    with_kid: bool = True,
    algorithm: str = "RS256",
    claims: dict[str, Any] | None = None,
    **claim_options: Any,
) -> str:
    """An RS-signed token; ``kid`` defaults to the key's, ``claim_options`` go to token_claims."""
    payload = claims if claims is not None else token_claims(**claim_options)
    headers = {"kid": kid or key.kid} if with_kid else None
    return jwt.encode(payload, key.private_key, algorithm=algorithm, headers=headers)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


def unsigned_token(claims: dict[str, Any], *, kid: str) -> str:
    """An ``alg: none`` token: header and claims, empty signature."""
    return f"{_segment({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_segment(claims)}."


def hs256_token(claims: dict[str, Any], *, secret: bytes, kid: str) -> str:
    """An HS256 token built by hand, because PyJWT refuses to use a public key as an HMAC
    secret: exactly what an attacker does in the algorithm-confusion attack."""
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_segment(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


class JwksServer:
    """A JWKS endpoint on 127.0.0.1 that counts its fetches; use as a context manager.

    ``publish`` swaps the key set (key rotation); ``fail_with`` makes every fetch answer that
    status, or ``None`` to serve keys again; ``stop`` takes the endpoint down.
    """

    def __init__(self, *keys: RsaKeyPair) -> None:
        self._lock = threading.Lock()
        self._body = b""
        self._failure: int | None = None
        self._fetches = 0
        self.publish(*keys)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval so that stopping the server does not hold up every test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._running = False

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/calling/keys"

    @property
    def fetch_count(self) -> int:
        with self._lock:
            return self._fetches

    def publish(self, *keys: RsaKeyPair) -> None:
        body = json.dumps({"keys": [key.public_jwk() for key in keys]}).encode()
        with self._lock:
            self._body = body

    def fail_with(self, status: int | None) -> None:
        with self._lock:
            self._failure = status

    def start(self) -> JwksServer:
        self._thread.start()
        self._running = True
        return self

    def stop(self) -> None:
        if self._running:
            self._server.shutdown()
            self._running = False
        self._server.server_close()

    def __enter__(self) -> JwksServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self._thread.join(timeout=5)

    def _answer(self) -> tuple[int, bytes]:
        with self._lock:
            self._fetches += 1
            if self._failure is not None:
                return self._failure, b'{"error": "unavailable"}'
            return 200, self._body

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = jwks._answer()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

        return Handler


class RawJwksServer:
    """A JWKS endpoint on 127.0.0.1 written at the socket level, to misbehave on purpose.

    It answers every connection with ``head`` then ``body``; ``drip`` names the part it sends one
    byte per ``interval`` seconds (a slow-loris answer). ``sent`` counts the bytes that got out
    before the client hung up, ``complete`` the answers sent whole. Use as a context manager.
    """

    def __init__(
        self, head: bytes, body: bytes, *, drip: str | None = None, interval: float = 1.0
    ) -> None:
        self.head, self.body, self.drip, self.interval = head, body, drip, interval
        self.sent = 0
        self.complete = 0
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._listener.settimeout(0.05)
        self._threads: list[threading.Thread] = []

    @classmethod
    def answering(cls, body: bytes, *, length: bool = True, **options: Any) -> RawJwksServer:
        """A 200 JSON answer, with or without ``Content-Length`` (then the close ends it)."""
        headers = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        if length:
            headers += f"Content-Length: {len(body)}\r\n"
        return cls((headers + "\r\n").encode(), body, **options)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/calling/keys"

    def __enter__(self) -> RawJwksServer:
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self._threads.append(accept)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            answer = threading.Thread(target=self._answer, args=(connection,), daemon=True)
            answer.start()
            self._threads.append(answer)

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            connection.recv(65536)  # the request: one small GET
            try:
                for part, name in ((self.head, "head"), (self.body, "body")):
                    step = 1 if self.drip == name else 65536
                    for start in range(0, len(part), step):
                        if self._stop.is_set():
                            return
                        connection.sendall(part[start : start + step])
                        self.sent += len(part[start : start + step])
                        if self.drip == name:
                            self._stop.wait(self.interval)
                self.complete += 1
            except OSError:
                return  # the client hung up: what we wanted to see


def unreachable_url() -> str:
    """A loopback URL with nothing listening: connections are refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/calling/keys"


@contextmanager
def hung_endpoint() -> Iterator[str]:
    """A loopback URL that accepts connections (the kernel's backlog does) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        yield f"http://127.0.0.1:{port}/calling/keys"


@pytest.fixture(scope="session")
def signing_key() -> RsaKeyPair:
    """One RSA key for the whole session (generating one takes a noticeable moment)."""
    return make_rsa_key("acs-test-key")


@pytest.fixture
def jwks_server(signing_key: RsaKeyPair) -> Iterator[JwksServer]:
    """A running loopback JWKS publishing ``signing_key``, stopped after the test."""
    with JwksServer(signing_key) as server:
        yield server
