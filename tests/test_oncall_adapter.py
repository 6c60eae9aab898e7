"""The adapter reads notifications as the notifier writes them; a receiver serves the outbox
like any other destination, retried by the same machinery."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import pytest
from pydantic import BaseModel, ValidationError

from handlers.alerting.alert import Alert
from handlers.alerting.cloudevent import CloudEvent
from handlers.alerting.delivery import SinkError, deliver
from handlers.oncall.adapter import NOTIFICATION_TYPE, notification_from_cloudevent
from handlers.oncall.pagerduty import PagerDutyReceiver
from handlers.oncall.sink import ReceiverSink
from handlers.oncall.views import GroupView
from tests.capture_server import Reply
from tests.oncall_receivers import ROUTING_KEY, receiver_server
from tests.oncall_storm import storm_cloudevents

# A firing notification as the notifier writes it (its extra keys are read past).
AS_THE_NOTIFIER_WRITES_IT: dict[str, Any] = {
    "specversion": "1.0",
    "id": "0b8f3c1e-5a43-5d0e-9d6e-3f1b7a2c9e10",
    "type": NOTIFICATION_TYPE,
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


def test_a_notification_as_the_notifier_writes_it_reads_into_the_view() -> None:
    view = notification_from_cloudevent(AS_THE_NOTIFIER_WRITES_IT)
    group = view.about
    assert isinstance(group, GroupView)
    assert (view.id, view.sequence, view.status) == (
        "0b8f3c1e-5a43-5d0e-9d6e-3f1b7a2c9e10", 1, "firing")
    assert group.fingerprint == "5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5"
    assert (group.alerts_total, group.alerts_new, group.recipients) == (412, 412, 0)
    assert group.examples[0].event_id == "call-1"
    assert group.title == "call 503/560503: Call failed because of an internal server error …"


def test_free_text_is_masked_again_on_the_way_in() -> None:
    event = storm_cloudevents()[0]
    event["data"]["examples"][0]["subject"] = "to +15555550123, cc jane.doe@contoso.com"
    group = notification_from_cloudevent(event).about
    assert isinstance(group, GroupView)
    assert group.examples[0].subject == "to +*******0123, cc j*******@contoso.com"


@pytest.mark.parametrize(
    "broken",
    [
        {"type": "acs-triage.alert.v1"},
        {"data": {"status": "firing"}},
        {"data": {**AS_THE_NOTIFIER_WRITES_IT["data"], "status": "burning"}},
        {"data": {**AS_THE_NOTIFIER_WRITES_IT["data"], "about": "alarm"}},  # without its alarm
    ],
)
def test_what_is_not_a_notification_is_refused(broken: dict[str, Any]) -> None:
    with pytest.raises((ValueError, ValidationError)):
        notification_from_cloudevent({**AS_THE_NOTIFIER_WRITES_IT, **broken})


class _Data(BaseModel):
    """Any CloudEvent data, as the outbox keeps it."""

    model_config = {"extra": "allow"}


def outbox_records(events: list[dict[str, Any]]) -> Sequence[Alert]:
    """Records as the flusher hands them to a destination: CloudEvents, notifications among
    alerts. ``deliver`` is typed for alerts; a notification travels in the same envelope."""
    records = [CloudEvent[_Data].model_validate(event) for event in events]
    return cast(Sequence[Alert], records)


def test_a_failing_receiver_is_retried_by_the_destinations_own_retries() -> None:
    firing = storm_cloudevents()[0]
    alert = {**firing, "id": "alert-1", "type": "acs-triage.alert.v1", "data": {"kind": "error"}}
    with receiver_server("pagerduty") as server:
        server.answer(Reply(503), Reply(500, headers={"Retry-After": "0"}))
        sink = ReceiverSink(
            PagerDutyReceiver(ROUTING_KEY, status_url="http://127.0.0.1/api/status",
                              url=server.url("/v2/enqueue"))
        )
        deliver(sink, outbox_records([alert, firing]), max_attempts=4, budget_seconds=60,
                sleep=lambda _: None)
        requests = server.requests
    assert [r.status for r in requests] == [503, 500, 202]  # the alert itself was not paged
    assert {r.json()["dedup_key"] for r in requests} == {"grp-call-503-560503"}


def test_a_receiver_refused_for_good_is_given_up_at_once() -> None:
    with receiver_server("pagerduty") as server:
        sink = ReceiverSink(
            PagerDutyReceiver("not-the-key", status_url="http://127.0.0.1/api/status",
                              url=server.url("/v2/enqueue"))
        )
        with pytest.raises(SinkError) as raised:
            deliver(sink, outbox_records([storm_cloudevents()[0]]), max_attempts=4,
                    budget_seconds=60, sleep=lambda _: None)
        assert raised.value.permanent and len(server.requests) == 1
