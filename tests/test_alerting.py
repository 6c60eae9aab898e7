"""Enrichment and alert forwarding: exactly one alert per unexpected failure, with its advice."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from catalog import get_catalog
from catalog.models import Category, Domain
from handlers.alerting.alert import ALERT_TYPE, alert_id_for
from handlers.alerting.cloudevent import CloudEvent
from handlers.alerting.delivery import SinkError
from handlers.alerting.file_sink import FileSink
from handlers.alerting.labels import channel_of
from handlers.alerting.policy import AlertPolicy
from handlers.alerting.webhook_sink import WebhookSink
from handlers.events.router import EventReader
from handlers.inbound.envelope import parse_events
from tests.capture_server import CaptureServer
from tests.conftest import LocalHost, RuntimeFactory, logged_events, read_alerts
from tests.events import call_result, sms_report

SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OTA="


def run(make_runtime: RuntimeFactory, body: Any, **settings: Any):  # type: ignore[no-untyped-def]
    runtime = make_runtime(**settings)
    return runtime.pipeline.run(parse_events(body), way_in="test")


# --- which events alert ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "outcome", "kind", "category"),
    [
        (
            call_result("t1", "TranscriptionFailed", code=500, subcode=9999),
            "alert",
            "error",
            "UnexpectedServerError",
        ),
        (
            call_result("d1", "CallDisconnected", code=503, subcode=560503),
            "alert",
            "error",
            "UnexpectedServerError",
        ),
        (call_result("p1", "PlayFailed", code=400, subcode=8536), "ok", None, "ExpectedError"),
        (call_result("d2", "CallDisconnected", code=200, subcode=0), "ok", None, "Success"),
        (call_result("d3", "CallDisconnected", code=200, subcode=7015), "ok", None, "Success"),
        (call_result("c1", "CreateCallFailed", code=None), "alert", "unknown-code", None),
        (call_result("u1", "PlayFailed", code=799, subcode=1), "alert", "unknown-code", None),
        (sms_report("s1", status="Failed", details="4007: opted out"), "ok", None, "ExpectedError"),
        (
            sms_report("s2", status="Failed", details="5000: failed"),
            "alert",
            "error",
            "UnexpectedServerError",
        ),
        (
            sms_report("s3", status="Failed", details="Carrier rejected"),
            "alert",
            "unknown-code",
            None,
        ),
        (sms_report("s4", failed_segments=1), "alert", "unknown-code", "Success"),
        (sms_report("s5", details="No error."), "ok", None, "Success"),
    ],
)
def test_unexpected_failures_alert_and_expected_ones_do_not(
    make_runtime: RuntimeFactory,
    alert_file: Path,
    event: dict[str, Any],
    outcome: str,
    kind: str | None,
    category: str | None,
) -> None:
    [triage] = run(make_runtime, [event]).triages
    assert triage.verdict == outcome
    assert (
        triage.match.category.value if triage.match and triage.match.category else None
    ) == category
    alerts = read_alerts(alert_file)
    assert [a["data"]["kind"] for a in alerts] == ([kind] if kind else [])


def test_an_alert_is_a_cloudevent_carrying_the_catalogs_advice(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    event = call_result(
        "t1", "TranscriptionFailed", code=500, subcode=9999, message="Transcription failed."
    )
    run(make_runtime, [event])
    [alert] = read_alerts(alert_file)
    assert alert["specversion"] == "1.0"
    assert alert["type"] == ALERT_TYPE
    assert alert["source"] == "/acs-triage"
    assert alert["subject"] == event["subject"]
    assert alert["time"] == event["time"]
    data = alert["data"]
    assert (data["kind"], data["code"], data["subcode"]) == ("error", 500, 9999)
    assert data["category"] == "UnexpectedServerError"
    assert data["message"] == "Transcription failed."
    assert "support request" in data["advice"]
    # TranscriptionFailed reads the transcription action's table first.
    assert data["catalog"]["match"] == "action-exact"
    assert (data["catalog"]["source"], data["catalog"]["action"]) == (
        "action-transcription",
        "transcription",
    )
    assert data["family"] == "call-automation"
    assert data["retry"]["verdict"] == "transient"
    assert data["retry"]["reason"]
    assert data["event"] == {
        "id": "t1",
        "type": "Microsoft.Communication.TranscriptionFailed",
        "source": event["source"],
        "subject": event["subject"],
        "time": event["time"],
        "index": 0,
    }
    assert data["context"]["callConnectionId"] == event["data"]["callConnectionId"]
    assert data["context"]["codeOrigin"] == "resultInformation"
    assert data["context"]["action"] == "transcription"


def test_an_unreadable_event_is_forwarded_as_an_invalid_event_alert(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    bad = sms_report("bad")
    bad["data"] = "oops"
    [triage] = run(make_runtime, [bad]).triages
    assert triage.verdict == "invalid"
    [alert] = read_alerts(alert_file)
    assert alert["data"]["kind"] == "invalid-event"
    assert alert["data"]["reason"] == "data is a str, expected an object"


def test_alert_ids_are_the_same_in_any_process(make_runtime: RuntimeFactory) -> None:
    [triage] = run(
        make_runtime, [call_result("t1", "TranscriptionFailed", code=500, subcode=9999)]
    ).triages
    assert triage.alert is not None
    key = parse_events([call_result("t1", "TranscriptionFailed")])[0].key
    other_process = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from handlers.alerting.alert import alert_id_for; "
            "print(alert_id_for(sys.argv[1]))",
            key,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert triage.alert.id == alert_id_for(key) == other_process


# --- policy from settings ----------------------------------------------------------------


def test_include_and_exclude_lists_override_the_category(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    events = [
        call_result("p1", "PlayFailed", code=400, subcode=8536),  # ExpectedError, included
        call_result("t1", "TranscriptionFailed", code=500, subcode=9999),  # excluded by code
        sms_report("s1", status="Failed", details="4007: opted out"),  # included by code alone
    ]
    run(make_runtime, events, alert_include_codes="400/8536,4007", alert_exclude_codes="500")
    assert sorted(a["data"]["event"]["id"] for a in read_alerts(alert_file)) == ["p1", "s1"]


def test_expected_errors_alert_only_when_their_category_is_listed(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    run(
        make_runtime,
        [call_result("p1", "PlayFailed", code=400, subcode=8536)],
        alert_categories="ExpectedError",
    )
    assert len(read_alerts(alert_file)) == 1


def test_policy_never_alerts_on_success_even_when_listed() -> None:
    policy = AlertPolicy(categories=frozenset(Category))
    reader = EventReader(lambda code: True)
    outcome = reader.read(parse_events([call_result("d", code=200, subcode=0)])[0])
    match = get_catalog().lookup(Domain.CALL_AUTOMATION, 200, 0)
    assert match.category == Category.SUCCESS
    # Listing Success is the operator's explicit choice; by default it never alerts.
    assert (
        AlertPolicy(categories=frozenset({Category.UNEXPECTED_SERVER_ERROR})).decide(outcome, match)
        is None
    )
    assert policy.decide(outcome, match) == "error"


@pytest.mark.parametrize(
    ("event_type", "channel"),
    [
        ("Microsoft.Communication.SMSDeliveryReportReceived", "sms"),
        ("Microsoft.Communication.CallDisconnected", "call"),
        ("Microsoft.Communication.CallEnded", "call"),
        ("Microsoft.Communication.PlayFailed", "call"),
        ("Microsoft.Communication.ParticipantsUpdated", "call"),
        ("Microsoft.Communication.EmailDeliveryReportReceived", "email"),
        ("Microsoft.Communication.AdvancedMessageDeliveryStatusUpdated", "whatsapp"),
        ("Microsoft.Communication.RouterJobClassificationFailed", "router"),
        ("Microsoft.Communication.ChatMessageReceived", "chat"),
        ("Contoso.Something", "other"),
        (None, "other"),
    ],
)
def test_each_event_family_has_a_channel_of_its_own(event_type: str | None, channel: str) -> None:
    # Rate alarms and groups are per channel: an e-mail bounce must not count as a call's.
    assert channel_of(event_type) == channel


# --- exactly once ------------------------------------------------------------------------


def test_a_redelivered_batch_yields_duplicates_and_no_second_alert(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    runtime = make_runtime()
    batch = [call_result("t1", "TranscriptionFailed", code=500, subcode=9999), sms_report("s1")]
    first = runtime.pipeline.run(parse_events(batch), way_in="test")
    again = runtime.pipeline.run(parse_events(batch), way_in="test")
    assert [t.verdict for t in first.triages] == ["alert", "ok"]
    assert [t.verdict for t in again.triages] == ["duplicate", "duplicate"]
    assert len(read_alerts(alert_file)) == 1


def test_the_same_event_twice_in_one_batch_is_a_duplicate_the_second_time(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    event = call_result("t1", "TranscriptionFailed", code=500, subcode=9999)
    delivery = run(make_runtime, [event, event])
    assert [t.verdict for t in delivery.triages] == ["alert", "duplicate"]
    assert len(read_alerts(alert_file)) == 1


def test_a_destination_that_is_down_costs_the_delivery_nothing_and_gets_each_alert_once(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    with CaptureServer() as hook:
        hook.fail(3, status=503)
        make_runtime(
            sinks=[WebhookSink(hook.url("/alerts"), SECRET)],
            sink_max_attempts=1,
            alert_webhook_receives="alerts",
        )
        batch = [
            call_result("t1", "TranscriptionFailed", code=500, subcode=9999),
            call_result("d1", "CallDisconnected", code=503, subcode=560503),
            call_result("p1", "PlayFailed", code=400, subcode=8536),
        ]
        # Each delivery is followed by a flush: the first three fail, the fourth succeeds.
        statuses = [local_host.post("callbacks", batch).status_code for _ in range(5)]
        assert statuses == [200] * 5
        delivered = [alert for request in hook.accepted() for alert in request.json()]
    assert sorted(alert["data"]["event"]["id"] for alert in delivered) == ["d1", "t1"]
    assert len({alert["id"] for alert in delivered}) == 2


def test_after_a_partial_failure_the_next_flush_sends_only_to_the_destination_that_missed_it(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    with CaptureServer() as hook:
        hook.fail(1, status=500)
        runtime = make_runtime(
            sinks=[FileSink(alert_file), WebhookSink(hook.url("/alerts"), SECRET)],
            sink_max_attempts=1,
            alert_webhook_receives="alerts",
        )
        batch = parse_events([call_result("t1", "TranscriptionFailed", code=500, subcode=9999)])
        runtime.pipeline.run(batch, way_in="test")  # the file has it; the webhook failed
        assert len(read_alerts(alert_file)) == 1 and hook.accepted() == []
        [report] = runtime.flush()
        assert report.sent == {"webhook": 1}
        webhook_ids = [a["id"] for r in hook.accepted() for a in r.json()]
    file_ids = [a["id"] for a in read_alerts(alert_file)]
    assert file_ids == webhook_ids and len(file_ids) == 1


def test_webhook_alerts_verify_with_the_standard_webhooks_library(
    make_runtime: RuntimeFactory,
) -> None:
    with CaptureServer() as hook:
        sinks = [WebhookSink(hook.url("/alerts"), SECRET)]
        make_runtime(sinks=sinks, alert_webhook_receives="alerts").pipeline.run(
            parse_events([call_result("t1", "TranscriptionFailed", code=500, subcode=9999)]),
            way_in="test",
        )
        [request] = hook.accepted()
    payload = Webhook(SECRET).verify(request.body, request.headers)
    assert payload[0]["data"]["code"] == 500


# --- end to end, and what the logs say -----------------------------------------------------


def test_an_event_grid_delivery_on_the_local_host_ends_as_an_alert_in_the_file(
    make_runtime: RuntimeFactory, local_host: LocalHost, alert_file: Path
) -> None:
    make_runtime()
    response = local_host.post(
        "eventgrid", [sms_report("s9", status="Failed", details="9999: unknown")]
    )
    assert response.status_code == 200
    assert response.json()["outcomes"] == {"alert": 1}
    [alert] = read_alerts(alert_file)
    assert alert["data"]["event"]["id"] == "s9"
    assert alert["data"]["advice"] == "Try resending the message."
    assert alert["data"]["context"]["to"] == "+*******0123"


def test_one_log_line_per_delivery_and_per_alert_with_no_phone_number_or_secret(
    make_runtime: RuntimeFactory, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO, logger="acs_triage")
    with CaptureServer() as hook:
        hook.fail(1, status=500)
        runtime = make_runtime(
            sinks=[WebhookSink(hook.url("/alerts?sig=topsecret"), SECRET)],
            sink_max_attempts=1,
            alert_webhook_secret=SECRET,
            alert_webhook_receives="alerts",
        )
        batch = parse_events(
            [
                sms_report("s1", status="Failed", details="5000: failed for +15555550123"),
                sms_report("s2"),
                call_result("t1", "TranscriptionFailed", code=500, subcode=9999),
            ]
        )
        runtime.pipeline.run(batch, way_in="test")  # the webhook fails once, then a redelivery
        runtime.pipeline.run(batch, way_in="test")
    lines = logged_events(caplog)
    deliveries = [line for line in lines if line["event"] == "delivery"]
    alerts = [line for line in lines if line["event"] == "alert"]
    assert [d["outcomes"] for d in deliveries] == [{"alert": 2, "ok": 1}, {"duplicate": 3}]
    assert any(line["event"] == "sink_failed" for line in lines)
    assert deliveries[0]["categories"]["UnexpectedServerError"] == 2
    assert {line["event_id"] for line in alerts} == {"s1", "t1"}
    everything = caplog.text
    for secret in ("5555550123", "5555550100", "topsecret", SECRET, SECRET.removeprefix("whsec_")):
        assert secret not in everything


class BarrierSink:
    """A destination that only succeeds if the other destination is being sent to at once."""

    def __init__(self, name: str, barrier: threading.Barrier) -> None:
        self.name = name
        self.barrier = barrier
        self.received: list[str] = []

    def send(self, alerts: Sequence[CloudEvent[Any]]) -> None:
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            raise SinkError(self.name, "the other destination was not being sent to") from None
        self.received.extend(alert.id for alert in alerts)


def test_destinations_are_sent_to_side_by_side_within_one_budget(
    make_runtime: RuntimeFactory,
) -> None:
    """Sent one after another, each with the whole budget, three slow destinations would
    outlast Event Grid's 30 s; side by side, a delivery takes as long as the slowest one."""
    barrier = threading.Barrier(2, timeout=5)
    sinks = [BarrierSink("first", barrier), BarrierSink("second", barrier)]
    runtime = make_runtime(sinks=sinks, sink_max_attempts=1)
    runtime.pipeline.run(
        parse_events([call_result("t1", "TranscriptionFailed", code=500, subcode=9999)]),
        way_in="test",
    )
    assert sinks[0].received == sinks[1].received and len(sinks[0].received) == 1
