"""Every public sample payload, replayed and delivered, with the outcome it must have."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from handlers.pipeline import NEEDS_ATTENTION
from tests.conftest import SAMPLES, LocalHost, RuntimeFactory, load_sample

REPO = Path(__file__).resolve().parents[1]

# file → (route, [(outcome, code, subcode, category, match, alert kind)])
EXPECTED: dict[str, tuple[str, list[tuple[Any, ...]]]] = {
    "Microsoft.Communication.CallConnected-javasdk-test.json": (
        "callbacks",
        [("ignored", None, None, None, None, None)],
    ),
    "Microsoft.Communication.CallEnded-restspecs-cloudevents.json": (
        # Placeholder reason {1, 1}: an unknown code, reported as unknown.
        "eventgrid",
        [("alert", 1, 1, None, "none", "unknown-code")],
    ),
    "Microsoft.Communication.CreateCallFailed-javasdk-test.json": (
        # A *Failed event without resultInformation: a failure with no code to explain it.
        "callbacks",
        [("alert", None, None, None, None, "unknown-code")],
    ),
    "Microsoft.Communication.IncomingCall-restspecs-egschema.json": (
        "eventgrid",
        [("ignored", None, None, None, None, None)],
    ),
    "Microsoft.Communication.PlayFailed-javasdk-test.json": (
        "callbacks",
        [("ok", 400, 8536, "ExpectedError", "generic-subcode", None)],
    ),
    "Microsoft.Communication.RecognizeFailed-javasdk-test.json": (
        "callbacks",
        [("ok", 400, 8510, "ExpectedError", "generic-subcode", None)],
    ),
    "Microsoft.Communication.SMSDeliveryReportReceived-azuredocs-egschema-2022-pascal.json": (
        "eventgrid",
        [("ok", 2000, None, "Success", "exact", None)],
    ),
    "Microsoft.Communication.SMSDeliveryReportReceived-restspecs-egschema.json": (
        "eventgrid",
        [("ok", 2000, None, "Success", "exact", None)],
    ),
    # Not an event: the REST API's GET /deliveryReports answer. The webhook refuses it (400).
    "SmsDeliveryReport.RestGet-restspecs-sms-2026-01-23.json": (
        "eventgrid",
        [("invalid", None, None, None, None, None)],
    ),
}


def test_every_sample_has_an_expected_outcome() -> None:
    assert sorted(EXPECTED) == sorted(p.name for p in SAMPLES.glob("*.json"))


def replay(*files: Path, alert_file: Path) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALERT_", "CALLBACK_"))}
    result = subprocess.run(
        [sys.executable, "-m", "handlers", "replay", *map(str, files), "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**env, "ALERT_FILE": str(alert_file)},
        check=True,
    )
    records: list[dict[str, Any]] = json.loads(result.stdout)
    return records


def summary(record: dict[str, Any]) -> tuple[Any, ...]:
    kind = record["alert"]["data"]["kind"] if record["alert"] else None
    return (
        record["outcome"],
        record["code"],
        record["subcode"],
        record["category"],
        record["match"],
        kind,
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_sample_replays_with_its_expected_outcome(name: str, tmp_path: Path) -> None:
    records = replay(SAMPLES / name, alert_file=tmp_path / "alerts.jsonl")
    assert [summary(r) for r in records] == EXPECTED[name][1]


def test_replaying_all_samples_in_one_process_marks_the_repeated_event_duplicate(
    tmp_path: Path,
) -> None:
    """Both SMS samples carry the same event id and topic: the second is a redelivery."""
    names = sorted(EXPECTED)
    alert_file = tmp_path / "alerts.jsonl"
    records = replay(*(SAMPLES / n for n in names), alert_file=alert_file)
    outcomes = {Path(r["file"]).name: r["outcome"] for r in records}
    assert (
        outcomes["Microsoft.Communication.SMSDeliveryReportReceived-restspecs-egschema.json"]
        == "duplicate"
    )
    alert_lines = alert_file.read_text().splitlines()
    assert len(alert_lines) == sum(1 for r in records if r["alert"]) == 2
    assert {json.loads(line)["id"] for line in alert_lines} == {
        r["alert"]["id"] for r in records if r["alert"]
    }


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_sample_is_taken_by_its_route_on_the_local_host(
    name: str, make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    make_runtime()
    route, expected = EXPECTED[name]
    response = local_host.post(route, (SAMPLES / name).read_bytes())
    if expected[0][0] == "invalid":
        assert response.status_code == 400
        assert "without 'type'" in response.json()["detail"]
        return
    assert response.status_code == 200
    summary = response.json()
    assert summary["outcomes"] == dict(Counter(row[0] for row in expected))
    assert summary["categories"] == dict(Counter(row[3] for row in expected if row[3]))
    # The summary lists the events that need attention; replay lists every one (test_cli).
    events = summary["events"]
    assert [(e["outcome"], e["code"], e["subcode"], e["category"], e["match"]) for e in events] == [
        row[:5] for row in expected if row[0] in NEEDS_ATTENTION
    ]


def test_the_rest_sample_body_read_as_an_event_shows_a_failed_segment(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    """Its attempts include one failed segment: a failure, though the status says Delivered."""
    make_runtime()
    body = load_sample("SmsDeliveryReport.RestGet-restspecs-sms-2026-01-23.json")["responses"][
        "200"
    ]["body"]
    event = {
        "id": "rest-1",
        "eventType": "Microsoft.Communication.SMSDeliveryReportReceived",
        "topic": "/acs",
        "data": body,
    }
    [record] = local_host.post("eventgrid", [event]).json()["events"]
    assert (record["outcome"], record["code"], record["category"]) == ("alert", 2000, "Success")
