"""The one place that reads the notification model into the on-call views.

A notification is a CloudEvent of type ``acs-triage.notification.v1``; its ``data`` says whether
it is about a group or a rate alarm, its status (firing, resolved), its sequence, the group's
labels, counts, first and last seen, examples and the catalog's words, or the alarm's ratio.
The shape read here is :class:`NotificationData`; everything else in this room works on the
views, so following a change of the model is a change of this module alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from handlers.masking import mask_phones_in
from handlers.oncall.views import (
    AlarmView,
    DeliveryView,
    Example,
    GroupView,
    NotificationView,
    RatioPoint,
    Severity,
)

NOTIFICATION_TYPE = "acs-triage.notification.v1"


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Counts(_Data):
    total: int = Field(ge=0)
    since_last: int = Field(ge=0)
    recipients: int = Field(default=0, ge=0)


class ExampleData(_Data):
    id: str
    time: AwareDatetime | None = None
    type: str | None = None
    subject: str | None = None


class AlarmData(_Data):
    name: str
    channel: str
    level: Literal["warning", "critical"] | None
    failed: int = Field(ge=0)
    total: int = Field(ge=0)
    window_seconds: int = Field(gt=0)
    warning_ratio: float
    critical_ratio: float
    min_volume: int = Field(ge=0)
    since: AwareDatetime
    history: list[RatioPoint] = []


class NotificationData(_Data):
    """``data`` of an ``acs-triage.notification.v1`` CloudEvent."""

    about: Literal["group", "alarm"]
    status: Literal["firing", "resolved"]
    sequence: int = Field(ge=1)
    fingerprint: str
    severity: Severity
    labels: dict[str, str] = {}
    counts: Counts | None = None
    first_seen: AwareDatetime | None = None
    last_seen: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    examples: list[ExampleData] = []
    meaning: str | None = None
    advice: str | None = None
    silenced_by: str | None = None
    alarm: AlarmData | None = None


def notification_from_cloudevent(
    event: Mapping[str, Any], deliveries: tuple[DeliveryView, ...] = ()
) -> NotificationView:
    """The view of one notification CloudEvent (raises pydantic's ValidationError if it is not
    one). Subjects are masked again on the way in: a view must never carry a phone number."""
    if event.get("type") != NOTIFICATION_TYPE:
        raise ValueError(f"not a {NOTIFICATION_TYPE} event")
    data = NotificationData.model_validate(event["data"])
    about = _group(data) if data.about == "group" else _alarm(data)
    return NotificationView(
        id=str(event["id"]),
        sequence=data.sequence,
        created_at=event["time"],
        about=about,
        deliveries=deliveries,
    )


def _group(data: NotificationData) -> GroupView:
    if data.counts is None or data.first_seen is None or data.last_seen is None:
        raise ValueError("a group notification needs its counts and first and last seen")
    return GroupView(
        fingerprint=data.fingerprint,
        labels=data.labels,
        status=data.status,
        severity=data.severity,
        alerts_total=data.counts.total,
        alerts_new=data.counts.since_last,
        recipients=data.counts.recipients,
        first_seen=data.first_seen,
        last_seen=data.last_seen,
        resolved_at=data.resolved_at,
        examples=tuple(
            Example(
                event_id=example.id,
                time=example.time,
                event_type=example.type,
                subject=mask_phones_in(example.subject) if example.subject else None,
            )
            for example in data.examples[:5]
        ),
        meaning=data.meaning,
        advice=data.advice,
        silenced_by=data.silenced_by,
    )


def _alarm(data: NotificationData) -> AlarmView:
    alarm = data.alarm
    if alarm is None:
        raise ValueError("an alarm notification needs its alarm")
    return AlarmView(
        fingerprint=data.fingerprint,
        name=alarm.name,
        channel=alarm.channel,
        status=data.status,
        level=alarm.level,
        severity=data.severity,
        failed=alarm.failed,
        total=alarm.total,
        window_seconds=alarm.window_seconds,
        warning_ratio=alarm.warning_ratio,
        critical_ratio=alarm.critical_ratio,
        min_volume=alarm.min_volume,
        since=alarm.since,
        resolved_at=data.resolved_at,
        history=tuple(alarm.history),
    )
