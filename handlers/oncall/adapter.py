"""The one place that reads the notification model into the on-call views.

A notification is a CloudEvent of type ``acs-triage.notification.v1`` (the notifier's record;
its ``id`` is stable per group and sequence). Its ``data`` is read here as the notifier writes
it: ``about`` (group or alarm), ``status`` (firing, resolved), ``sequence``, ``group`` (the
fingerprint), ``labels``, ``severity``, ``total``, ``sinceLast``, ``recipients`` (and
``recipientsCapped``), ``firstSeen``,
``lastSeen``, ``resolvedAt``, ``examples`` (``event`` id, ``type``, ``time``, ``subject``),
``meaning``, ``advice``, and for a rate alarm an ``alarm`` object. Everything else in this room
works on the views, so following a change of the model is a change of this module alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import AliasChoices, AwareDatetime, BaseModel, ConfigDict, Field

from handlers.masking import mask_personal_in
from handlers.oncall.views import (
    MAX_EXAMPLES,
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
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class ExampleData(_Data):
    event: str = Field(validation_alias=AliasChoices("event", "id"))
    time: AwareDatetime | None = None
    type: str | None = None
    subject: str | None = None


class AlarmData(_Data):
    name: str
    channel: str
    level: Literal["warning", "critical"] | None
    failed: int = Field(ge=0)
    total: int = Field(ge=0)
    window_seconds: int = Field(gt=0, alias="windowSeconds")
    warning_ratio: float = Field(alias="warningRatio")
    critical_ratio: float = Field(alias="criticalRatio")
    min_volume: int = Field(ge=0, alias="minVolume")
    since: AwareDatetime
    history: list[RatioPoint] = []


class NotificationData(_Data):
    """``data`` of an ``acs-triage.notification.v1`` CloudEvent."""

    about: Literal["group", "alarm"] = "group"
    status: Literal["firing", "resolved"]
    sequence: int = Field(ge=1)
    group: str = Field(min_length=1)
    severity: Severity
    labels: dict[str, str] = {}
    total: int = Field(default=0, ge=0)
    since_last: int = Field(default=0, ge=0, alias="sinceLast")
    recipients: int = Field(default=0, ge=0)
    recipients_capped: bool = Field(default=False, alias="recipientsCapped")
    first_seen: AwareDatetime | None = Field(default=None, alias="firstSeen")
    last_seen: AwareDatetime | None = Field(default=None, alias="lastSeen")
    resolved_at: AwareDatetime | None = Field(default=None, alias="resolvedAt")
    examples: list[ExampleData] = []
    meaning: str | None = None
    advice: str | None = None
    silenced_by: str | None = Field(default=None, alias="silencedBy")
    alarm: AlarmData | None = None


def notification_from_cloudevent(
    event: Mapping[str, Any], deliveries: tuple[DeliveryView, ...] = ()
) -> NotificationView:
    """The view of one notification CloudEvent (pydantic's ValidationError, a ValueError, if
    it is not one). Free text is masked again on the way in: a view never carries a phone
    number or an e-mail address, whatever the producer did."""
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


def _masked(text: str | None) -> str | None:
    return mask_personal_in(text) if text else text


def _group(data: NotificationData) -> GroupView:
    if data.first_seen is None or data.last_seen is None:
        raise ValueError("a group notification needs its first and last seen")
    return GroupView(
        fingerprint=data.group,
        labels=data.labels,
        status=data.status,
        severity=data.severity,
        alerts_total=data.total,
        alerts_new=data.since_last,
        recipients=data.recipients,
        recipients_capped=data.recipients_capped,
        first_seen=data.first_seen,
        last_seen=data.last_seen,
        resolved_at=data.resolved_at,
        examples=tuple(
            Example(
                event_id=example.event,
                time=example.time,
                event_type=example.type,
                subject=_masked(example.subject),
            )
            for example in data.examples[:MAX_EXAMPLES]
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
        fingerprint=data.group,
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
