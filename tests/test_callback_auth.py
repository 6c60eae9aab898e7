"""The Call Automation callback JWT: what passes, what is refused and why, how keys are kept."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from handlers.deadlines import delivery_deadline
from handlers.errors import KeyIdNotYetKnown, SigningKeysUnavailable
from handlers.errors import TokenRejected as Unauthorized
from handlers.http.messages import PROBLEM_JSON, Headers, Request
from handlers.http.problems import problem_answer
from handlers.http.routes import callbacks
from handlers.inbound.callback_auth import CallbackAuthenticator
from handlers.settings import load_settings
from tests.conftest import RuntimeFactory
from tests.jwks import (
    TEST_AUDIENCE,
    TEST_ISSUER,
    JwksServer,
    RawJwksServer,
    RsaKeyPair,
    hs256_token,
    hung_endpoint,
    make_rsa_key,
    mint_token,
    token_claims,
    unreachable_url,
    unsigned_token,
)

LEEWAY_SECONDS = 30


def build_authenticator(jwks_url: str, **options: Any) -> CallbackAuthenticator:
    settings: dict[str, Any] = {
        "required": True,
        "audience": TEST_AUDIENCE,
        "issuer": TEST_ISSUER,
        "jwks_url": jwks_url,
        "leeway_seconds": LEEWAY_SECONDS,
        **options,
    }
    return CallbackAuthenticator(**settings)


@pytest.fixture
def authenticator(jwks_server: JwksServer) -> CallbackAuthenticator:
    return build_authenticator(jwks_server.url)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def test_good_token_is_accepted_and_its_claims_returned(
    authenticator: CallbackAuthenticator, signing_key: RsaKeyPair
) -> None:
    claims = authenticator.verify(bearer(mint_token(signing_key)))
    assert claims["iss"] == TEST_ISSUER
    assert claims["aud"] == TEST_AUDIENCE


@pytest.mark.parametrize(
    "header",
    ["bearer {token}", "BEARER {token}", "  Bearer   {token}  "],
    ids=["lower-case scheme", "upper-case scheme", "extra spaces"],
)
def test_bearer_scheme_is_read_case_insensitively(
    authenticator: CallbackAuthenticator, signing_key: RsaKeyPair, header: str
) -> None:
    token = mint_token(signing_key)
    assert authenticator.verify(header.format(token=token))["aud"] == TEST_AUDIENCE


@pytest.mark.parametrize(
    "claim_options",
    [
        {"expires_in": -(LEEWAY_SECONDS - 10)},
        {"not_before_in": LEEWAY_SECONDS - 10},
        {"issued_at_in": LEEWAY_SECONDS - 10},
    ],
    ids=["expired within leeway", "nbf within leeway", "iat within leeway"],
)
def test_clock_skew_within_the_leeway_is_accepted(
    authenticator: CallbackAuthenticator, signing_key: RsaKeyPair, claim_options: dict[str, Any]
) -> None:
    token = mint_token(signing_key, **claim_options)
    assert authenticator.verify(bearer(token))["iss"] == TEST_ISSUER


def _other_key_same_kid(key: RsaKeyPair) -> str:
    return bearer(mint_token(make_rsa_key(key.kid)))


# (header made from the published key, the exact detail). Made-up key ids contain "attacker"
# so the test can check that no detail repeats what the token said.
REFUSALS: dict[str, tuple[Callable[[RsaKeyPair], str | None], str]] = {
    "missing header": (
        lambda key: None,
        "missing Authorization header: a Bearer token is required",
    ),
    "empty header": (
        lambda key: "  ",
        "missing Authorization header: a Bearer token is required",
    ),
    "basic credentials": (
        lambda key: "Basic YXR0YWNrZXI6cGFzc3dvcmQ=",
        "Authorization is not a Bearer token",
    ),
    "bare token without scheme": (
        mint_token,
        "Authorization is not a Bearer token",
    ),
    "empty bearer": (
        lambda key: "Bearer ",
        "malformed token: the Bearer token is empty",
    ),
    "garbage token": (
        lambda key: "Bearer attacker.garbage.here",
        "malformed token: its header cannot be read",
    ),
    "no key id": (
        lambda key: bearer(mint_token(key, with_kid=False)),
        "malformed token: the header has no key id (kid)",
    ),
    "alg none": (
        lambda key: bearer(unsigned_token(token_claims(), kid=key.kid)),
        "token algorithm refused: none is not one of RS256, RS384, RS512",
    ),
    "HS256 keyed with the public key": (
        lambda key: bearer(hs256_token(token_claims(), secret=key.public_pem(), kid=key.kid)),
        "token algorithm refused: HS256 is not one of RS256, RS384, RS512",
    ),
    "RS512 against an RS256 key": (
        lambda key: bearer(mint_token(key, algorithm="RS512")),
        "token algorithm refused: it does not match the signing key's algorithm",
    ),
    "signed by a key not in the JWKS": (
        _other_key_same_kid,
        "bad signature: the token was not signed by the key its kid names",
    ),
    "unknown key id": (
        lambda key: bearer(mint_token(key, kid="attacker-kid")),
        "unknown key id: no published signing key has the token's kid",
    ),
    "expired beyond leeway": (
        lambda key: bearer(mint_token(key, expires_in=-(LEEWAY_SECONDS + 60))),
        "token expired",
    ),
    "nbf beyond leeway": (
        lambda key: bearer(mint_token(key, not_before_in=LEEWAY_SECONDS + 60)),
        "token not yet valid: nbf or iat is in the future",
    ),
    "iat beyond leeway": (
        lambda key: bearer(mint_token(key, issued_at_in=LEEWAY_SECONDS + 60)),
        "token not yet valid: nbf or iat is in the future",
    ),
    "no exp": (
        lambda key: bearer(mint_token(key, expires_in=None)),
        "token lacks the required 'exp' claim",
    ),
    "wrong issuer": (
        lambda key: bearer(mint_token(key, issuer="https://attacker.example")),
        "wrong issuer: the token was not issued by Call Automation",
    ),
    "wrong audience": (
        lambda key: bearer(mint_token(key, audience="attacker-resource")),
        "wrong audience: the token is for another Communication Services resource",
    ),
}


@pytest.mark.parametrize(("make_header", "detail"), REFUSALS.values(), ids=REFUSALS.keys())
def test_bad_credentials_are_refused_with_401_and_their_own_detail(
    authenticator: CallbackAuthenticator,
    signing_key: RsaKeyPair,
    make_header: Callable[[RsaKeyPair], str | None],
    detail: str,
) -> None:
    header = make_header(signing_key)
    with pytest.raises(Unauthorized) as refused:
        authenticator.verify(header)
    assert refused.value.detail == detail
    assert "attacker" not in detail
    response = problem_answer(refused.value)
    assert response.status == 401
    assert response.mimetype == PROBLEM_JSON


def test_keys_are_fetched_on_first_use_and_then_cached(
    jwks_server: JwksServer, signing_key: RsaKeyPair
) -> None:
    authenticator = build_authenticator(jwks_server.url)
    assert jwks_server.fetch_count == 0
    authenticator.verify(bearer(mint_token(signing_key)))
    authenticator.verify(bearer(mint_token(signing_key)))
    assert jwks_server.fetch_count == 1


def test_a_rotated_in_key_is_fetched_once_and_accepted(
    jwks_server: JwksServer, signing_key: RsaKeyPair
) -> None:
    authenticator = build_authenticator(jwks_server.url, refetch_cooldown_seconds=0)
    authenticator.verify(bearer(mint_token(signing_key)))
    new_key = make_rsa_key("acs-rotated-key")
    jwks_server.publish(signing_key, new_key)

    authenticator.verify(bearer(mint_token(new_key)))
    authenticator.verify(bearer(mint_token(new_key)))
    authenticator.verify(bearer(mint_token(signing_key)))

    assert jwks_server.fetch_count == 2


def test_unknown_key_ids_within_the_cooldown_do_not_refetch(
    jwks_server: JwksServer, signing_key: RsaKeyPair
) -> None:
    authenticator = build_authenticator(jwks_server.url, refetch_cooldown_seconds=3600)
    authenticator.verify(bearer(mint_token(signing_key)))
    for kid in ("made-up-1", "made-up-2", "made-up-3"):
        with pytest.raises(KeyIdNotYetKnown):
            authenticator.verify(bearer(mint_token(signing_key, kid=kid)))
    assert jwks_server.fetch_count == 1


# --- key rotation: a key published after our last fetch is never refused with 401 -------------


def _assert_come_back_later(authenticator: CallbackAuthenticator, token: str, most: int) -> None:
    with pytest.raises(KeyIdNotYetKnown) as later:
        authenticator.verify(bearer(token))
    response = problem_answer(later.value)
    assert response.status == 503
    assert 1 <= int(response.headers["Retry-After"]) <= most
    assert "attacker" not in later.value.detail


def test_a_key_published_after_the_last_fetch_is_503_until_it_may_be_fetched(
    jwks_server: JwksServer, signing_key: RsaKeyPair
) -> None:
    authenticator = build_authenticator(jwks_server.url, refetch_cooldown_seconds=3600)
    authenticator.verify(bearer(mint_token(signing_key)))
    new_key = make_rsa_key("acs-rotated-key")
    jwks_server.publish(signing_key, new_key)

    _assert_come_back_later(authenticator, mint_token(new_key), most=3600)
    assert jwks_server.fetch_count == 1


class ManualClock:
    """The monotonic clock of the key holder, moved by the test: no test waits on real time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_made_up_key_id_does_not_turn_the_next_rotation_into_401s(
    jwks_server: JwksServer, signing_key: RsaKeyPair
) -> None:
    clock = ManualClock()
    authenticator = build_authenticator(
        jwks_server.url, refetch_cooldown_seconds=30, clock=clock
    )
    authenticator.verify(bearer(mint_token(signing_key)))
    clock.now += 31  # a fetch is allowed again; the attacker spends it
    with pytest.raises(Unauthorized):
        authenticator.verify(bearer(mint_token(signing_key, kid="attacker-kid")))
    new_key = make_rsa_key("acs-rotated-key")
    jwks_server.publish(signing_key, new_key)
    clock.now += 10

    _assert_come_back_later(authenticator, mint_token(new_key), most=20)
    clock.now += 20  # the sender comes back after Retry-After
    assert authenticator.verify(bearer(mint_token(new_key)))["aud"] == TEST_AUDIENCE
    assert jwks_server.fetch_count == 3


def test_an_unknown_key_id_in_the_set_fetched_for_this_request_is_401(
    jwks_server: JwksServer, signing_key: RsaKeyPair
) -> None:
    authenticator = build_authenticator(jwks_server.url, refetch_cooldown_seconds=3600)
    with pytest.raises(Unauthorized, match=r"^unknown key id: no published"):
        authenticator.verify(bearer(mint_token(signing_key, kid="attacker-kid")))
    assert jwks_server.fetch_count == 1


def test_an_unknown_key_id_after_the_cooldown_is_looked_up_once_then_401(
    jwks_server: JwksServer, signing_key: RsaKeyPair
) -> None:
    authenticator = build_authenticator(jwks_server.url, refetch_cooldown_seconds=0)
    authenticator.verify(bearer(mint_token(signing_key)))
    with pytest.raises(Unauthorized, match=r"^unknown key id: no published"):
        authenticator.verify(bearer(mint_token(signing_key, kid="attacker-kid")))
    assert jwks_server.fetch_count == 2


# --- a JWKS endpoint that misbehaves cannot hold a callback ------------------------------------

DEADLINE_SECONDS = 0.5


def _jwks_body(key: RsaKeyPair) -> bytes:
    return json.dumps({"keys": [key.public_jwk()]}).encode()


@pytest.mark.parametrize("part", ["head", "body"])
def test_a_jwks_that_drips_a_byte_a_second_is_cut_off_at_the_deadline(
    signing_key: RsaKeyPair, part: str
) -> None:
    with RawJwksServer.answering(_jwks_body(signing_key), drip=part, interval=1.0) as server:
        authenticator = build_authenticator(server.url, fetch_deadline_seconds=DEADLINE_SECONDS)
        _assert_keys_unavailable(authenticator, signing_key)
        assert server.complete == 0


def test_the_key_fetch_ends_with_the_deliverys_own_deadline(signing_key: RsaKeyPair) -> None:
    with RawJwksServer.answering(_jwks_body(signing_key), drip="body", interval=1.0) as server:
        authenticator = build_authenticator(server.url, fetch_deadline_seconds=600)
        with delivery_deadline(DEADLINE_SECONDS):
            _assert_keys_unavailable(authenticator, signing_key)
        assert server.complete == 0


def test_a_callback_is_answered_within_its_delivery_budget_whatever_the_jwks_does(
    make_runtime: RuntimeFactory, signing_key: RsaKeyPair
) -> None:
    with RawJwksServer.answering(_jwks_body(signing_key), drip="head", interval=1.0) as server:
        # A key fetch with no limit of its own: only the route's one budget can end it.
        runtime = dataclasses.replace(
            make_runtime(),
            authenticator=build_authenticator(server.url, fetch_deadline_seconds=3600),
        )
        runtime.pipeline.deadline_seconds = DEADLINE_SECONDS
        answer = callbacks(
            Request("POST", b"[]", Headers({"Authorization": bearer(mint_token(signing_key))})),
            runtime,
        )
        assert answer.status == 503
        assert json.loads(answer.body)["detail"].startswith("signing keys unavailable")
        assert server.sent < len(server.head)


@pytest.mark.parametrize("length", [True, False], ids=["declared", "undeclared"])
def test_a_huge_key_set_is_refused_without_being_read(
    signing_key: RsaKeyPair, length: bool
) -> None:
    keys = [signing_key.public_jwk()] + [{"kty": "oct", "k": "x" * 1000}] * 10_000
    body = json.dumps({"keys": keys}).encode()
    with RawJwksServer.answering(body, length=length) as server:
        authenticator = build_authenticator(server.url, fetch_deadline_seconds=30)
        _assert_keys_unavailable(authenticator, signing_key)
        assert server.complete == 0
        assert server.sent < len(body)


def test_a_key_set_just_under_the_size_cap_is_read(signing_key: RsaKeyPair) -> None:
    body = _jwks_body(signing_key)
    with RawJwksServer.answering(body, length=False) as server:
        authenticator = build_authenticator(server.url, max_key_set_bytes=len(body))
        assert authenticator.verify(bearer(mint_token(signing_key)))["aud"] == TEST_AUDIENCE


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b"\xff\xfe not utf-8", b'{"keys": "none"}', b"[]", b'{"keys": []}'],
    ids=["deep nesting", "not utf-8", "keys not a list", "array", "no keys"],
)
def test_a_key_set_that_cannot_be_read_answers_503(signing_key: RsaKeyPair, body: bytes) -> None:
    with RawJwksServer.answering(body) as server:
        authenticator = build_authenticator(server.url, max_key_set_bytes=1_000_000)
        _assert_keys_unavailable(authenticator, signing_key)


def test_concurrent_first_callbacks_share_one_fetch(
    jwks_server: JwksServer, signing_key: RsaKeyPair
) -> None:
    authenticator = build_authenticator(jwks_server.url)
    token = bearer(mint_token(signing_key))
    start = threading.Barrier(16)

    def verify_together(_: int) -> dict[str, Any]:
        start.wait()
        return authenticator.verify(token)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(verify_together, range(16)))

    assert all(claims["aud"] == TEST_AUDIENCE for claims in results)
    assert jwks_server.fetch_count == 1


def _assert_keys_unavailable(authenticator: CallbackAuthenticator, signing_key: RsaKeyPair) -> None:
    with pytest.raises(SigningKeysUnavailable) as unavailable:
        authenticator.verify(bearer(mint_token(signing_key)))
    response = problem_answer(unavailable.value)
    assert response.status == 503
    assert response.mimetype == PROBLEM_JSON
    assert int(response.headers["Retry-After"]) >= 1
    assert unavailable.value.detail.startswith("signing keys unavailable")


def test_unreachable_jwks_answers_503_with_retry_after(signing_key: RsaKeyPair) -> None:
    _assert_keys_unavailable(build_authenticator(unreachable_url()), signing_key)


@pytest.mark.parametrize("status", [404, 500, 503])
def test_jwks_error_status_answers_503(
    jwks_server: JwksServer, signing_key: RsaKeyPair, status: int
) -> None:
    jwks_server.fail_with(status)
    _assert_keys_unavailable(build_authenticator(jwks_server.url), signing_key)


def test_empty_key_set_answers_503(jwks_server: JwksServer, signing_key: RsaKeyPair) -> None:
    jwks_server.publish()
    _assert_keys_unavailable(build_authenticator(jwks_server.url), signing_key)


def test_hung_jwks_is_cut_off_by_the_fetch_timeout(signing_key: RsaKeyPair) -> None:
    with hung_endpoint() as url:
        authenticator = build_authenticator(url, fetch_deadline_seconds=0.2)
        _assert_keys_unavailable(authenticator, signing_key)


def test_after_a_failed_fetch_callbacks_fail_fast_without_refetching(
    jwks_server: JwksServer, signing_key: RsaKeyPair
) -> None:
    jwks_server.fail_with(500)
    authenticator = build_authenticator(jwks_server.url, fetch_retry_seconds=3600)
    _assert_keys_unavailable(authenticator, signing_key)
    jwks_server.fail_with(None)
    _assert_keys_unavailable(authenticator, signing_key)
    assert jwks_server.fetch_count == 1


def test_keys_are_fetched_again_once_the_retry_pause_is_over(
    jwks_server: JwksServer, signing_key: RsaKeyPair
) -> None:
    jwks_server.fail_with(500)
    authenticator = build_authenticator(jwks_server.url, fetch_retry_seconds=0)
    _assert_keys_unavailable(authenticator, signing_key)
    jwks_server.fail_with(None)
    assert authenticator.verify(bearer(mint_token(signing_key)))["aud"] == TEST_AUDIENCE
    assert jwks_server.fetch_count == 2


def _expire_cached_keys(lifespan_seconds: float) -> None:
    # The key set's lifespan is measured on the monotonic clock; wait it out.
    time.sleep(lifespan_seconds * 2)


def test_last_good_keys_serve_while_the_jwks_is_down(
    jwks_server: JwksServer, signing_key: RsaKeyPair
) -> None:
    authenticator = build_authenticator(jwks_server.url, keys_lifespan_seconds=0.01)
    authenticator.verify(bearer(mint_token(signing_key)))
    jwks_server.fail_with(503)
    _expire_cached_keys(0.01)

    assert authenticator.verify(bearer(mint_token(signing_key)))["aud"] == TEST_AUDIENCE
    assert jwks_server.fetch_count == 2


def test_last_good_keys_are_not_served_past_their_staleness_limit(
    jwks_server: JwksServer, signing_key: RsaKeyPair
) -> None:
    authenticator = build_authenticator(
        jwks_server.url, keys_lifespan_seconds=0.01, max_stale_seconds=0
    )
    authenticator.verify(bearer(mint_token(signing_key)))
    jwks_server.fail_with(503)
    _expire_cached_keys(0.01)

    _assert_keys_unavailable(authenticator, signing_key)


def test_unknown_key_id_while_the_jwks_is_down_answers_503(
    jwks_server: JwksServer, signing_key: RsaKeyPair
) -> None:
    authenticator = build_authenticator(jwks_server.url, refetch_cooldown_seconds=0)
    authenticator.verify(bearer(mint_token(signing_key)))
    jwks_server.fail_with(503)
    with pytest.raises(SigningKeysUnavailable):
        authenticator.verify(bearer(mint_token(make_rsa_key("acs-new-key"))))


@pytest.mark.parametrize("header", [None, "", "Basic eA==", "Bearer not-a-token"])
def test_check_turned_off_returns_no_claims_without_reading_the_header(
    jwks_server: JwksServer, header: str | None
) -> None:
    settings = load_settings(callback_jwt_required=False, callback_jwks_url=jwks_server.url)
    authenticator = CallbackAuthenticator.from_settings(settings)
    assert authenticator.verify(header) == {}
    assert jwks_server.fetch_count == 0


def test_from_settings_checks_against_the_configured_resource(
    jwks_server: JwksServer, signing_key: RsaKeyPair
) -> None:
    settings = load_settings(
        callback_jwt_required=True,
        callback_audience=TEST_AUDIENCE,
        callback_issuer=TEST_ISSUER,
        callback_jwks_url=jwks_server.url,
        callback_jwt_leeway_seconds=0,
    )
    authenticator = CallbackAuthenticator.from_settings(settings)
    assert authenticator.verify(bearer(mint_token(signing_key)))["aud"] == TEST_AUDIENCE
    with pytest.raises(Unauthorized, match="token expired"):
        authenticator.verify(bearer(mint_token(signing_key, expires_in=-5)))


def test_default_settings_point_at_call_automation_without_fetching() -> None:
    """Building the authenticator for the real endpoint must not touch the network."""
    settings = load_settings(callback_audience=TEST_AUDIENCE)
    authenticator = CallbackAuthenticator.from_settings(settings)
    assert authenticator.issuer == TEST_ISSUER
    assert authenticator.required
