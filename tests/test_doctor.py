"""`python -m handlers doctor URL` against the local host, with and without a function key
enforced (the local host enforces one, as the Functions host does, when given one)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from handlers.runtime import reset_runtime
from handlers.tools.cli import main
from handlers.tools.doctor import run_doctor
from handlers.tools.localhost import make_server, serve_in_thread
from tests.azurite import free_port
from tests.conftest import LocalHost, RuntimeFactory
from tests.events import ACS_TOPIC

KEY = "doctor-test-key"
CHECKS = ("health", "function key", "CloudEvents handshake", "validation handshake", "callbacks")


@pytest.fixture
def keyed_host() -> Iterator[str]:
    """The local host requiring KEY on every route but /api/health, as in Azure."""
    server = make_server("127.0.0.1", 0, access_log=False, function_key=KEY)
    thread = serve_in_thread(server)
    host, port = server.server_address[:2]
    try:
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def doctor(url: str, **options: str | None) -> tuple[int, dict[str, str], str]:
    """Exit status, each check's status by its first words, and the checklist."""
    out = io.StringIO()
    code = run_doctor(url, out=out, timeout=10, **options)
    text = out.getvalue()
    statuses = {}
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            status, _, rest = stripped[1:].partition("]")
            statuses[next(c for c in CHECKS if rest.strip().startswith(c))] = status.strip()
    return code, statuses, text


def secured(make_runtime: RuntimeFactory) -> None:
    make_runtime(
        allowed_topics=ACS_TOPIC, callback_jwt_required=True, callback_audience="immutable-id"
    )


def test_a_deployment_set_up_as_in_azure_passes_every_check(
    make_runtime: RuntimeFactory, keyed_host: str
) -> None:
    secured(make_runtime)
    code, statuses, text = doctor(keyed_host, code=KEY, topic=ACS_TOPIC)
    assert code == 0, text
    assert statuses == dict.fromkeys(CHECKS, "ok")
    assert "5 check(s): 5 ok, 0 to fix, 0 skipped" in text


def test_without_a_key_the_checks_that_need_one_are_skipped(
    make_runtime: RuntimeFactory, keyed_host: str
) -> None:
    secured(make_runtime)
    code, statuses, text = doctor(keyed_host, topic=ACS_TOPIC)
    assert code == 0
    assert statuses["function key"] == "ok"
    assert statuses["validation handshake"] == "skip"
    assert "give --code" in text


def test_a_wrong_key_is_named_with_where_to_get_the_right_one(
    make_runtime: RuntimeFactory, keyed_host: str
) -> None:
    secured(make_runtime)
    code, statuses, text = doctor(keyed_host, code="rotated", topic=ACS_TOPIC)
    assert code == 1
    assert statuses["CloudEvents handshake"] == "FAIL"
    assert statuses["callbacks"] == "FAIL"
    assert "the function key was refused" in text
    assert "az functionapp keys list" in text


def test_a_topic_outside_allowed_topics_is_reported_with_the_fix(
    make_runtime: RuntimeFactory, keyed_host: str
) -> None:
    secured(make_runtime)
    elsewhere = ACS_TOPIC.replace("acs-prod", "acs-staging")
    code, statuses, text = doctor(keyed_host, code=KEY, topic=elsewhere)
    assert code == 1
    assert statuses["validation handshake"] == "FAIL"
    assert f"403 for topic {elsewhere}" in text
    assert "ALLOWED_TOPICS does not hold this topic" in text


def test_the_local_defaults_are_reported_as_open(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    # `make serve`: no key enforced, the callback JWT check off: both are told, with the fix.
    make_runtime()
    code, statuses, text = doctor(local_host.base_url)
    assert code == 1
    assert statuses == {
        "health": "ok",
        "function key": "FAIL",
        "CloudEvents handshake": "ok",
        "validation handshake": "ok",
        "callbacks": "FAIL",
    }
    assert "answered 400 without a key" in text
    assert "accepted (200) without a Call Automation JWT" in text
    assert "CALLBACK_JWT_REQUIRED=true" in text


def test_a_misconfigured_app_is_named_by_its_health(
    monkeypatch: pytest.MonkeyPatch, local_host: LocalHost
) -> None:
    monkeypatch.setenv("CALLBACK_JWT_REQUIRED", "true")  # without CALLBACK_AUDIENCE
    reset_runtime(None)
    code, statuses, text = doctor(local_host.base_url)
    assert code == 1
    assert statuses["health"] == "FAIL"
    assert "CALLBACK_AUDIENCE" in text


def test_nothing_listening_is_one_clear_failure() -> None:
    code, statuses, text = doctor(f"http://127.0.0.1:{free_port()}")
    assert code == 1
    assert statuses == {"health": "FAIL"}
    assert "no answer" in text


def test_command_runs_the_doctor(
    make_runtime: RuntimeFactory, keyed_host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    secured(make_runtime)
    assert main(["doctor", keyed_host, "--code", KEY, "--topic", ACS_TOPIC]) == 0
    assert "5 ok, 0 to fix" in capsys.readouterr().out
    assert main(["doctor", "not a url"]) == 2
