"""The notification state as on-call people see it: the one adapter from the notification model
(:mod:`handlers.notify`) to the on-call views (:mod:`handlers.oncall.views`), the receivers as
destinations of the flusher, and the status page's source.

It stands between the two rooms because neither may import the other: ``oncall`` renders views
and knows no notification, ``notify`` makes notifications and knows no receiver. The typed
:class:`~handlers.notify.notification.Notification` is read here, and only here, into a
:class:`~handlers.oncall.views.NotificationView`: a group, a rate alarm or a failing destination.
Free text is masked again on the way in (the walk alerts leave through), so a view never
carries a phone number or an e-mail address, whatever a producer did.

May import ``handlers.notify``, ``handlers.oncall``, ``handlers.alerting`` and the shared
modules; only the composition root (``handlers.runtime``) and ``handlers.http`` import it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from handlers.alerting.cloudevent import CloudEvent
from handlers.alerting.matchers import Matcher
from handlers.errors import InvalidSilence, UnknownSilence
from handlers.logs import log_event
from handlers.masking import mask_leaving
from handlers.notify.alarms import RateAlarms
from handlers.notify.history import NotificationHistory, Sent
from handlers.notify.notification import AlarmInfo, Notification, NotificationData, Status
from handlers.notify.notifier import GroupState, Notifier
from handlers.notify.silences import Silence, Silences
from handlers.oncall.receivers import Receiver
from handlers.oncall.views import (
    MAX_EXAMPLES,
    AlarmView,
    DeliveryView,
    DestinationView,
    Example,
    GroupView,
    NotificationView,
    RatioPoint,
    Severity,
    SilenceView,
    StatusView,
)

# Kept verbatim by the masking walk: ids (correlation keys, as in alerts) and the timestamps
# the app wrote itself; every other text of a notification is masked on the way in.
VERBATIM = frozenset(
    {"group", "alert", "event", "destination", "time", "firstSeen", "lastSeen", "failingSince",
     "since", "at"}
)

# --- the one adapter ----------------------------------------------------------------------------


def notification_view(
    notification: Notification, deliveries: Sequence[DeliveryView] = ()
) -> NotificationView:
    """The on-call view of a notification about a group, an alarm or a destination.

    Raises ValueError (pydantic's ValidationError is one) when the notification lacks what its
    kind needs: a group without its fingerprint or first and last seen, an alarm without its
    alarm, a destination without its name, a notification without its time."""
    if notification.time is None:
        raise ValueError("a notification needs its time")
    data = _masked(notification.data)
    resolved_at = _time(notification.time) if data.status == "resolved" else None
    about: GroupView | AlarmView | DestinationView
    if data.about == "group":
        about = group_view(data, resolved_at)
    elif data.about == "alarm":
        about = alarm_view(data, resolved_at)
    else:
        about = destination_view(data, resolved_at)
    return NotificationView(
        id=notification.id,
        # A destination's notifications have no sequence of their own: firing, then resolved.
        sequence=data.sequence or (1 if data.status == "firing" else 2),
        created_at=_time(notification.time),
        about=about,
        deliveries=tuple(deliveries),
    )


def _masked(data: NotificationData) -> NotificationData:
    return NotificationData.model_validate(mask_leaving(data.model_dump(), VERBATIM))


def group_view(
    data: NotificationData, resolved_at: datetime | None, silenced_by: str | None = None
) -> GroupView:
    if data.group is None or data.first_seen is None or data.last_seen is None:
        raise ValueError("a group notification needs its group, first and last seen")
    return GroupView(
        fingerprint=data.group,
        labels=data.labels or {},
        status=data.status,
        severity=Severity(data.severity or "info"),
        alerts_total=data.total or 0,
        alerts_new=data.since_last or 0,
        recipients=data.recipients,
        recipients_capped=bool(data.recipients_capped),
        first_seen=_time(data.first_seen),
        last_seen=_time(data.last_seen),
        resolved_at=resolved_at,
        examples=tuple(
            Example(event_id=e.event or e.alert, time=_aware(e.time), event_type=e.type)
            for e in (data.examples or [])[:MAX_EXAMPLES]
        ),
        meaning=data.meaning,
        advice=data.advice,
        silenced_by=silenced_by,
    )


def alarm_view(data: NotificationData, resolved_at: datetime | None) -> AlarmView:
    if data.alarm is None or data.group is None:
        raise ValueError("an alarm notification needs its alarm and fingerprint")
    return alarm_info_view(
        data.alarm, fingerprint=data.group, status=data.status,
        severity=data.severity or "info", resolved_at=resolved_at,
    )


def alarm_info_view(
    alarm: AlarmInfo, *, fingerprint: str, status: Status, severity: str,
    resolved_at: datetime | None,
) -> AlarmView:
    """An alarm as its notification or the alarms' own snapshot reports it: the AlarmInfo
    fields are the view's, one for one."""
    return AlarmView(
        fingerprint=fingerprint,
        name=alarm.name,
        channel=alarm.channel,
        status=status,
        level=alarm.level,
        severity=Severity(severity),
        failed=alarm.failed,
        total=alarm.total,
        window_seconds=alarm.window_seconds,
        warning_ratio=alarm.warning_ratio,
        critical_ratio=alarm.critical_ratio,
        min_volume=alarm.min_volume,
        since=_time(alarm.since),
        resolved_at=resolved_at,
        history=tuple(RatioPoint(at=_time(p.at), ratio=p.ratio) for p in alarm.history),
    )


def destination_view(data: NotificationData, resolved_at: datetime | None) -> DestinationView:
    if data.destination is None or data.failing_since is None:
        raise ValueError("a destination notification needs its destination and since when")
    return DestinationView(
        fingerprint=f"destination-{data.destination}",
        destination=data.destination,
        status=data.status,
        since=_time(data.failing_since),
        reason=data.reason,
        pending=data.pending,
        resolved_at=resolved_at,
    )


def _time(text: str) -> datetime:
    """An aware timestamp the notifier wrote (a naive one is refused: ValueError)."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return parsed


def _aware(text: str | None) -> datetime | None:
    """An example's time as the source event wrote it, when it is an aware timestamp."""
    try:
        parsed = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


# --- the receivers as destinations of the flusher ----------------------------------------------


class ReceiverSink:
    """An on-call receiver as one more destination of the flusher: it gets every notification
    (a group's, an alarm's, another destination's outage) as a view, once per id (the flusher's
    ``sent:`` records). Per-event alerts are not for people on call and are passed over, and so
    is an outage of this very receiver: it could not take the message, and the others have it."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.name = receiver.name
        self.timeout_seconds = float(getattr(receiver, "timeout_seconds", 0.0))

    def send(self, alerts: Sequence[CloudEvent[Any]]) -> None:
        for event in alerts:
            if not isinstance(event, Notification) or self._is_about_me(event):
                continue
            try:
                view = notification_view(event)
            except ValueError as error:
                # Sending it again cannot help: it is logged, and the outbox moves on.
                log_event("notification_unreadable", sink=self.name, id=event.id,
                          error=type(error).__name__)
                continue
            self.receiver.send(view)

    def _is_about_me(self, notification: Notification) -> bool:
        data = notification.data
        return data.about == "destination" and data.destination == self.name


# --- the status page's source ------------------------------------------------------------------


def no_alarms(_now: datetime) -> tuple[AlarmView, ...]:
    return ()


def alarm_views(alarms: RateAlarms) -> Callable[[datetime], list[AlarmView]]:
    """The rate alarms as the page shows them: each alarm that fires, or resolved within the
    hour, from the alarms' own snapshot (one that never fired, or long ago, is left out)."""

    def shown(now: datetime) -> list[AlarmView]:
        return [
            alarm_info_view(
                s.alarm, fingerprint=s.fingerprint, status=s.status, severity=s.severity,
                resolved_at=_time(s.resolved_at) if s.resolved_at else None,
            )
            for s in alarms.snapshot(now.timestamp())
            if s.status != "ok"
        ]

    return shown


@dataclass
class NotificationBoard:
    """The real :class:`~handlers.oncall.status.StatusSource`: the groups the notifier keeps,
    the active rate alarms, the silences, and the last notifications the flusher recorded."""

    notifier: Notifier
    silences: Silences
    history: NotificationHistory
    alarms: Callable[[datetime], Sequence[AlarmView]] = field(default=no_alarms)

    def snapshot(self, now: datetime) -> StatusView:
        silences = self.silences.all()
        active = [s for s in silences if s.active(now.timestamp())]
        return StatusView(
            now=now,
            groups=tuple(_muted_group(state, active) for state in self.notifier.current()),
            alarms=tuple(self.alarms(now)),
            silences=tuple(silence_view(s) for s in silences),
            notifications=tuple(_listed(self.history.last())),
        )

    def add_silence(
        self, matchers: tuple[Matcher, ...], *, created_by: str, comment: str,
        starts_at: datetime, ends_at: datetime,
    ) -> SilenceView:
        made = self.silences.add(list(matchers), ends_at - starts_at, comment, created_by)
        return silence_view(made)

    def expire_silence(self, silence_id: str, now: datetime) -> None:
        try:
            self.silences.expire(silence_id)
        except UnknownSilence:
            raise InvalidSilence(f"No silence {silence_id!r}: it may have ended already.") from None


def _muted_group(state: GroupState, active: Sequence[Silence]) -> GroupView:
    """The group, and the silence that mutes it now: the one that muted it last if it still
    runs, else the first active one that matches (a silence made a moment ago)."""
    labels = state.data.labels or {}
    muting = [s.id for s in active if s.matches(labels)]
    silenced_by = state.silenced_by if state.silenced_by in muting else next(iter(muting), None)
    return group_view(_masked(state.data), None, silenced_by)


def _listed(entries: Sequence[Sent]) -> list[NotificationView]:
    views = []
    for entry in entries:
        deliveries = [
            DeliveryView(destination=d.destination, at=_time(d.at), outcome=d.outcome)
            for d in entry.deliveries
        ]
        try:
            views.append(notification_view(entry.notification, deliveries))
        except ValueError:
            continue  # recorded by an older version of the model: not worth a broken page
    return views


def silence_view(silence: Silence) -> SilenceView:
    return SilenceView(
        id=silence.id,
        matchers=silence.matchers,
        created_by=silence.created_by,
        comment=silence.comment,
        starts_at=datetime.fromtimestamp(silence.starts_at, UTC),
        ends_at=datetime.fromtimestamp(silence.ends_at, UTC),
    )
