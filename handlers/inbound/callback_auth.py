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

The authenticator is thread-safe (PyJWKClient serialises key lookups behind its lock; the key
client is built once, under a lock, on the first callback; the rest is immutable) and meant to be
built once per process. What needs PyJWT lives in :mod:`handlers.inbound.callback_jwt`, imported
on the first callback that is checked, so that a cold start does not pay for PyJWT and cryptography.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from handlers.errors import TokenRejected
from handlers.settings import Settings

if TYPE_CHECKING:
    from handlers.inbound.callback_jwt import SigningKeyClient

DEFAULT_KEYS_LIFESPAN_SECONDS = 300.0
DEFAULT_FETCH_TIMEOUT_SECONDS = 5.0
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
        fetch_timeout_seconds: float = DEFAULT_FETCH_TIMEOUT_SECONDS,
        refetch_cooldown_seconds: float = DEFAULT_REFETCH_COOLDOWN_SECONDS,
        fetch_retry_seconds: float = DEFAULT_FETCH_RETRY_SECONDS,
        max_stale_seconds: float = DEFAULT_MAX_STALE_SECONDS,
    ) -> None:
        """Fetch nothing: keys are fetched on the first callback. The values are trusted: the
        settings model has checked them (an audience when required, an https key URL)."""
        self.required = required
        self.audience = audience.strip()
        self.issuer = issuer.strip()
        self.leeway_seconds = leeway_seconds
        self._keys: SigningKeyClient | None = None
        self._keys_lock = threading.Lock()
        self._key_options: dict[str, Any] | None = None
        if not required:
            return
        self._key_options = {
            "uri": jwks_url,
            "lifespan": keys_lifespan_seconds,
            "timeout": fetch_timeout_seconds,
            "cooldown": refetch_cooldown_seconds,
            "retry_after": fetch_retry_seconds,
            "max_stale": max_stale_seconds,
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

        keys = self._key_client()
        kid = callback_jwt.checked_key_id(token)
        key = callback_jwt.signing_key(keys, kid)
        return callback_jwt.decoded_claims(
            token, key, audience=self.audience, issuer=self.issuer, leeway=self.leeway_seconds
        )

    def _key_client(self) -> SigningKeyClient:
        """The one key client of this authenticator, built on the first callback."""
        if self._keys is None:
            with self._keys_lock:
                if self._keys is None:
                    from handlers.inbound.callback_jwt import SigningKeyClient

                    assert self._key_options is not None
                    options = dict(self._key_options)
                    self._keys = SigningKeyClient(options.pop("uri"), **options)
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


