"""The half of callback authentication that needs PyJWT: the signing keys, header checks, decoding.

Imported by :mod:`handlers.inbound.callback_auth` on the first callback it checks, never at cold
start: PyJWT imports ``cryptography``, about 40 ms that an Event Grid delivery never needs. What is
checked, how keys are kept, and why a key that cannot be found yet is a 503, is told in
:mod:`handlers.inbound.callback_auth`.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import socket
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from jwt import PyJWK, PyJWKSet
from jwt.algorithms import get_default_algorithms
from jwt.exceptions import (
    DecodeError,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    MissingRequiredClaimError,
    PyJWKError,
    PyJWKSetError,
    PyJWTError,
)

from handlers.deadlines import call_deadline
from handlers.errors import KeyIdNotYetKnown, SigningKeysUnavailable, TokenRejected
from handlers.logs import log_event

RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
REQUIRED_CLAIMS = ("exp", "iss", "aud")
# Communication Services publishes a handful of RSA keys (a few KB); 64 KiB is ample room and
# keeps a hostile or broken endpoint from making us read, parse and hold megabytes.
MAX_KEY_SET_BYTES = 64 * 1024

# Algorithm names we may repeat in a detail: our own constants, never free text from a token.
_NAMEABLE_ALGORITHMS = frozenset(get_default_algorithms()) | {"none"}


class KeySetFetchError(Exception):
    """The key set could not be fetched or read; the message is ours, never the far side's."""


def fetch_key_set(url: str, *, deadline_seconds: float, max_bytes: int) -> bytes:
    """GET the JWKS body, all of it within ``deadline_seconds`` of wall-clock time.

    A socket timeout alone bounds each read, not the whole: a server that drips one byte a
    second never trips it. So a watchdog shuts the socket down at the deadline, which ends any
    read, TLS handshake or send in progress. Name resolution happens before the socket exists
    and is bounded by the resolver, not by this deadline. Redirects are not followed.
    """
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname or "", parts.port, timeout=deadline_seconds)
    cut = threading.Event()

    def cut_off() -> None:
        cut.set()
        if connection.sock is not None:
            with suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(deadline_seconds, cut_off)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.connect()
        if cut.is_set():  # the deadline passed while connecting, before there was a socket
            raise TimeoutError
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("GET", path, headers={"Accept": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            raise KeySetFetchError(f"the JWKS endpoint answered {response.status}")
        declared = response.getheader("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise KeySetFetchError(f"the key set is over {max_bytes} bytes")
        body = response.read(max_bytes + 1)
    except (OSError, http.client.HTTPException) as error:
        if cut.is_set():
            raise KeySetFetchError(f"no whole answer within {deadline_seconds:g} s") from None
        raise KeySetFetchError(f"no answer ({type(error).__name__})") from None
    finally:
        watchdog.cancel()
        connection.close()
    if cut.is_set():  # a body without Content-Length reads as complete when the socket is shut
        raise KeySetFetchError(f"no whole answer within {deadline_seconds:g} s")
    if len(body) > max_bytes:
        raise KeySetFetchError(f"the key set is over {max_bytes} bytes")
    return body


def parse_key_set(body: bytes) -> dict[str, PyJWK]:
    """The signing keys of a JWKS body by key id, or KeySetFetchError saying what is wrong."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise KeySetFetchError("the key set is not JSON") from None
    if not isinstance(data, dict):
        raise KeySetFetchError("the key set is not a JSON object")
    try:
        key_set = PyJWKSet.from_dict(data)
    except (PyJWKSetError, PyJWKError):
        raise KeySetFetchError("the key set holds no usable key") from None
    keys = {
        key.key_id: key
        for key in key_set.keys
        if key.key_id and key.public_key_use in ("sig", None)
    }
    if not keys:
        raise KeySetFetchError("the key set holds no signing key with a key id")
    return keys


@dataclass(frozen=True, slots=True)
class KeySet:
    keys: dict[str, PyJWK]
    fetched_at: float  # monotonic


class SigningKeys:
    """The JWKS, fetched on demand and cached; one lock, so concurrent callbacks share a fetch.

    Every answer is one of: the key; :class:`TokenRejected` when a key set fetched for this very
    request lacks the key id; :class:`KeyIdNotYetKnown` (503) when the key id is missing from an
    older set and a fetch is not allowed yet; :class:`SigningKeysUnavailable` (503) when no usable
    key set can be had.
    """

    def __init__(
        self,
        uri: str,
        *,
        lifespan: float,
        deadline: float,
        cooldown: float,
        retry_after: float,
        max_stale: float,
        max_bytes: int = MAX_KEY_SET_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.uri = uri
        self._lifespan = lifespan
        self._deadline = deadline
        self._cooldown = cooldown
        self._retry_after = retry_after
        self._max_stale = max_stale
        self._max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._current: KeySet | None = None
        self._last_attempt = -math.inf
        self._failed_at: float | None = None

    def key_for(self, kid: str) -> PyJWK:
        asked_at = self._clock()
        with self._lock:
            key_set = self._current
            if key_set is None or self._clock() - key_set.fetched_at >= self._lifespan:
                key_set = self._refreshed(may_use_stale=True)
            key = key_set.keys.get(kid)
            if key is not None:
                return key
            if key_set.fetched_at >= asked_at:  # fetched for this request, or while it waited
                raise _unknown_key_id()
            wait = self._cooldown - (self._clock() - self._last_attempt)
            if wait > 0:
                raise KeyIdNotYetKnown(
                    "unknown key id: it is not among the signing keys fetched "
                    f"{self._clock() - key_set.fetched_at:.0f} s ago, and they may not be fetched "
                    "again yet (a key may just have been published); retry later",
                    retry_after=_whole_seconds(wait),
                )
            key = self._refreshed(may_use_stale=False).keys.get(kid)
            if key is None:
                raise _unknown_key_id()
            return key

    def _refreshed(self, *, may_use_stale: bool) -> KeySet:
        """A freshly fetched key set; else, when allowed, the last good one if not too old."""
        now = self._clock()
        if self._failed_at is not None and now - self._failed_at < self._retry_after:
            wait = self._retry_after - (now - self._failed_at)
            return self._stale_or_unavailable(may_use_stale, wait)
        # The fetch ends by its own deadline or the callback's, whichever comes first.
        deadline = call_deadline(self._deadline).remaining()
        if deadline <= 0:
            return self._stale_or_unavailable(may_use_stale, self._retry_after)
        self._last_attempt = now
        try:
            body = fetch_key_set(self.uri, deadline_seconds=deadline, max_bytes=self._max_bytes)
            key_set = KeySet(parse_key_set(body), fetched_at=self._clock())
        except KeySetFetchError as error:
            self._failed_at = self._clock()
            log_event(
                "signing_keys_unavailable",
                level=logging.WARNING,
                jwks_url=self.uri,
                error=str(error),
            )
            return self._stale_or_unavailable(may_use_stale, self._retry_after)
        self._failed_at = None
        self._current = key_set
        return key_set

    def _stale_or_unavailable(self, may_use_stale: bool, wait: float) -> KeySet:
        current = self._current
        if (
            may_use_stale
            and current is not None
            and self._clock() - current.fetched_at < self._max_stale
        ):
            return current
        raise SigningKeysUnavailable(
            "signing keys unavailable: the JWKS could not be fetched; retry later",
            retry_after=_whole_seconds(wait),
        )


def _unknown_key_id() -> TokenRejected:
    return TokenRejected("unknown key id: no published signing key has the token's kid")


def _whole_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def decoded_claims(
    token: str, key: PyJWK, *, audience: str, issuer: str, leeway: float
) -> dict[str, Any]:
    try:
        return jwt.decode(
            token,
            key,
            algorithms=list(RSA_ALGORITHMS),
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except PyJWTError as error:
        raise TokenRejected(_claims_failure_detail(error)) from None


def checked_key_id(token: str) -> str:
    """Refuse the algorithm before any key is used; return the token's key id."""
    try:
        header = jwt.get_unverified_header(token)
    except PyJWTError:
        raise TokenRejected("malformed token: its header cannot be read") from None
    algorithm = header.get("alg")
    if algorithm not in RSA_ALGORITHMS:
        named = algorithm if algorithm in _NAMEABLE_ALGORITHMS else "an unknown algorithm"
        raise TokenRejected(
            f"token algorithm refused: {named} is not one of {', '.join(RSA_ALGORITHMS)}"
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRejected("malformed token: the header has no key id (kid)")
    return kid


def _claims_failure_detail(error: PyJWTError) -> str:
    """Say what is wrong in our own words; PyJWT's messages may quote the token."""
    match error:
        case ExpiredSignatureError():
            return "token expired"
        case ImmatureSignatureError():
            return "token not yet valid: nbf or iat is in the future"
        case InvalidIssuerError():
            return "wrong issuer: the token was not issued by Call Automation"
        case InvalidAudienceError():
            return "wrong audience: the token is for another Communication Services resource"
        case MissingRequiredClaimError(claim=claim) if claim in REQUIRED_CLAIMS:
            return f"token lacks the required {claim!r} claim"
        case InvalidSignatureError():
            return "bad signature: the token was not signed by the key its kid names"
        case InvalidAlgorithmError():
            return "token algorithm refused: it does not match the signing key's algorithm"
        case DecodeError():
            return "malformed token: it cannot be decoded"
        case _:
            return "invalid token"
