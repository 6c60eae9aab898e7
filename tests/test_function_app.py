"""The Functions app's metadata, as the host reads it: routes, methods, auth levels."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import azure.functions as func

from function_app import app
from handlers.tools.localhost import registered_functions

REPO = Path(__file__).resolve().parents[1]


def http_triggers() -> dict[str, dict[str, object]]:
    found = {}
    for function in registered_functions(app):
        trigger = function.get_trigger()
        assert trigger is not None
        if trigger.get_binding_name() != "httpTrigger":
            continue
        binding = trigger.get_dict_repr()
        found[str(function.get_function_name())] = {
            "route": binding["route"],
            "methods": sorted(str(m) for m in binding["methods"]),
            "authLevel": str(binding["authLevel"]),
        }
    return found


def test_routes_methods_and_auth_levels_are_as_designed() -> None:
    assert http_triggers() == {
        "eventgrid": {
            "route": "eventgrid",
            "methods": ["OPTIONS", "POST"],
            "authLevel": "FUNCTION",
        },
        "callbacks": {"route": "callbacks", "methods": ["POST"], "authLevel": "FUNCTION"},
        "codes": {"route": "codes", "methods": ["GET"], "authLevel": "FUNCTION"},
        "status": {"route": "status", "methods": ["GET", "POST"], "authLevel": "FUNCTION"},
        "health": {"route": "health", "methods": ["GET"], "authLevel": "ANONYMOUS"},
        "silences": {
            "route": "silences",
            "methods": ["DELETE", "GET", "POST"],
            "authLevel": "FUNCTION",
        },
    }


def test_every_function_but_the_flusher_has_an_http_trigger_and_an_http_output() -> None:
    for function in registered_functions(app):
        types = sorted(binding.type for binding in function.get_bindings())
        if function.get_function_name() == "flusher":
            assert types == ["timerTrigger"]
            continue
        assert types == ["http", "httpTrigger"], function.get_function_name()


def test_the_flusher_is_a_timer_every_ten_seconds_that_does_not_run_at_startup() -> None:
    [flusher] = [f for f in registered_functions(app) if f.get_function_name() == "flusher"]
    trigger = flusher.get_trigger()
    assert trigger is not None
    binding = trigger.get_dict_repr()
    assert binding["schedule"] == "*/10 * * * * *"
    assert not binding.get("runOnStartup")


def test_the_app_defaults_to_function_keys() -> None:
    assert app.auth_level == func.AuthLevel.FUNCTION


def test_the_domain_never_imports_azure_functions() -> None:
    """Only function_app.py and the local host (which stands in for the host) may."""
    allowed = {REPO / "function_app.py", REPO / "handlers" / "localhost.py"}
    offenders = []
    for path in [*REPO.glob("handlers/*.py"), *REPO.glob("catalog/*.py")]:
        if path in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(
                name == "azure.functions" or name.startswith("azure.functions.") for name in names
            ):
                offenders.append(path.name)
    assert offenders == []


def test_cold_start_builds_the_runtime_without_the_alert_clients() -> None:
    """Importing the app validates settings and loads the catalog; the topic client (and
    azure.identity, azure.eventgrid) waits for the first alert."""
    code = (
        "import sys, function_app; from handlers.runtime import get_runtime; "
        "runtime = get_runtime(); "
        "print(len(runtime.pipeline.catalog.entries), [s.name for s in runtime.flusher.sinks], "
        "sorted(m for m in ('azure.identity', 'azure.eventgrid') if m in sys.modules))"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "ALERT_TOPIC_ENDPOINT": "https://alerts.westeurope-1.eventgrid.azure.net/api/events",
        "CALLBACK_JWT_REQUIRED": "false",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.split("[", 1)[1].strip() == "'topic'] []"
    assert int(result.stdout.split()[0]) > 400


def test_a_bad_setting_at_cold_start_is_logged_with_its_variable_and_answered_by_health() -> None:
    code = (
        "import logging, sys; logging.basicConfig(stream=sys.stderr); import function_app; "
        "from handlers.http.messages import Request; from handlers.http.routes import health; "
        "print(health(Request('GET')).status)"
    )
    env = {"PATH": "/usr/bin:/bin", "MAX_BODY_BYTES": "lots"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "503"
    assert "MAX_BODY_BYTES" in result.stderr and "misconfigured" in result.stderr
