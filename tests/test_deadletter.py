"""Dead-letter list and replay against Azurite's blob service, with blobs laid out and written as
Event Grid writes them (docs: Event Grid message delivery and retry, "Dead-letter events" and
"Delivery event formats"; Set dead-letter location and retry policy):

- one blob per batch, ``<TOPIC>/<SUBSCRIPTION>/<yyyy>/<M>/<d>/<H>/<guid>.json``, names in upper
  case, date and hour in UTC without zero padding;
- a JSON array of the original events, each with ``deadLetterReason``, ``deliveryAttempts``,
  ``lastDeliveryOutcome``, ``lastHttpStatusCode``, ``publishTime``, ``lastDeliveryAttemptTime``
  (lower-case names in the CloudEvents schema).
"""

from __future__ import annotations

import io
import itertools
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from handlers.alerting.file_sink import FileSink
from handlers.inbound.envelope import parse_events
from handlers.runtime import reset_runtime
from handlers.tools.cli import main
from handlers.tools.deadletter import (
    REPLAY_ERROR,
    REPLAY_FAILED_AT,
    REPLAYED_AT,
    BlobName,
    DeadLetterContainer,
    list_dead_letters,
    parse_time,
    print_report,
    read_fields,
    replay_dead_letters,
)
from tests.azurite import Azurite, shared_azurite_blob_fixture  # noqa: F401
from tests.conftest import RuntimeFactory, read_alerts
from tests.events import ACS_TOPIC, sms_report

pytestmark = pytest.mark.azurite

CONTAINER = "eventgrid-deadletter"
TOPIC_FOLDER = "EVGST-ACSTRIAGE-ABC"
SUBSCRIPTION_FOLDER = "ACS-TRIAGE"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


_containers = itertools.count()


@pytest.fixture
def blobs(shared_azurite_blob: Azurite) -> ContainerClient:
    """A dead-letter container of this test's own on the module's blob service."""
    name = f"{CONTAINER}-{next(_containers)}"
    client = ContainerClient.from_connection_string(shared_azurite_blob.connection_string, name)
    client.create_container()
    return client


@pytest.fixture
def container(shared_azurite_blob: Azurite, blobs: ContainerClient) -> DeadLetterContainer:
    return DeadLetterContainer.from_connection_string(
        shared_azurite_blob.connection_string, blobs.container_name
    )


def dead_lettered(
    event: dict[str, Any],
    *,
    reason: str = "MaxDeliveryAttemptsExceeded",
    attempts: int = 30,
    outcome: str = "Unauthorized",
    status: int | None = 401,
) -> dict[str, Any]:
    """The event as Event Grid writes it into a dead-letter blob (Event Grid schema)."""
    fields: dict[str, Any] = {
        "deadLetterReason": reason,
        "deliveryAttempts": attempts,
        "lastDeliveryOutcome": outcome,
        "publishTime": "2026-11-21T10:00:01.0265758Z",
        "lastDeliveryAttemptTime": "2026-11-22T09:55:14.0465788Z",
    }
    if status is not None:
        fields["lastHttpStatusCode"] = status
    return {**event, **fields}


def write_blob(
    blobs: ContainerClient,
    events: list[dict[str, Any]],
    *,
    hour: datetime = datetime(2026, 11, 22, 9, tzinfo=UTC),
    folders: str = f"{TOPIC_FOLDER}/{SUBSCRIPTION_FOLDER}",
) -> str:
    name = f"{folders}/{hour.year}/{hour.month}/{hour.day}/{hour.hour}/{uuid.uuid4()}.json"
    blobs.upload_blob(name, json.dumps(events).encode())
    return name


def failed_sms(event_id: str) -> dict[str, Any]:
    """An SMS report failing with 5000 (an unexpected server error): it alerts."""
    return sms_report(
        event_id, status="Failed", details="5000: Message failed to deliver", failed_segments=1
    )


def metadata(blobs: ContainerClient, name: str) -> dict[str, str]:
    return dict(blobs.get_blob_client(name).get_blob_properties().metadata)


# --- reading Event Grid's layout -------------------------------------------------------------


def test_blob_name_is_read_as_topic_subscription_and_hour() -> None:
    name = BlobName.parse(f"{TOPIC_FOLDER}/{SUBSCRIPTION_FOLDER}/2026/1/5/7/{uuid.uuid4()}.json")
    assert (name.topic, name.subscription) == (TOPIC_FOLDER, SUBSCRIPTION_FOLDER)
    assert name.hour == datetime(2026, 1, 5, 7, tzinfo=UTC)
    # the layout the delivery docs show, with the subscription folder only
    short = BlobName.parse("ACS-TRIAGE/2019/8/8/5/111111111-1111-1111-1111-111111111111.json")
    assert (short.topic, short.subscription) == (None, "ACS-TRIAGE")
    assert short.hour == datetime(2019, 8, 8, 5, tzinfo=UTC)
    assert BlobName.parse("notes.txt").hour is None


def test_an_hour_folder_overlaps_a_window_that_touches_it() -> None:
    name = BlobName.parse("S/2026/11/22/9/x.json")
    assert name.overlaps(datetime(2026, 11, 22, 9, 30, tzinfo=UTC), None)
    assert name.overlaps(None, datetime(2026, 11, 22, 9, 1, tzinfo=UTC))
    assert not name.overlaps(datetime(2026, 11, 22, 10, tzinfo=UTC), None)
    assert not name.overlaps(None, datetime(2026, 11, 22, 9, tzinfo=UTC))
    assert not BlobName.parse("elsewhere.json").overlaps(datetime(2026, 1, 1, tzinfo=UTC), None)


def test_times_are_absolute_or_relative_to_now() -> None:
    assert parse_time("24h", now=NOW) == datetime(2026, 11, 21, 12, tzinfo=UTC)
    assert parse_time("7d", now=NOW) == datetime(2026, 11, 15, 12, tzinfo=UTC)
    assert parse_time("90m", now=NOW) == datetime(2026, 11, 22, 10, 30, tzinfo=UTC)
    assert parse_time("2026-11-21T10:00:00Z") == datetime(2026, 11, 21, 10, tzinfo=UTC)
    assert parse_time("2026-11-21") == datetime(2026, 11, 21, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_time("yesterday")


def test_dead_letter_fields_are_read_in_both_schemas_and_odd_values_do_not_lose_the_event() -> None:
    cloud = read_fields(
        {
            "deadletterreason": "TimeToLiveExceeded",
            "deliveryattempts": 3,
            "lastdeliveryoutcome": "Probation",
            "lasthttpstatuscode": 503,
        }
    )
    assert (cloud.reason, cloud.attempts, cloud.last_outcome, cloud.last_http_status) == (
        "TimeToLiveExceeded",
        3,
        "Probation",
        503,
    )
    odd = read_fields({"deadLetterReason": "MaxDeliveryAttemptsExceeded", "deliveryAttempts": "x"})
    assert (odd.reason, odd.attempts) == ("MaxDeliveryAttemptsExceeded", None)


# --- list --------------------------------------------------------------------------------------


def test_list_shows_why_event_grid_gave_up_on_each_event(
    blobs: ContainerClient, container: DeadLetterContainer
) -> None:
    write_blob(blobs, [dead_lettered(failed_sms("sms-1")), dead_lettered(sms_report("sms-2"))])
    write_blob(
        blobs,
        [
            dead_lettered(
                sms_report("sms-3"),
                reason="DeliveryFailed",
                attempts=1,
                outcome="BadRequest",
                status=400,
            )
        ],
        hour=datetime(2026, 11, 22, 10, tzinfo=UTC),
    )
    report = list_dead_letters(container)
    out = io.StringIO()
    print_report(report, out, replaying=False)
    text = out.getvalue()
    assert [letter.event_id for letter in report.letters] == ["sms-1", "sms-2", "sms-3"]
    first = report.letters[0]
    assert first.why() == "MaxDeliveryAttemptsExceeded, last answer 401 Unauthorized, 30 attempt(s)"
    assert "2026-11-22 09:00Z  ACS-TRIAGE" in text
    assert "DeliveryFailed, last answer 400 BadRequest, 1 attempt(s)" in text
    assert (
        "3 dead-lettered event(s) in 2 blob(s): 2 MaxDeliveryAttemptsExceeded, 1 DeliveryFailed"
        in text
    )
    assert "last answers: 2x 401, 1x 400" in text
    # the original event, without what Event Grid added, is what a replay sends
    assert "deadLetterReason" not in first.event and first.event["id"] == "sms-1"


def test_list_keeps_to_the_time_window_and_the_subscription(
    blobs: ContainerClient, container: DeadLetterContainer
) -> None:
    write_blob(
        blobs, [dead_lettered(sms_report("early"))], hour=datetime(2026, 11, 20, 8, tzinfo=UTC)
    )
    write_blob(
        blobs, [dead_lettered(sms_report("late"))], hour=datetime(2026, 11, 22, 8, tzinfo=UTC)
    )
    write_blob(blobs, [dead_lettered(sms_report("other"))], folders=f"{TOPIC_FOLDER}/OTHER-APP")
    recent = list_dead_letters(container, since=parse_time("1d", now=NOW))
    assert [letter.event_id for letter in recent.letters] == ["late", "other"]
    older = list_dead_letters(container, until=datetime(2026, 11, 21, tzinfo=UTC))
    assert [letter.event_id for letter in older.letters] == ["early"]
    ours = list_dead_letters(container, subscription="acs-triage")
    assert sorted(letter.event_id for letter in ours.letters) == ["early", "late"]


def test_list_reports_a_blob_it_cannot_read(
    blobs: ContainerClient, container: DeadLetterContainer
) -> None:
    blobs.upload_blob(
        f"{TOPIC_FOLDER}/{SUBSCRIPTION_FOLDER}/2026/11/22/9/broken.json", b"{not json"
    )
    report = list_dead_letters(container)
    assert report.letters == []
    assert [blob.unreadable[:8] for blob in report.unreadable if blob.unreadable] == ["not JSON"]


# --- replay ------------------------------------------------------------------------------------


def test_replay_runs_each_event_through_the_pipeline_and_marks_the_blob(
    blobs: ContainerClient,
    container: DeadLetterContainer,
    make_runtime: RuntimeFactory,
    alert_file: Path,
) -> None:
    name = write_blob(
        blobs, [dead_lettered(failed_sms("sms-1")), dead_lettered(sms_report("sms-2"))]
    )
    runtime = make_runtime()
    report = replay_dead_letters(container, runtime, now=NOW)
    assert [(letter.event_id, letter.outcome) for letter in report.letters] == [
        ("sms-1", "alert"),
        ("sms-2", "ok"),
    ]
    [alert] = read_alerts(alert_file)
    assert alert["data"]["event"]["id"] == "sms-1" and alert["data"]["code"] == 5000
    assert metadata(blobs, name)[REPLAYED_AT] == NOW.isoformat()
    assert report.blobs_marked_replayed == 1 and report.failed == 0


def test_a_second_replay_skips_marked_blobs_and_a_forced_one_sends_nothing_twice(
    blobs: ContainerClient,
    container: DeadLetterContainer,
    make_runtime: RuntimeFactory,
    alert_file: Path,
) -> None:
    write_blob(blobs, [dead_lettered(failed_sms("sms-1"))])
    runtime = make_runtime()
    replay_dead_letters(container, runtime, now=NOW)
    again = replay_dead_letters(container, runtime, now=NOW)
    assert [letter.outcome for letter in again.letters] == ["skipped"]
    assert again.blobs_skipped == 1
    forced = replay_dead_letters(container, runtime, include_replayed=True, now=NOW)
    assert [letter.outcome for letter in forced.letters] == ["duplicate"]
    assert len(read_alerts(alert_file)) == 1


def test_replaying_an_event_that_did_arrive_sends_nothing(
    blobs: ContainerClient,
    container: DeadLetterContainer,
    make_runtime: RuntimeFactory,
    alert_file: Path,
) -> None:
    # Event Grid dead-lettered it although a later attempt reached the app (or it was
    # redelivered): the app's event claim already holds it.
    event = failed_sms("sms-1")
    runtime = make_runtime()
    runtime.pipeline.run(parse_events([event]), way_in="eventgrid")
    write_blob(blobs, [dead_lettered(event)])
    report = replay_dead_letters(container, runtime, now=NOW)
    assert [letter.outcome for letter in report.letters] == ["duplicate"]
    assert len(read_alerts(alert_file)) == 1


def test_an_event_that_fails_again_is_left_in_place_with_the_reason(
    blobs: ContainerClient,
    container: DeadLetterContainer,
    make_runtime: RuntimeFactory,
    tmp_path: Path,
    alert_file: Path,
) -> None:
    name = write_blob(
        blobs, [dead_lettered(failed_sms("sms-1")), dead_lettered(sms_report("sms-2"))]
    )
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the alert folder should be")
    broken = make_runtime(sinks=[FileSink(blocked / "alerts.jsonl")], sink_max_attempts=1)
    report = replay_dead_letters(container, broken, now=NOW)
    assert [(letter.event_id, letter.outcome) for letter in report.letters] == [
        ("sms-1", "failed"),
        ("sms-2", "ok"),
    ]
    marks = metadata(blobs, name)
    assert REPLAYED_AT not in marks
    assert marks[REPLAY_FAILED_AT] == NOW.isoformat()
    assert marks[REPLAY_ERROR].startswith("event sms-1: Alert destination(s) file failed")
    assert list(blobs.list_blobs()) != []  # still there

    # Once the destination works again, the next replay (a new process: its memory outbox and
    # store are new) brings it back and marks the blob.
    fixed = make_runtime()
    later = replay_dead_letters(container, fixed, now=NOW)
    assert [letter.outcome for letter in later.letters] == ["alert", "ok"]
    assert REPLAYED_AT in metadata(blobs, name) and REPLAY_ERROR not in metadata(blobs, name)
    assert len(read_alerts(alert_file)) == 1


def test_an_event_from_a_topic_the_app_does_not_accept_fails_with_the_reason(
    blobs: ContainerClient, container: DeadLetterContainer, make_runtime: RuntimeFactory
) -> None:
    write_blob(blobs, [dead_lettered(sms_report("sms-1", topic="/subscriptions/x/other"))])
    report = replay_dead_letters(container, make_runtime(allowed_topics=ACS_TOPIC), now=NOW)
    [letter] = report.letters
    assert letter.outcome == "failed"
    assert "does not accept" in letter.detail


def test_dry_run_changes_nothing(
    blobs: ContainerClient,
    container: DeadLetterContainer,
    make_runtime: RuntimeFactory,
    alert_file: Path,
) -> None:
    name = write_blob(blobs, [dead_lettered(failed_sms("sms-1"))])
    report = replay_dead_letters(container, make_runtime(), dry_run=True, now=NOW)
    assert [letter.outcome for letter in report.letters] == ["would replay"]
    assert read_alerts(alert_file) == []
    assert metadata(blobs, name) == {}


def test_cloudevents_dead_letters_replay_too(
    blobs: ContainerClient,
    container: DeadLetterContainer,
    make_runtime: RuntimeFactory,
    alert_file: Path,
) -> None:
    event = {
        "specversion": "1.0",
        "id": "ce-1",
        "source": ACS_TOPIC,
        "subject": "/phonenumber/15555550123",
        "type": "Microsoft.Communication.SMSDeliveryReportReceived",
        "time": "2026-11-21T10:00:00Z",
        "datacontenttype": "application/json",
        "data": failed_sms("ce-1")["data"],
        "deadletterreason": "MaxDeliveryAttemptsExceeded",
        "deliveryattempts": 30,
        "lastdeliveryoutcome": "Unauthorized",
        "lasthttpstatuscode": 401,
        "publishtime": "2026-11-21T10:00:01Z",
    }
    write_blob(blobs, [event])
    report = replay_dead_letters(container, make_runtime(), now=NOW)
    assert [(letter.event_id, letter.outcome) for letter in report.letters] == [("ce-1", "alert")]
    assert report.letters[0].fields.last_http_status == 401
    assert len(read_alerts(alert_file)) == 1


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, alert_file: Path) -> Iterator[None]:
    monkeypatch.setenv("ALERT_FILE", str(alert_file))
    monkeypatch.delenv("DEAD_LETTER_CONTAINER_URL", raising=False)
    reset_runtime(None)
    yield
    reset_runtime(None)


def test_command_lists_then_replays_then_finds_nothing_new(
    shared_azurite_blob: Azurite,
    blobs: ContainerClient,
    cli_env: None,
    alert_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_blob(blobs, [dead_lettered(failed_sms("sms-1"))])
    source = [
        "--connection-string",
        shared_azurite_blob.connection_string,
        "--container",
        blobs.container_name,
    ]
    assert main(["deadletter", "list", *source]) == 0
    listed = capsys.readouterr().out
    assert "sms-1" in listed and "new" in listed

    assert main(["deadletter", "replay", "--dry-run", *source]) == 0
    assert "would replay" in capsys.readouterr().out and read_alerts(alert_file) == []

    assert main(["deadletter", "replay", *source]) == 0
    replayed = capsys.readouterr()
    assert "replay: 1 alert" in replayed.out
    assert "blobs marked replayed: 1" in replayed.out
    assert "in memory" in replayed.err  # the operator is told what a memory dedupe store means
    assert len(read_alerts(alert_file)) == 1

    assert main(["deadletter", "replay", "--json", *source]) == 0
    [record] = json.loads(capsys.readouterr().out)
    assert record["outcome"] == "skipped" and record["dead_letter_reason"] == (
        "MaxDeliveryAttemptsExceeded"
    )


def test_command_exits_1_when_an_event_fails_again(
    shared_azurite_blob: Azurite,
    blobs: ContainerClient,
    cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("")
    monkeypatch.setenv("ALERT_FILE", str(blocked / "alerts.jsonl"))
    monkeypatch.setenv("SINK_MAX_ATTEMPTS", "1")
    write_blob(blobs, [dead_lettered(failed_sms("sms-1"))])
    source = ["--connection-string", shared_azurite_blob.connection_string]
    code = main(["deadletter", "replay", *source, "--container", blobs.container_name])
    assert code == 1
    assert "left with the reason: 1" in capsys.readouterr().out


def test_command_needs_a_container(cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deadletter", "list"]) == 2
    assert "DEAD_LETTER_CONTAINER_URL" in capsys.readouterr().err
