"""Every rule a setting follows lives in the settings model: a bad value stops the app at start,
every problem is reported at once, each named by its variable, and no secret is repeated."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from handlers.runtime import Runtime
from handlers.settings import SettingsError, is_loopback, load_settings

WHSEC = "whsec_" + base64.b64encode(bytes(range(32))).decode()
AUDIENCE = "00000000-1111-2222-3333-444444444444"
TABLE_URI = "https://account.table.core.windows.net"


def problems(**overrides: Any) -> dict[str, str]:
    """The variables ``load_settings`` refuses, each with its message."""
    with pytest.raises(SettingsError) as raised:
        load_settings(**overrides)
    text = str(raised.value).removeprefix("invalid settings: ")
    return dict(line.split(": ", 1) for line in text.split("; "))


def starts(**overrides: Any) -> Runtime:
    """Build the whole runtime from these settings, as cold start does (no network)."""
    return Runtime.build(load_settings(**overrides))


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"dedupe_table_name": "no-dashes"}, "DEDUPE_TABLE_NAME"),
        ({"dedupe_table_name": "1startswithadigit"}, "DEDUPE_TABLE_NAME"),
        ({"dedupe_table_name": "ab"}, "DEDUPE_TABLE_NAME"),
        ({"dedupe_store": "table", "dedupe_table_service_uri": "http://account.table.core.windows.net"},
         "DEDUPE_TABLE_SERVICE_URI"),
        ({"dedupe_store": "table"}, "DEDUPE_TABLE_CONNECTION_STRING"),
        ({"dedupe_table_connection_string": "AccountKey=s3cr3t;nonsense"},
         "DEDUPE_TABLE_CONNECTION_STRING"),
        ({"dedupe_table_connection_string": "AccountName=a;AccountKey=s3cr3t;"
          "TableEndpoint=http://tables.example.com/a"}, "DEDUPE_TABLE_CONNECTION_STRING"),
        ({"alert_webhook_url": "ftp://hooks.example.com/acs", "alert_webhook_secret": WHSEC},
         "ALERT_WEBHOOK_URL"),
        ({"alert_webhook_url": "http://hooks.example.com/acs", "alert_webhook_secret": WHSEC},
         "ALERT_WEBHOOK_URL"),
        ({"alert_webhook_url": "hooks.example.com/acs", "alert_webhook_secret": WHSEC},
         "ALERT_WEBHOOK_URL"),
        ({"alert_webhook_url": "https://hooks.example.com:port/acs", "alert_webhook_secret": WHSEC},
         "ALERT_WEBHOOK_URL"),
        ({"alert_webhook_url": "https://hooks.example.com/acs"}, "ALERT_WEBHOOK_SECRET"),
        ({"alert_webhook_url": "https://hooks.example.com/acs", "alert_webhook_secret": "  "},
         "ALERT_WEBHOOK_SECRET"),
        ({"alert_webhook_secret": "whsec_not*base64!s3cr3t"}, "ALERT_WEBHOOK_SECRET"),
        ({"alert_webhook_secret": "a raw shared s3cr3t"}, "ALERT_WEBHOOK_SECRET"),
        ({"alert_webhook_secret": "whsec_" + base64.b64encode(b"s3cr3t-too-short").decode()},
         "ALERT_WEBHOOK_SECRET"),
        ({"alert_topic_endpoint": "http://alerts.example.com/api/events"},
         "ALERT_TOPIC_ENDPOINT"),
        ({"callback_jwks_url": "http://keys.example/calling/keys"}, "CALLBACK_JWKS_URL"),
        ({"callback_jwks_url": "file:///etc/passwd"}, "CALLBACK_JWKS_URL"),
        ({"callback_jwks_url": "not a url"}, "CALLBACK_JWKS_URL"),
        ({"callback_jwks_url": "http://127.0.0.1.example.com/keys"}, "CALLBACK_JWKS_URL"),
        ({"callback_jwt_required": True, "callback_audience": ""}, "CALLBACK_AUDIENCE"),
        ({"callback_jwt_required": True, "callback_audience": "   "}, "CALLBACK_AUDIENCE"),
        ({"callback_jwt_required": True, "callback_issuer": ""}, "CALLBACK_ISSUER"),
        ({"sink_retry_budget_seconds": "NaN"}, "SINK_RETRY_BUDGET_SECONDS"),
        ({"dedupe_window_hours": "Infinity"}, "DEDUPE_WINDOW_HOURS"),
    ],
)
def test_a_bad_value_is_refused_by_the_settings_model_naming_its_variable(
    overrides: dict[str, Any], variable: str
) -> None:
    overrides = {"callback_jwt_required": False, **overrides}
    if overrides["callback_jwt_required"]:
        overrides.setdefault("callback_audience", AUDIENCE)
    refused = problems(**overrides)
    assert list(refused) == [variable]
    assert "s3cr3t" not in str(refused)


def test_every_problem_is_reported_at_once() -> None:
    refused = problems(
        callback_jwt_required=True,
        callback_audience="",
        alert_webhook_url="https://hooks.example.com/acs",
        alert_topic_endpoint="ftp://alerts.example.com",
        dedupe_store="table",
        dedupe_table_service_uri="http://account.table.core.windows.net",
        dedupe_table_name="bad_name",
        sink_max_attempts=0,
    )
    assert set(refused) == {
        "CALLBACK_AUDIENCE",
        "ALERT_WEBHOOK_SECRET",
        "ALERT_TOPIC_ENDPOINT",
        "DEDUPE_TABLE_SERVICE_URI",
        "DEDUPE_TABLE_NAME",
        "SINK_MAX_ATTEMPTS",
    }


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("::1", True),
        ("[::1]", True),
        ("10.0.0.1", False),
        ("localhost.example.com", False),
        ("127.0.0.1.nip.io", False),
        ("0.0.0.0", False),
    ],
)
def test_one_loopback_rule(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]:9/hook"],
)
def test_plain_http_is_allowed_to_this_machine_for_every_url(url: str) -> None:
    settings = load_settings(
        callback_audience=AUDIENCE,
        callback_jwks_url=url,
        alert_webhook_url=url,
        alert_webhook_secret=WHSEC,
        alert_topic_endpoint=url,
        dedupe_table_service_uri=url,
    )
    assert settings.alert_webhook_url == settings.callback_jwks_url == url


@pytest.mark.parametrize(
    "secret",
    [WHSEC, WHSEC[len("whsec_"):], WHSEC.rstrip("="), base64.b64encode(bytes(64)).decode()],
    ids=["whsec", "no prefix", "unpadded", "64 bytes"],
)
def test_a_standard_webhooks_secret_is_accepted(secret: str) -> None:
    settings = load_settings(
        callback_jwt_required=False,
        alert_webhook_url="https://hooks.example.com/acs",
        alert_webhook_secret=secret,
    )
    assert settings.alert_webhook_secret is not None


def test_the_check_turned_off_needs_no_audience() -> None:
    assert load_settings(callback_jwt_required=False).callback_audience == ""


def test_azure_shaped_settings_start_the_app() -> None:
    runtime = starts(
        callback_audience=AUDIENCE,
        alert_topic_endpoint="https://alerts.westeurope-1.eventgrid.azure.net/api/events",
        alert_webhook_url="https://hooks.example.com/acs",
        alert_webhook_secret=WHSEC,
        dedupe_store="table",
        dedupe_table_service_uri=TABLE_URI,
    )
    assert runtime.flusher is not None
    assert [sink.name for sink in runtime.flusher.sinks] == ["webhook", "topic"]
    assert runtime.authenticator.required
