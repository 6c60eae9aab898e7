"""An in-memory notification state for the status page's tests: the storm's notifications as
the flusher would have recorded them, and silences that really mute the groups they match.

It stands in for the notifications issue's state store until that lands; it implements the
page's :class:`~handlers.oncall.status.StatusSource` and nothing more.
"""

from __future__ import annotations

import itertools
import threading
from datetime import datetime

from handlers.alerting.matchers import Matcher
from handlers.errors import InvalidSilence
from handlers.oncall.views import (
    AlarmView,
    DeliveryView,
    GroupView,
    NotificationView,
    SilenceView,
    StatusView,
)

RECEIVERS = ("pagerduty", "teams", "slack", "alertmanager")


class StormBoard:
    def __init__(self, notifications: list[NotificationView]) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._silences: list[SilenceView] = []
        self._latest: dict[str, GroupView | AlarmView] = {}
        self._notifications: list[NotificationView] = []
        for notification in notifications:
            self.record(notification)

    def record(self, notification: NotificationView) -> None:
        """What the flusher leaves behind: the newest view of each group, and where it went."""
        sent = tuple(
            DeliveryView(destination=name, at=notification.created_at, outcome="sent")
            for name in RECEIVERS
        )
        with self._lock:
            self._latest[notification.fingerprint] = notification.about
            self._notifications.append(notification.model_copy(update={"deliveries": sent}))

    def muted_by(self, labels: dict[str, str], now: datetime) -> str | None:
        with self._lock:
            return next((s.id for s in self._silences if s.mutes(labels, now)), None)

    def snapshot(self, now: datetime) -> StatusView:
        with self._lock:
            latest = list(self._latest.values())
            silences = tuple(self._silences)
            notifications = tuple(reversed(self._notifications[-20:]))
        groups = tuple(
            about.model_copy(update={"silenced_by": self.muted_by(about.labels, now)})
            for about in latest
            if isinstance(about, GroupView)
        )
        alarms = tuple(about for about in latest if isinstance(about, AlarmView))
        return StatusView(
            now=now, groups=groups, alarms=alarms, silences=silences, notifications=notifications
        )

    def add_silence(
        self, matchers: tuple[Matcher, ...], *, created_by: str, comment: str,
        starts_at: datetime, ends_at: datetime,
    ) -> SilenceView:
        with self._lock:
            silence = SilenceView(
                id=f"sil-{next(self._ids)}", matchers=matchers, created_by=created_by,
                comment=comment, starts_at=starts_at, ends_at=ends_at,
            )
            self._silences.append(silence)
        return silence

    def expire_silence(self, silence_id: str, now: datetime) -> None:
        with self._lock:
            for index, silence in enumerate(self._silences):
                if silence.id == silence_id:
                    self._silences[index] = silence.model_copy(update={"ends_at": now})
                    return
        raise InvalidSilence(f"No silence {silence_id!r}.")
