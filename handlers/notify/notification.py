"""The notification: a CloudEvent 1.0 of type ``acs-triage.notification.v1`` about a group of
alerts, or about a destination that keeps failing. ``docs/notifications.md`` describes it.

Typed like the alert (:class:`~handlers.alerting.alert.Alert`), so both go through the one
CloudEvent serialisation, and the outbox rebuilds either from its stored JSON by validation.
The JSON names are camelCase (``sinceLast``, ``firstSeen``), as every receiver already reads
them; a field that does not apply to the notification's ``about`` is left out, never null.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from handlers.alerting.alert import Alert
from handlers.alerting.cloudevent import CloudEvent

NOTIFICATION_TYPE = "acs-triage.notification.v1"
Status = Literal["firing", "resolved"]
Reason = Literal["new", "update", "repeat", "resolved"]


def _absent(value: object) -> bool:
    return value is None


class Example(BaseModel):
    """One alert of a group, by its ids and codes only (no text from the event)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    alert: str
    event: str | None
    type: str | None
    time: str | None
    code: int | None
    subcode: int | None


class _Camel(BaseModel):
    # defer_build: validators are built at the first notification, not at cold start.
    model_config = ConfigDict(
        frozen=True, alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True,
        defer_build=True,
    )


class RatioPoint(_Camel):
    """One point of an alarm's failure ratio (one per minute for the last hour)."""

    at: str
    ratio: float = Field(ge=0.0, le=1.0)


class AlarmInfo(_Camel):
    """A rate alarm as a notification reports it: failed / all results of a channel over a
    sliding window, its thresholds, and its ratio over the last hour."""

    name: str
    channel: str
    # None once resolved: the ratio is back under the thresholds.
    level: Literal["warning", "critical"] | None
    failed: int = Field(ge=0)
    total: int = Field(ge=0)
    window_seconds: int = Field(gt=0)
    warning_ratio: float = Field(ge=0.0, le=1.0)
    critical_ratio: float = Field(ge=0.0, le=1.0)
    min_volume: int = Field(ge=0)
    since: str
    history: list[RatioPoint] = []


class NotificationData(BaseModel):
    """What a notification says. ``about`` is ``group``, ``alarm`` or ``destination``; the group
    fields are set on the first (an alarm uses ``group`` for its fingerprint, ``sequence``,
    ``severity`` and ``alarm``), the destination fields on the last."""

    # defer_build: validators are built at the first notification, not at cold start.
    model_config = ConfigDict(
        frozen=True, alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True,
        defer_build=True,
    )

    status: Status
    about: Literal["group", "alarm", "destination"]
    summary: str
    # A group's: new, update, repeat or resolved; a destination's: why its last attempt failed.
    reason: str | None = Field(default=None, exclude_if=_absent)
    # about: group
    group: str | None = Field(default=None, exclude_if=_absent)
    sequence: int | None = Field(default=None, exclude_if=_absent)
    labels: dict[str, str] | None = Field(default=None, exclude_if=_absent)
    severity: str | None = Field(default=None, exclude_if=_absent)
    total: int | None = Field(default=None, exclude_if=_absent)
    since_last: int | None = Field(default=None, exclude_if=_absent)
    # How many distinct recipients the group's alerts went to (never who); "at least" when
    # capped (the group counts up to handlers.notify.notifier.MAX_RECIPIENTS exactly).
    recipients: int | None = Field(default=None, exclude_if=_absent)
    recipients_capped: bool | None = Field(default=None, exclude_if=_absent)
    first_seen: str | None = Field(default=None, exclude_if=_absent)
    last_seen: str | None = Field(default=None, exclude_if=_absent)
    examples: list[Example] | None = Field(default=None, exclude_if=_absent)
    # True when the group was silenced since its last notification: this one carries what came
    # meanwhile.
    after_silence: bool | None = Field(default=None, exclude_if=_absent)
    # The catalog's words for the group's code: may be absent when the catalog has none.
    meaning: str | None = None
    advice: str | None = None
    # about: alarm
    alarm: AlarmInfo | None = Field(default=None, exclude_if=_absent)
    # about: destination
    destination: str | None = Field(default=None, exclude_if=_absent)
    failing_since: str | None = Field(default=None, exclude_if=_absent)
    pending: int | None = Field(default=None, exclude_if=_absent)


class Notification(CloudEvent[NotificationData]):
    """One notification; its id is stable (group fingerprint, episode and sequence, or
    destination and the start of its outage), so recording it twice gives one id."""

    type: str = NOTIFICATION_TYPE


def iso_time(seconds: float) -> str:
    """A clock reading (seconds since the epoch) as the ISO 8601 UTC time notifications carry."""
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def outgoing_from_json(body: dict[str, Any]) -> CloudEvent[Any]:
    """An outbox entry back as the event it was: a notification or an alert, by its type."""
    if body.get("type") == NOTIFICATION_TYPE:
        return Notification.model_validate(body)
    return Alert.model_validate(body)
