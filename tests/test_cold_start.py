"""What a cold start does and does not do: settings read from the environment by a plain model,
and nothing built that the first delivery does not need (the figures are ``python -m bench``'s)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from handlers.settings import SettingsError, environment_values, load_settings

REPO = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys
import function_app
from catalog.models import Row, TableFile, IrregularitiesFile, WrittenRow, WrittenTableFile
from handlers.events.sms import SmsDeliveryReport
from handlers.events.call_automation import CallAutomationData
print(json.dumps({
    "modules": sorted(m for m in ("pydantic_settings", "dotenv", "jwt", "azure.core")
                      if m in sys.modules),
    "built": sorted(model.__name__ for model in (Row, TableFile, IrregularitiesFile, WrittenRow,
                    WrittenTableFile, SmsDeliveryReport, CallAutomationData)
                    if model.__pydantic_complete__),
}))
"""


def test_a_cold_start_builds_nothing_the_first_delivery_does_not_need() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALERT_", "CALLBACK_"))}
    env |= {"CALLBACK_JWT_REQUIRED": "false", "ALERT_FILE": ""}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True,
        check=True, timeout=60,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"modules": [], "built": []}


def test_settings_are_read_from_the_environment_whatever_the_case() -> None:
    values = environment_values({"alert_source": "/a", "Max_Body_Bytes": "2048", "OTHER": "x"})
    assert values == {"alert_source": "/a", "max_body_bytes": "2048"}


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_SOURCE", "/from-env")
    monkeypatch.setenv("SINK_MAX_ATTEMPTS", "3")
    settings = load_settings(alert_source="/given", callback_jwt_required=False)
    assert (settings.alert_source, settings.sink_max_attempts) == ("/given", 3)


def test_a_bad_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("sink_max_attempts", "lots")
    with pytest.raises(SettingsError, match="SINK_MAX_ATTEMPTS"):
        load_settings(callback_jwt_required=False)
