"""What every on-call receiver is: a named destination that takes one notification at a time.

A receiver sends one notification once and raises ``SinkError`` when the far side did not take
it (``permanent`` for an answer a retry cannot change, ``retry_after`` when the far side said
when to come back). It never retries by itself: the notification outbox does, with the same
notification, so PagerDuty sees the same ``dedup_key`` and nothing is sent twice once taken.
"""

from __future__ import annotations

from typing import Protocol

from handlers.oncall.views import NotificationView


class Receiver(Protocol):
    """A destination for notifications. ``name`` is stable: the outbox records sends by it."""

    name: str

    def send(self, notification: NotificationView) -> None:
        """Send one notification, once; raise SinkError when it was not taken."""
        ...
