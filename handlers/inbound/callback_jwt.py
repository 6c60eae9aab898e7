"""The half of callback authentication that needs PyJWT: key fetching, header checks, decoding.

Imported by :mod:`handlers.inbound.callback_auth` on the first callback it checks, never at cold
start: PyJWT imports ``cryptography``, about 40 ms that an Event Grid delivery never needs. What is
checked, and why a failed key fetch is a 503, is told in :mod:`handlers.inbound.callback_auth`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

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

from handlers.errors import SigningKeysUnavailable, TokenRejected
from handlers.logs import log_event

RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
REQUIRED_CLAIMS = ("exp", "iss", "aud")

# Algorithm names we may repeat in a detail: our own constants, never free text from a token.
_NAMEABLE_ALGORITHMS = frozenset(get_default_algorithms()) | {"none"}


class _KeyFetchError(Exception):
    """Internal: raised inside the key client so a fetch failure never looks like a kid miss."""


class SigningKeyClient(PyJWKClient):
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
            log_event(
                "signing_keys_unavailable",
                level=logging.WARNING,
                jwks_url=self.uri,
                error=str(error),
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


def signing_key(keys: SigningKeyClient, kid: str) -> PyJWK:
    try:
        return keys.get_signing_key(kid)
    except _KeyFetchError as error:
        raise SigningKeysUnavailable(
            "signing keys unavailable: the JWKS could not be fetched; retry later",
            retry_after=max(1, round(keys.retry_after)),
        ) from error
    except PyJWKClientError:
        # The only PyJWKClientError SigningKeyClient lets through: no key has this kid.
        raise TokenRejected(
            "unknown key id: no published signing key has the token's kid"
        ) from None


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
