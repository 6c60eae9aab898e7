"""The one adapter reads the real notification model (as the outbox keeps it) into the on-call
views: groups, rate alarms and failing destinations; it masks free text again and refuses what
is not a notification of its kind. A receiver serves the outbox like any other destination,
retried by the same machinery."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from handlers.alerting.delivery import SinkError, deliver
from handlers.board import ReceiverSink, notification_view
from handlers.notify.notification import Notification, outgoing_from_json
from handlers.oncall.pagerduty import PagerDutyReceiver
from handlers.oncall.views import AlarmView, DestinationView, GroupView
from tests.capture_server import Reply
from tests.conftest import logged_events
from tests.oncall_receivers import ROUTING_KEY, receiver_server
from tests.oncall_storm import alarm_notifications, storm_models

# A firing notification as the notifier writes it into the outbox.
AS_THE_NOTIFIER_WRITES_IT: dict[str, Any] = {
    "specversion": "1.0",
    "id": "0b8f3c1e-5a43-5d0e-9d6e-3f1b7a2c9e10",
    "type": "acs-triage.notification.v1",
    "source": "/acs-triage",
    "subject": "group/5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5",
    "time": "2026-11-21T03:00:31+00:00",
    "datacontenttype": "application/json",
    "data": {
        "status": "firing",
        "reason": "new",
        "about": "group",
        "group": "5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5",
        "sequence": 1,
        "labels": {"channel": "call", "kind": "error", "code": "503", "subcode": "560503"},
        "severity": "critical",
        "total": 412,
        "sinceLast": 412,
        "firstSeen": "2026-11-21T03:00:00+00:00",
        "lastSeen": "2026-11-21T03:00:29+00:00",
        "examples": [
            {"alert": "9a0e…", "event": "call-1",
             "type": "Microsoft.Communication.CallDisconnected",
             "time": "2026-11-21T03:00:00+00:00", "code": 503, "subcode": 560503},
        ],
        "meaning": "Call failed because of an internal server error …",
        "advice": "Check your SBC logs.",
        "summary": "firing: 412 alert(s) (412 new) for channel=call, kind=error, code=503, …",
    },
}
OUTAGE: dict[str, Any] = {
    **AS_THE_NOTIFIER_WRITES_IT,
    "id": "d2b1c0a9-0000-5000-8000-000000000001",
    "subject": "destination/webhook",
    "data": {"status": "firing", "about": "destination", "destination": "webhook",
             "failingSince": "2026-11-21T02:55:00+00:00", "reason": "HTTP 503", "pending": 7,
             "summary": "Destination webhook has been failing since …"},
}


def read(event: dict[str, Any]) -> Notification:
    model = outgoing_from_json(event)
    assert isinstance(model, Notification)
    return model


def test_a_notification_as_the_notifier_writes_it_reads_into_the_view() -> None:
    view = notification_view(read(AS_THE_NOTIFIER_WRITES_IT))
    group = view.about
    assert isinstance(group, GroupView)
    assert (view.id, view.sequence, view.status) == (
        "0b8f3c1e-5a43-5d0e-9d6e-3f1b7a2c9e10", 1, "firing")
    assert group.fingerprint == "5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5"
    assert (group.alerts_total, group.alerts_new, group.recipients) == (412, 412, None)
    assert group.examples[0].event_id == "call-1"
    assert group.title == "call 503/560503: Call failed because of an internal server error …"


def test_an_alarm_reads_into_the_alarm_view_field_by_field() -> None:
    firing, resolved = (notification_view(n) for n in alarm_notifications())
    alarm = firing.about
    assert isinstance(alarm, AlarmView)
    assert (alarm.fingerprint, alarm.name, alarm.channel, alarm.level) == (
        "alarm-sms-failure-rate", "sms-failure-rate", "sms", "critical")
    assert (alarm.failed, alarm.total, alarm.window_seconds, alarm.min_volume) == (
        412, 1030, 300, 30)
    assert (alarm.warning_ratio, alarm.critical_ratio) == (0.2, 0.35)
    assert len(alarm.history) == 60 and alarm.resolved_at is None
    ended = resolved.about
    assert isinstance(ended, AlarmView) and ended.level is None
    assert ended.resolved_at == resolved.created_at


def test_a_destination_outage_reads_into_the_destination_view() -> None:
    view = notification_view(read(OUTAGE))
    outage = view.about
    assert isinstance(outage, DestinationView)
    assert (outage.fingerprint, outage.destination, outage.reason, outage.pending) == (
        "destination-webhook", "webhook", "HTTP 503", 7)
    assert outage.labels == {"destination": "webhook"} and view.sequence == 1
    assert outage.title == "destination webhook is failing (HTTP 503)"


def test_free_text_is_masked_again_on_the_way_in() -> None:
    said = "Failed for +15555550123, cc jane.doe@contoso.com"
    event = {**AS_THE_NOTIFIER_WRITES_IT,
             "data": {**AS_THE_NOTIFIER_WRITES_IT["data"], "meaning": said, "advice": said}}
    group = notification_view(read(event)).about
    assert isinstance(group, GroupView)
    masked = "Failed for +*******0123, cc j*******@contoso.com"
    assert (group.meaning, group.advice) == (masked, masked)
    assert group.fingerprint == "5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5"  # ids stay whole


@pytest.mark.parametrize(
    "broken",
    [
        {"firstSeen": None},
        {"group": None},
        {"severity": "burning"},
        {"about": "alarm"},  # without its alarm
        {"about": "destination"},  # without its destination
    ],
)
def test_what_lacks_what_its_kind_needs_is_refused(broken: dict[str, Any]) -> None:
    data = {k: v for k, v in {**AS_THE_NOTIFIER_WRITES_IT["data"], **broken}.items() if v}
    with pytest.raises(ValueError):
        notification_view(read({**AS_THE_NOTIFIER_WRITES_IT, "data": data}))


def test_a_notification_without_its_time_is_refused() -> None:
    untimed = read(AS_THE_NOTIFIER_WRITES_IT).model_copy(update={"time": None})
    with pytest.raises(ValueError):
        notification_view(untimed)


def pagerduty_sink(url: str, key: str = ROUTING_KEY) -> ReceiverSink:
    return ReceiverSink(PagerDutyReceiver(key, status_url="http://127.0.0.1/api/status", url=url))


def test_a_failing_receiver_is_retried_by_the_destinations_own_retries() -> None:
    firing = storm_models()[0]
    with receiver_server("pagerduty") as server:
        server.answer(Reply(503), Reply(500, headers={"Retry-After": "0"}))
        sink = pagerduty_sink(server.url("/v2/enqueue"))
        deliver(sink, [firing], max_attempts=4, budget_seconds=60, sleep=lambda _: None)
        requests = server.requests
    assert [r.status for r in requests] == [503, 500, 202]
    assert {r.json()["dedup_key"] for r in requests} == {"grp-call-503-560503"}


def test_a_receiver_refused_for_good_is_given_up_at_once() -> None:
    with receiver_server("pagerduty") as server:
        sink = pagerduty_sink(server.url("/v2/enqueue"), key="not-the-key")
        with pytest.raises(SinkError) as raised:
            deliver(sink, [storm_models()[0]], max_attempts=4, budget_seconds=60,
                    sleep=lambda _: None)
        assert raised.value.permanent and len(server.requests) == 1


def test_a_receiver_skips_its_own_outage_and_what_it_cannot_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    own = read({**OUTAGE, "data": {**OUTAGE["data"], "destination": "pagerduty"}})
    unreadable = read({**AS_THE_NOTIFIER_WRITES_IT,
                       "data": {**AS_THE_NOTIFIER_WRITES_IT["data"], "severity": "burning"}})
    with receiver_server("pagerduty") as server, caplog.at_level(logging.INFO):
        pagerduty_sink(server.url("/v2/enqueue")).send([own, unreadable, read(OUTAGE)])
        sent = [r.json() for r in server.accepted()]
    assert [(s["event_action"], s["dedup_key"]) for s in sent] == [
        ("trigger", "destination-webhook")]
    skipped = [e for e in logged_events(caplog) if e.get("event") == "notification_unreadable"]
    assert [e["id"] for e in skipped] == [unreadable.id]
