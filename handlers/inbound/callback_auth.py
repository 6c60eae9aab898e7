"""Authentication of Call Automation callbacks: the JWT Communication Services signs.

Every mid-call callback carries ``Authorization: Bearer <JWT>``, signed with RS256 by
Communication Services, issued by ``CALLBACK_ISSUER``, addressed to the resource's immutable id
(``CALLBACK_AUDIENCE``), and living about five minutes. Its signing keys are a JWKS at
``CALLBACK_JWKS_URL``.

What is checked, in order: the header is a Bearer token; the token's header names an RSA
algorithm (``none`` and HS* are refused before any key is looked at, so a public key can never
be used as an HMAC secret) and a key id; that key id is in the JWKS; the signature; ``exp``
(required), ``nbf`` and ``iat``, each with ``CALLBACK_JWT_LEEWAY_SECONDS`` of leeway; ``iss``;
``aud``. A failure is :class:`~handlers.errors.TokenRejected` with a detail that names the reason
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

**A key id we do not know yet is a 503 too, unless we just looked.** Communication Services
rotates its keys by publishing a new one in the JWKS; a token signed with it may arrive before
our cached copy of the set has it. The set is fetched again for an unknown key id at most once
per ``refetch_cooldown_seconds`` (so tokens with made-up key ids cannot turn us into a load
generator against the JWKS endpoint). Inside that pause the token is answered 503 with
``Retry-After`` (the rest of the pause): it may be good, and a 401 would lose it. 401 is only for a
key id missing from a key set fetched for this very request (or while it waited for the fetch).

Key handling (:class:`~handlers.inbound.callback_jwt.SigningKeys`):

- Keys are fetched lazily, on the first callback, never at import or construction.
- The whole key set is cached for ``keys_lifespan_seconds``. There is no per-key cache that
  outlives the set: a key Communication Services withdrew is refused at the next refresh.
- Each fetch must be whole within ``fetch_deadline_seconds`` of wall-clock time (a watchdog shuts
  the socket, so an endpoint that drips a byte a second is cut off like one that hangs), or by
  the delivery's deadline when that comes first (the callback route opens it before the token is
  checked), and at most ``max_key_set_bytes`` long. One lock: concurrent callbacks wait for
  that one fetch, so no callback waits much longer than one deadline. After a failed fetch,
  further fetches are not attempted for ``fetch_retry_seconds``; callbacks fail fast meanwhile
  instead of queueing behind one slow fetch after another.
- When a scheduled refresh fails, the last good key set keeps being used for up to
  ``max_stale_seconds`` after it was fetched, so an outage of the JWKS endpoint does not stop
  callbacks whose keys we already know. A token with an unknown key id during such an outage is
  answered 503: we cannot tell a new key from a forged one.

The authenticator is thread-safe (the key set is read and fetched under one lock; the key
holder is built once, under a lock, on the first callback; the rest is immutable) and meant to be
built once per process. What needs PyJWT lives in :mod:`handlers.inbound.callback_jwt`, imported
on the first callback that is checked, so that a cold start does not pay for PyJWT and cryptography.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from handlers.errors import TokenRejected
from handlers.settings import Settings

if TYPE_CHECKING:
    from handlers.inbound.callback_jwt import SigningKeys

DEFAULT_KEYS_LIFESPAN_SECONDS = 300.0
# A callback is answered inside Event Grid's 30 s, whatever the JWKS endpoint does: a callback
# waits for at most one fetch (the one in progress) before it is answered, and then for the
# pipeline, whose own retries are budgeted apart.
DEFAULT_FETCH_DEADLINE_SECONDS = 5.0
DEFAULT_MAX_KEY_SET_BYTES = 64 * 1024
DEFAULT_REFETCH_COOLDOWN_SECONDS = 30.0
DEFAULT_FETCH_RETRY_SECONDS = 10.0
DEFAULT_MAX_STALE_SECONDS = 3600.0


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
        fetch_deadline_seconds: float = DEFAULT_FETCH_DEADLINE_SECONDS,
        max_key_set_bytes: int = DEFAULT_MAX_KEY_SET_BYTES,
        refetch_cooldown_seconds: float = DEFAULT_REFETCH_COOLDOWN_SECONDS,
        fetch_retry_seconds: float = DEFAULT_FETCH_RETRY_SECONDS,
        max_stale_seconds: float = DEFAULT_MAX_STALE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Fetch nothing: keys are fetched on the first callback. The values are trusted: the
        settings model has checked them (an audience when required, an https key URL)."""
        self.required = required
        self.audience = audience.strip()
        self.issuer = issuer.strip()
        self.leeway_seconds = leeway_seconds
        self._keys: SigningKeys | None = None
        self._keys_lock = threading.Lock()
        self._key_options: dict[str, Any] | None = None
        if not required:
            return
        self._key_options = {
            "uri": jwks_url,
            "lifespan": keys_lifespan_seconds,
            "deadline": fetch_deadline_seconds,
            "max_bytes": max_key_set_bytes,
            "cooldown": refetch_cooldown_seconds,
            "retry_after": fetch_retry_seconds,
            "max_stale": max_stale_seconds,
            "clock": clock,
        }

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
        """Return the token's claims, or raise TokenRejected (401) / SigningKeysUnavailable (503).

        With the check turned off, return ``{}`` without reading the header.
        """
        if self._key_options is None:
            return {}
        token = _bearer_token(authorization)
        # PyJWT (and cryptography under it) only now: a cold start serving Event Grid never
        # needs them, and they are the largest import the app could otherwise not avoid.
        from handlers.inbound import callback_jwt

        kid = callback_jwt.checked_key_id(token)
        key = self._signing_keys().key_for(kid)
        return callback_jwt.decoded_claims(
            token, key, audience=self.audience, issuer=self.issuer, leeway=self.leeway_seconds
        )

    def _signing_keys(self) -> SigningKeys:
        """The one key holder of this authenticator, built on the first callback."""
        if self._keys is None:
            with self._keys_lock:
                if self._keys is None:
                    from handlers.inbound.callback_jwt import SigningKeys

                    assert self._key_options is not None
                    options = dict(self._key_options)
                    self._keys = SigningKeys(options.pop("uri"), **options)
        return self._keys

def _bearer_token(authorization: str | None) -> str:
    if authorization is None or not authorization.strip():
        raise TokenRejected("missing Authorization header: a Bearer token is required")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise TokenRejected("Authorization is not a Bearer token")
    token = token.strip()
    if not token:
        raise TokenRejected("malformed token: the Bearer token is empty")
    return token


