"""The unreadable events of one delivery raise one ``invalid-event`` alert, not one each.

A body of thousands of tiny typed objects used to produce an alert per object (48,309 alerts,
a 21 MB alert file). Now a delivery is at most 5,000 events (more is a 413), and however many
of them cannot be read, they raise one alert that counts them and lists their ids, bounded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from handlers.alerting.alert import MAX_LISTED_INVALID_EVENTS
from handlers.inbound.envelope import MAX_EVENTS_PER_DELIVERY, parse_events
from tests.conftest import LocalHost, RuntimeFactory, read_alerts
from tests.events import sms_report

SMS = "Microsoft.Communication.SMSDeliveryReportReceived"


def unreadable(n: int) -> dict[str, Any]:
    return {"id": f"bad-{n}", "eventType": SMS, "data": "oops"}


def test_a_full_delivery_of_unreadable_events_raises_one_alert(
    make_runtime: RuntimeFactory, local_host: LocalHost, alert_file: Path
) -> None:
    make_runtime()
    body = [unreadable(n) for n in range(MAX_EVENTS_PER_DELIVERY)]
    answer = local_host.post("eventgrid", body)
    assert answer.status_code == 200
    summary = answer.json()
    assert summary["outcomes"] == {"invalid": MAX_EVENTS_PER_DELIVERY}
    assert summary["alerts"] == 1
    [alert] = read_alerts(alert_file)
    invalid = alert["data"]["invalid"]
    assert alert["data"]["kind"] == "invalid-event"
    assert invalid["count"] == MAX_EVENTS_PER_DELIVERY
    assert [e["id"] for e in invalid["events"]] == [
        f"bad-{n}" for n in range(MAX_LISTED_INVALID_EVENTS)
    ]
    assert invalid["omitted"] == MAX_EVENTS_PER_DELIVERY - MAX_LISTED_INVALID_EVENTS
    assert alert_file.stat().st_size < 20_000
    assert {e["alert_id"] for e in summary["events"]} == {alert["id"]}


def test_one_more_than_a_delivery_holds_is_refused_whole(
    make_runtime: RuntimeFactory, local_host: LocalHost, alert_file: Path
) -> None:
    make_runtime()
    answer = local_host.post(
        "eventgrid", [unreadable(n) for n in range(MAX_EVENTS_PER_DELIVERY + 1)]
    )
    assert answer.status_code == 413 and str(MAX_EVENTS_PER_DELIVERY) in answer.json()["detail"]
    assert read_alerts(alert_file) == []


def test_readable_failures_keep_their_own_alerts_beside_the_one_for_the_unreadable(
    make_runtime: RuntimeFactory, local_host: LocalHost, alert_file: Path
) -> None:
    make_runtime()
    body = [unreadable(1), sms_report("s1", status="Failed", details="5000: x"), unreadable(2)]
    assert local_host.post("eventgrid", body).json()["alerts"] == 2
    alerts = {a["data"]["kind"]: a for a in read_alerts(alert_file)}
    assert alerts["error"]["data"]["event"]["id"] == "s1"
    invalid = alerts["invalid-event"]["data"]["invalid"]
    assert invalid["count"] == 2 and [e["index"] for e in invalid["events"]] == [0, 2]
    assert invalid["omitted"] == 0


def test_a_lone_unreadable_event_keeps_its_own_alert(
    make_runtime: RuntimeFactory, local_host: LocalHost, alert_file: Path
) -> None:
    make_runtime()
    local_host.post("eventgrid", [unreadable(1)])
    [alert] = read_alerts(alert_file)
    assert "invalid" not in alert["data"]
    assert alert["data"]["reason"] == "data is a str, expected an object"


def test_the_same_delivery_handled_afresh_raises_the_same_alert_id(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    """An attempt that died after recording (its claim lapsed) is handled again by another
    instance: the outbox gets the same id, and each destination sends an id once."""
    body = parse_events([unreadable(n) for n in range(50)])
    ids = []
    for _ in range(2):  # two instances, each with its own state: neither saw it before
        runtime = make_runtime()
        ids.append(runtime.pipeline.run(body, way_in="test").alerts[0].id)
    assert ids[0] == ids[1]
    # Both instances sent it to the one file, which never appends an id it already holds.
    assert [a["id"] for a in read_alerts(alert_file)] == ids[:1]
