"""A receiver as an alert destination: what the outbox and its flusher serve.

The flusher hands each destination the records it has not taken yet, oldest first, and
records what it took; :class:`ReceiverSink` passes on the notifications among them
(``acs-triage.notification.v1``), read by the adapter, and leaves per-event alerts alone: a
pager is for groups, not for every failed call. A receiver that fails raises SinkError and the
same records come back on the next attempt, like for every other destination.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers.alerting.cloudevent import CloudEvent
from handlers.oncall.adapter import NOTIFICATION_TYPE, notification_from_cloudevent
from handlers.oncall.receivers import Receiver


class ReceiverSink:
    """An AlertSink that sends the notifications of a batch to one on-call receiver."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.name = receiver.name
        self.timeout_seconds = float(getattr(receiver, "timeout_seconds", 0.0))

    def send(self, alerts: Sequence[CloudEvent[Any]]) -> None:
        for record in alerts:
            if record.type == NOTIFICATION_TYPE:
                event = record.to_dict()
                self.receiver.send(notification_from_cloudevent(event))
