"""A notification's severity is a setting: SEVERITY_BY_CATEGORY maps a category or an alert kind
to critical / warning / info, SEVERITY_CRITICAL_SIZE makes a large warning group critical. The
defaults are the rule the notifier had before it was a setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.inbound.envelope import parse_events
from handlers.notify.severity import SeverityRule
from handlers.settings import SettingsError, load_settings
from tests.conftest import RuntimeFactory, read_notifications
from tests.events import call_result


def fixed_rule(category: str | None, kind: str, total: int) -> str:
    """The rule as it was written before it became a setting, kept here to compare against."""
    if category in ("UnexpectedServerError", "UnexpectedClientError") or kind == "unknown-code":
        return "critical" if total >= 100 else "warning"
    return "info"


CATEGORIES = [None, "Success", "ExpectedError", "UnexpectedClientError", "UnexpectedServerError"]
KINDS = ["error", "unknown-code", "failure", "invalid-event"]


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("total", [1, 99, 100, 5_000])
def test_the_default_settings_give_the_fixed_rule(
    category: str | None, kind: str, total: int
) -> None:
    settings = load_settings(callback_jwt_required=False)
    rule = SeverityRule.from_settings(settings)
    assert rule.of(category, kind, total) == fixed_rule(category, kind, total)


def test_a_group_takes_the_more_severe_of_its_category_and_its_kind() -> None:
    rule = SeverityRule({"ExpectedError": "info", "unknown-code": "critical"}, critical_size=0)
    assert rule.of("ExpectedError", "unknown-code", 1) == "critical"
    assert rule.of("ExpectedError", "error", 1) == "info"
    assert rule.of(None, "failure", 1) == "info"  # listed nowhere


def test_size_makes_only_a_warning_group_critical_and_zero_turns_it_off() -> None:
    rule = SeverityRule({"UnexpectedServerError": "warning", "Success": "info"}, critical_size=10)
    assert rule.of("UnexpectedServerError", "error", 9) == "warning"
    assert rule.of("UnexpectedServerError", "error", 10) == "critical"
    assert rule.of("Success", "error", 10_000) == "info"
    assert SeverityRule(rule.by_category, 0).of("UnexpectedServerError", "error", 10**6) == (
        "warning"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("UnexpectedServerError=loud", "Input should be 'critical', 'warning' or 'info'"),
        ("ServerError=warning", "unknown categories or alert kinds ['ServerError']"),
        ("UnexpectedServerError", "'UnexpectedServerError' is not name=value"),
        ("unknown-code=info,unknown-code=critical", "'unknown-code' is given twice"),
    ],
)
def test_a_bad_mapping_is_refused_naming_its_variable(value: str, message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(callback_jwt_required=False, severity_by_category=value)
    assert f"SEVERITY_BY_CATEGORY: {message}" in str(refused.value)


def test_a_negative_critical_size_is_refused_naming_its_variable() -> None:
    with pytest.raises(SettingsError, match="SEVERITY_CRITICAL_SIZE"):
        load_settings(callback_jwt_required=False, severity_critical_size=-1)


def test_the_settings_reach_the_groups_notifications(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    runtime = make_runtime(
        group_wait_seconds=0,
        severity_by_category="UnexpectedServerError=critical",
        severity_critical_size="0",
    )
    # Three server errors: a warning by default, critical as these settings say.
    events = [call_result(f"s{n}", "CallDisconnected", code=503, subcode=560503) for n in range(3)]
    runtime.pipeline.run(parse_events(events), way_in="test")
    [notification] = read_notifications(alert_file)
    assert notification["data"]["severity"] == "critical"
