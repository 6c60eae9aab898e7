"""Authentication of Call Automation callbacks: the JWT Communication Services signs.

Every mid-call callback carries ``Authorization: Bearer <JWT>``, signed with RS256 by
Communication Services, issued by ``CALLBACK_ISSUER``, addressed to the resource's immutable id
(``CALLBACK_AUDIENCE``), and living about five minutes. Its signing keys are a JWKS at
``CALLBACK_JWKS_URL``.

What is checked, in order: the header is a Bearer token; the token's header names an RSA
algorithm (``none`` and HS* are refused before any key is looked at, so a public key can never
be used as an HMAC secret) and a key id; that key id is in the JWKS; the signature; ``exp``
(required), ``nbf`` and ``iat``, each with ``CALLBACK_JWT_LEEWAY_SECONDS`` of leeway; ``iss``;
``aud``. A failure is :class:`~handlers.http.Unauthorized` with a detail that names the reason
and never repeats anything taken from the token.

**When our own key fetch fails, the answer is 503, not 401.** A 401 would blame the sender for
our outage: the caller's token may be perfectly good, we just cannot check it. Whether Call
Automation retries a failed callback is not documented in the sources this app follows; Event
Grid (the other sender here) and most webhook senders never retry a 401 and do retry a 5xx. So a
401 would at best be untrue and at worst turn a blip of the JWKS endpoint into lost callbacks,
while a 503 with ``Retry-After`` costs nothing if the sender does not retry. It also files the
failure where it belongs: 5xx is a fault of this app or its dependencies and monitoring counts
it as one; a burst of 401s looks like an attack. The request is refused either way, so nothing
unauthenticated gets through.

Key handling (``PyJWKClient`` underneath):

- Keys are fetched lazily, on the first callback, never at import or construction.
- The whole JWK set is cached for ``keys_lifespan_seconds``; a token naming a key id the cache
  lacks triggers one refetch (at most once per ``refetch_cooldown_seconds``, so tokens with
  made-up key ids cannot turn us into a load generator against the JWKS endpoint).
- PyJWKClient's per-key LRU (``cache_keys=True``) is deliberately **off**: it never expires, so a
  key Communication Services withdrew from its JWKS would be accepted until the process ends.
  The set cache alone already makes a verification a dictionary lookup.
- Each fetch has a socket timeout of ``fetch_timeout_seconds`` (urllib applies it to the connect
  and to every read; name resolution is outside it). PyJWKClient holds one lock while it fetches,
  so concurrent callbacks wait for that one fetch. After a failed fetch, further fetches are not
  attempted for ``fetch_retry_seconds``; callbacks fail fast meanwhile instead of queueing behind
  one slow fetch after another.
- When a scheduled refresh fails, the last good key set keeps being used for up to
  ``max_stale_seconds`` after it was fetched, so an outage of the JWKS endpoint does not stop
  callbacks whose keys we already know. A token with an unknown key id during such an outage is
  answered 503: we cannot tell a new key from a forged one.

The authenticator is thread-safe (PyJWKClient serialises key lookups behind its lock; the rest is
immutable) and meant to be built once per process.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import jwt
from jwt import PyJWK, PyJWKClient
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
    PyJWKClientError,
    PyJWKSetError,
    PyJWTError,
)

from handlers.http import ServiceUnavailable, Unauthorized
from handlers.settings import Settings, SettingsError

logger = logging.getLogger(__name__)

RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
REQUIRED_CLAIMS = ("exp", "iss", "aud")
DEFAULT_KEYS_LIFESPAN_SECONDS = 300.0
DEFAULT_FETCH_TIMEOUT_SECONDS = 5.0
DEFAULT_REFETCH_COOLDOWN_SECONDS = 30.0
DEFAULT_FETCH_RETRY_SECONDS = 10.0
DEFAULT_MAX_STALE_SECONDS = 3600.0

# Algorithm names we may repeat in a detail: our own constants, never free text from a token.
_NAMEABLE_ALGORITHMS = frozenset(get_default_algorithms()) | {"none"}


class SigningKeysUnavailable(ServiceUnavailable):
    """The JWKS could not be fetched or held no usable key: our fault, so 503 and retry."""

    slug = "signing-keys-unavailable"
    title = "Callback signing keys unavailable"


class _KeyFetchError(Exception):
    """Internal: raised inside the key client so a fetch failure never looks like a kid miss."""


class _SigningKeyClient(PyJWKClient):
    """PyJWKClient that fails fast after a failed fetch and falls back to its last good keys.

    Every method here runs under PyJWKClient's lock (``get_signing_key`` takes it), so the
    bookkeeping fields need no lock of their own.
    """

    def __init__(
        self,
        uri: str,
        *,
        lifespan: float,
        timeout: float,
        cooldown: float,
        retry_after: float,
        max_stale: float,
    ) -> None:
        super().__init__(
            uri,
            cache_keys=False,
            cache_jwk_set=True,
            lifespan=lifespan,
            timeout=timeout,
            cooldown_duration=cooldown,
        )
        self.retry_after = retry_after
        self._max_stale = max_stale
        self._failed_at: float | None = None
        self._fetched_at = 0.0
        self._last_good: tuple[float, list[PyJWK]] | None = None

    def fetch_data(self) -> Any:
        if self._failed_at is not None and time.monotonic() - self._failed_at < self.retry_after:
            raise _KeyFetchError("a recent fetch failed; not retrying yet")
        try:
            data = super().fetch_data()
        # ValueError: the body was not JSON, which PyJWKClient lets through unwrapped.
        except (PyJWKClientError, PyJWKSetError, ValueError) as error:
            self._failed_at = time.monotonic()
            logger.warning(
                "callback signing keys could not be fetched",
                extra={"jwks_url": self.uri, "error": str(error)},
            )
            raise _KeyFetchError(str(error)) from error
        self._failed_at = None
        self._fetched_at = time.monotonic()
        return data

    def get_signing_keys(self, refresh: bool = False) -> list[PyJWK]:
        try:
            keys = super().get_signing_keys(refresh)
        except (_KeyFetchError, PyJWKClientError, PyJWKSetError) as error:
            # A forced refresh hunts for an unknown kid: stale keys cannot answer that.
            if not refresh and (stale := self._stale_keys()) is not None:
                return stale
            if isinstance(error, _KeyFetchError):
                raise
            raise _KeyFetchError(str(error)) from error
        # Cached sets only ever come from the latest successful fetch, so that is their age.
        self._last_good = (self._fetched_at, keys)
        return keys

    def _stale_keys(self) -> list[PyJWK] | None:
        if self._last_good is None:
            return None
        fetched_at, keys = self._last_good
        return keys if time.monotonic() - fetched_at < self._max_stale else None


class CallbackAuthenticator:
    """Verifies the ``Authorization`` header of a Call Automation callback."""

    def __init__(
        self,
        *,
        required: bool,
        audience: str,
        issuer: str,
        jwks_url: str,
        leeway_seconds: float,
        keys_lifespan_seconds: float = DEFAULT_KEYS_LIFESPAN_SECONDS,
        fetch_timeout_seconds: float = DEFAULT_FETCH_TIMEOUT_SECONDS,
        refetch_cooldown_seconds: float = DEFAULT_REFETCH_COOLDOWN_SECONDS,
        fetch_retry_seconds: float = DEFAULT_FETCH_RETRY_SECONDS,
        max_stale_seconds: float = DEFAULT_MAX_STALE_SECONDS,
    ) -> None:
        """Check the configuration; fetch nothing (keys are fetched on the first callback).

        Raises SettingsError naming the variable when the check is on and a value is unusable.
        """
        self.required = required
        self.audience = audience.strip()
        self.issuer = issuer.strip()
        self.leeway_seconds = leeway_seconds
        self._keys: _SigningKeyClient | None = None
        if not required:
            return
        _check_required_settings(self.audience, self.issuer, jwks_url)
        self._keys = _SigningKeyClient(
            jwks_url,
            lifespan=keys_lifespan_seconds,
            timeout=fetch_timeout_seconds,
            cooldown=refetch_cooldown_seconds,
            retry_after=fetch_retry_seconds,
            max_stale=max_stale_seconds,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> CallbackAuthenticator:
        return cls(
            required=settings.callback_jwt_required,
            audience=settings.callback_audience,
            issuer=settings.callback_issuer,
            jwks_url=settings.callback_jwks_url,
            leeway_seconds=settings.callback_jwt_leeway_seconds,
        )

    def verify(self, authorization: str | None) -> dict[str, Any]:
        """Return the token's claims, or raise Unauthorized (401) / SigningKeysUnavailable (503).

        With the check turned off, return ``{}`` without reading the header.
        """
        keys = self._keys
        if keys is None:
            return {}
        token = _bearer_token(authorization)
        kid = _checked_key_id(token)
        key = _signing_key(keys, kid)
        return self._decoded_claims(token, key)

    def _decoded_claims(self, token: str, key: PyJWK) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=list(RSA_ALGORITHMS),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except PyJWTError as error:
            raise Unauthorized(_claims_failure_detail(error)) from None


def _signing_key(keys: _SigningKeyClient, kid: str) -> PyJWK:
    try:
        return keys.get_signing_key(kid)
    except _KeyFetchError as error:
        raise SigningKeysUnavailable(
            "signing keys unavailable: the JWKS could not be fetched; retry later",
            headers={"Retry-After": str(max(1, round(keys.retry_after)))},
        ) from error
    except PyJWKClientError:
        # The only PyJWKClientError _SigningKeyClient lets through: no key has this kid.
        raise Unauthorized("unknown key id: no published signing key has the token's kid") from None


def _check_required_settings(audience: str, issuer: str, jwks_url: str) -> None:
    if not audience:
        raise SettingsError(
            "CALLBACK_AUDIENCE: required when CALLBACK_JWT_REQUIRED is true "
            "(the Communication Services resource's immutable id)"
        )
    if not issuer:
        raise SettingsError("CALLBACK_ISSUER: required when CALLBACK_JWT_REQUIRED is true")
    parts = urlsplit(jwks_url)
    if not parts.hostname or parts.scheme not in ("http", "https"):
        raise SettingsError(f"CALLBACK_JWKS_URL: {jwks_url!r} is not an http(s) URL")
    # Keys fetched over plain HTTP could be swapped on the way; loopback is for tests only.
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise SettingsError("CALLBACK_JWKS_URL: must be https (plain http only on loopback)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bearer_token(authorization: str | None) -> str:
    if authorization is None or not authorization.strip():
        raise Unauthorized("missing Authorization header: a Bearer token is required")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("Authorization is not a Bearer token")
    token = token.strip()
    if not token:
        raise Unauthorized("malformed token: the Bearer token is empty")
    return token


def _checked_key_id(token: str) -> str:
    """Refuse the algorithm before any key is used; return the token's key id."""
    try:
        header = jwt.get_unverified_header(token)
    except PyJWTError:
        raise Unauthorized("malformed token: its header cannot be read") from None
    algorithm = header.get("alg")
    if algorithm not in RSA_ALGORITHMS:
        named = algorithm if algorithm in _NAMEABLE_ALGORITHMS else "an unknown algorithm"
        raise Unauthorized(
            f"token algorithm refused: {named} is not one of {', '.join(RSA_ALGORITHMS)}"
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Unauthorized("malformed token: the header has no key id (kid)")
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
