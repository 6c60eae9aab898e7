"""A carrier outage as the notification model reports it: notification CloudEvents
(``acs-triage.notification.v1``, data as the notifier writes it) for two groups and one rate
alarm, each firing then resolved.

The groups' meaning and advice come from the real catalog; the examples' subjects carry raw
phone numbers, as a careless producer might, so the tests can prove none reaches a receiver.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from catalog import get_catalog
from catalog.models import Domain
from handlers.oncall.adapter import NOTIFICATION_TYPE, notification_from_cloudevent
from handlers.oncall.views import NotificationView

STORM_START = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
RAW_NUMBERS = ("+15555550123", "+14255550199", "+447700900123")

CALL_LABELS = {
    "channel": "call",
    "event_type": "Microsoft.Communication.CallDisconnected",
    "kind": "error",
    "code": "503",
    "subcode": "560503",
    "category": "UnexpectedServerError",
    "origin": "customer-sbc",
}
SMS_LABELS = {
    "channel": "sms",
    "event_type": "Microsoft.Communication.SMSDeliveryReportReceived",
    "kind": "error",
    "code": "5000",
    "category": "UnexpectedServerError",
    "country": "US",
}


def _event(fingerprint: str, sequence: int, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "type": NOTIFICATION_TYPE,
        "source": "/acs-triage",
        "id": f"{fingerprint}-{sequence}",
        "time": at.isoformat(),
        "datacontenttype": "application/json",
        "data": {"group": fingerprint, "sequence": sequence, **data},
    }


def _examples(event_type: str, count: int, start: datetime) -> list[dict[str, Any]]:
    return [
        {
            "event": f"evt-{index:05d}",
            "time": (start + timedelta(seconds=7 * index)).isoformat(),
            "type": event_type,
            "subject": f"/phonenumber/{RAW_NUMBERS[index % len(RAW_NUMBERS)]}",
        }
        for index in range(count)
    ]


def group_events(
    fingerprint: str,
    labels: dict[str, str],
    domain: Domain,
    code: int,
    subcode: int | None,
    *,
    total: int,
    recipients: int,
    minutes: int,
    start: datetime = STORM_START,
) -> list[dict[str, Any]]:
    """The group's firing notification (after GROUP_WAIT) and its resolved one."""
    match = get_catalog().lookup(domain, code, subcode)
    last_seen = start + timedelta(minutes=minutes)
    common = {
        "about": "group",
        "severity": "critical",
        "labels": labels,
        "firstSeen": start.isoformat(),
        "meaning": match.message,
        "advice": match.advice,
        "examples": _examples(labels["event_type"], 5, start),
    }
    early = min(total, 400)
    firing = _event(
        fingerprint,
        1,
        start + timedelta(seconds=30),
        {
            **common,
            "status": "firing",
            "total": early,
            "sinceLast": early,
            "recipients": min(recipients, 380),
            "lastSeen": (start + timedelta(seconds=29)).isoformat(),
        },
    )
    resolved = _event(
        fingerprint,
        2,
        last_seen + timedelta(minutes=15),
        {
            **common,
            "status": "resolved",
            "total": total,
            "sinceLast": total - early,
            "recipients": recipients,
            "lastSeen": last_seen.isoformat(),
            "resolvedAt": (last_seen + timedelta(minutes=15)).isoformat(),
        },
    )
    return [firing, resolved]


def ratio_history(peak: float, start: datetime) -> list[dict[str, Any]]:
    """A minute-by-minute failure ratio over the last hour: quiet, a climb, a plateau."""
    points = []
    for minute in range(60):
        ratio = 0.01 if minute < 40 else min(peak, 0.01 + (minute - 40) * 0.06)
        at = start - timedelta(minutes=50) + timedelta(minutes=minute)
        points.append({"at": at.isoformat(), "ratio": round(ratio, 4)})
    return points


def alarm_events(
    start: datetime = STORM_START, fingerprint: str = "alarm-sms-failure-rate"
) -> list[dict[str, Any]]:
    alarm = {
        "name": "sms-failure-rate",
        "channel": "sms",
        "level": "critical",
        "failed": 412,
        "total": 1030,
        "windowSeconds": 300,
        "warningRatio": 0.2,
        "criticalRatio": 0.35,
        "minVolume": 30,
        "since": (start + timedelta(minutes=2)).isoformat(),
        "history": ratio_history(0.4, start),
    }
    firing = _event(
        fingerprint,
        1,
        start + timedelta(minutes=2),
        {"about": "alarm", "status": "firing", "severity": "critical", "alarm": alarm},
    )
    resolved = _event(
        fingerprint,
        2,
        start + timedelta(minutes=40),
        {
            "about": "alarm",
            "status": "resolved",
            "severity": "critical",
            "resolvedAt": (start + timedelta(minutes=40)).isoformat(),
            "alarm": {**alarm, "level": None, "failed": 9, "total": 980},
        },
    )
    return [firing, resolved]


def storm_cloudevents(start: datetime = STORM_START) -> list[dict[str, Any]]:
    """Every notification of the storm, in the order the flusher would send them."""
    call = group_events(
        "grp-call-503-560503", CALL_LABELS, Domain.CALL_AUTOMATION, 503, 560503,
        total=10_000, recipients=3_120, minutes=10, start=start,
    )
    sms = group_events(
        "grp-sms-5000", SMS_LABELS, Domain.SMS_DELIVERY, 5000, None,
        total=200, recipients=187, minutes=8, start=start,
    )
    alarm = alarm_events(start)
    firing = [call[0], sms[0], alarm[0]]
    resolved = [alarm[1], sms[1], call[1]]
    return firing + resolved


def storm_notifications(start: datetime = STORM_START) -> list[NotificationView]:
    return [notification_from_cloudevent(event) for event in storm_cloudevents(start)]
