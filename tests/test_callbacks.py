"""Call Automation callbacks over HTTP, with real JWTs signed by a key the test makes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from handlers.http.messages import PROBLEM_JSON
from tests.conftest import LocalHost, RuntimeFactory
from tests.events import call_result
from tests.jwks import JwksServer, RsaKeyPair, make_rsa_key, mint_token

AUDIENCE = "b1e7f2a4-0000-4000-8000-acs000000001"
ISSUER = "https://acscallautomation.communication.azure.com"


@pytest.fixture
def secured(make_runtime: RuntimeFactory, jwks_server: JwksServer) -> None:
    make_runtime(
        callback_jwt_required=True,
        callback_audience=AUDIENCE,
        callback_issuer=ISSUER,
        callback_jwks_url=jwks_server.url,
        callback_jwt_leeway_seconds=5,
    )


def token(key: RsaKeyPair, **claims: Any) -> str:
    now = int(time.time())
    values = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 300, **claims}
    return mint_token(key, claims=values)


def post(local_host: LocalHost, authorization: str | None) -> Any:
    headers = {"Authorization": authorization} if authorization else {}
    return local_host.post(
        "callbacks", [call_result("e1", "PlayFailed", code=400, subcode=8536)], headers=headers
    )


@pytest.mark.usefixtures("secured")
def test_a_callback_with_a_good_token_is_taken(
    local_host: LocalHost, signing_key: RsaKeyPair
) -> None:
    response = post(local_host, f"Bearer {token(signing_key)}")
    assert response.status_code == 200
    summary = response.json()
    assert (summary["outcomes"], summary["categories"]) == ({"ok": 1}, {"ExpectedError": 1})


@pytest.mark.usefixtures("secured")
@pytest.mark.parametrize(
    ("case", "detail"),
    [
        ("none", "Authorization"),
        ("expired", "expired"),
        ("wrong audience", "audience"),
        ("wrong issuer", "issuer"),
        ("wrong key", "key"),
        ("garbage", "token"),
    ],
)
def test_a_callback_without_a_valid_token_is_unauthorized(
    local_host: LocalHost, signing_key: RsaKeyPair, case: str, detail: str
) -> None:
    now = int(time.time())
    authorization = {
        "none": None,
        "expired": f"Bearer {token(signing_key, iat=now - 900, nbf=now - 900, exp=now - 600)}",
        "wrong audience": f"Bearer {token(signing_key, aud='another-resource')}",
        "wrong issuer": f"Bearer {token(signing_key, iss='https://evil.example')}",
        "wrong key": f"Bearer {token(make_rsa_key('acs-test-key'))}",
        "garbage": "Bearer not.a.jwt",
    }[case]
    response = post(local_host, authorization)
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith(PROBLEM_JSON)
    assert detail.lower() in response.json()["detail"].lower()


def test_the_check_can_be_turned_off_for_local_use(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    make_runtime(callback_jwt_required=False)
    assert post(local_host, None).status_code == 200


@pytest.mark.usefixtures("secured")
def test_the_token_is_checked_before_the_body_is_read(local_host: LocalHost) -> None:
    response = local_host.post("callbacks", b"not json")
    assert response.status_code == 401
