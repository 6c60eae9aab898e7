"""A carrier outage as the notification model reports it: real
:class:`~handlers.notify.notification.Notification` objects (the notifier's and the alarms'
shape) for two groups and one rate alarm, each firing then resolved, read into views by the
one adapter (:func:`handlers.board.notification_view`).

The groups' meaning and advice come from the real catalog; the SMS group's meaning carries a
raw phone number and an e-mail address, as an event's own words may, so the tests can prove
none reaches a receiver.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from catalog import get_catalog
from catalog.models import Domain
from handlers.board import notification_view
from handlers.notify.notification import (
    AlarmInfo,
    Example,
    Notification,
    NotificationData,
    RatioPoint,
)
from handlers.oncall.views import NotificationView

STORM_START = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
RAW_NUMBERS = ("+15555550123", "+14255550199", "+447700900123")
RAW_EMAIL = "jane.doe@contoso.com"

CALL_LABELS = {
    "channel": "call",
    "event_type": "Microsoft.Communication.CallDisconnected",
    "kind": "error",
    "code": "503",
    "subcode": "560503",
    "category": "UnexpectedServerError",
    "origin": "sbc",
}
SMS_LABELS = {
    "channel": "sms",
    "event_type": "Microsoft.Communication.SMSDeliveryReportReceived",
    "kind": "error",
    "code": "5000",
    "category": "UnexpectedServerError",
}


def notification(key: str, sequence: int, at: datetime, **data: Any) -> Notification:
    """A notification as the notifier writes it: its id stable per key and sequence."""
    return Notification(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{key}:{sequence}")),
        source="/acs-triage",
        subject=f"group/{key}",
        time=at.isoformat(),
        data=NotificationData(group=key, sequence=sequence, **data),
    )


def _examples(event_type: str, count: int, start: datetime) -> list[Example]:
    return [
        Example(alert=f"alert-{index:05d}", event=f"evt-{index:05d}", type=event_type,
                time=(start + timedelta(seconds=7 * index)).isoformat(), code=None, subcode=None)
        for index in range(count)
    ]


def group_notifications(
    fingerprint: str,
    labels: dict[str, str],
    domain: Domain,
    code: int,
    subcode: int | None,
    *,
    total: int,
    minutes: int,
    start: datetime = STORM_START,
    said: str = "",
) -> list[Notification]:
    """The group's firing notification (after GROUP_WAIT) and its resolved one."""
    match = get_catalog().lookup(domain, code, subcode)
    last_seen = start + timedelta(minutes=minutes)
    early = min(total, 400)
    common: dict[str, Any] = {
        "about": "group",
        "severity": "critical",
        "labels": labels,
        "first_seen": start.isoformat(),
        "meaning": (match.message or "") + said,
        "advice": match.advice,
        "examples": _examples(labels["event_type"], 5, start),
    }
    firing = notification(
        fingerprint, 1, start + timedelta(seconds=30), **common, status="firing", reason="new",
        total=early, since_last=early, last_seen=(start + timedelta(seconds=29)).isoformat(),
        summary=f"firing: {early} alert(s)",
    )
    resolved = notification(
        fingerprint, 2, last_seen + timedelta(minutes=15), **common, status="resolved",
        reason="resolved", total=total, since_last=total - early, last_seen=last_seen.isoformat(),
        summary=f"resolved: {total} alert(s)",
    )
    return [firing, resolved]


def ratio_history(peak: float, start: datetime) -> list[RatioPoint]:
    """A minute-by-minute failure ratio over the last hour: quiet, a climb, a plateau."""
    points = []
    for minute in range(60):
        ratio = 0.01 if minute < 40 else min(peak, 0.01 + (minute - 40) * 0.06)
        at = start - timedelta(minutes=50) + timedelta(minutes=minute)
        points.append(RatioPoint(at=at.isoformat(), ratio=round(ratio, 4)))
    return points


def alarm_info(start: datetime = STORM_START, **changes: Any) -> AlarmInfo:
    fields: dict[str, Any] = {
        "name": "sms-failure-rate", "channel": "sms", "level": "critical", "failed": 412,
        "total": 1030, "window_seconds": 300, "warning_ratio": 0.2, "critical_ratio": 0.35,
        "min_volume": 30, "since": (start + timedelta(minutes=2)).isoformat(),
        "history": ratio_history(0.4, start),
    }
    return AlarmInfo(**{**fields, **changes})


def alarm_notifications(
    start: datetime = STORM_START, fingerprint: str = "alarm-sms-failure-rate"
) -> list[Notification]:
    firing = notification(
        fingerprint, 1, start + timedelta(minutes=2), about="alarm", status="firing",
        severity="critical", alarm=alarm_info(start), summary="sms failure rate 40%",
    )
    resolved = notification(
        fingerprint, 2, start + timedelta(minutes=40), about="alarm", status="resolved",
        severity="critical", alarm=alarm_info(start, level=None, failed=9, total=980),
        summary="sms failure rate back to 1%",
    )
    return [firing, resolved]


def storm_models(start: datetime = STORM_START) -> list[Notification]:
    """Every notification of the storm, in the order the flusher would send them."""
    call = group_notifications(
        "grp-call-503-560503", CALL_LABELS, Domain.CALL_AUTOMATION, 503, 560503,
        total=10_000, minutes=10, start=start,
    )
    sms = group_notifications(
        "grp-sms-5000", SMS_LABELS, Domain.SMS_DELIVERY, 5000, None,
        total=200, minutes=8, start=start,
        said=f" (last report: to {RAW_NUMBERS[0]}, reply to {RAW_EMAIL})",
    )
    alarm = alarm_notifications(start)
    firing = [call[0], sms[0], alarm[0]]
    resolved = [alarm[1], sms[1], call[1]]
    return firing + resolved


def storm_notifications(start: datetime = STORM_START) -> list[NotificationView]:
    return [notification_view(model) for model in storm_models(start)]
