"""The last notifications and where they went, for the status page.

The flusher records, once per pass, every notification it handed a destination and how that
ended (``sent`` or ``failed``), in one document beside the groups: one store change per pass,
not one per notification. A notification that failed at a destination and went out at a later
pass has its entry updated, not a second one. The newest :data:`MAX_KEPT` are kept.

What is kept of a notification is what the page shows of it: its id, status, labels, counts
and the first line of its meaning; its examples and advice stay in the outbox's copy, so fifty
entries stay a small document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from handlers.notify.notification import Notification, iso_time
from handlers.state.groups import Document, GroupStore

HISTORY_KEY = "last-notifications"
MAX_KEPT = 50
Outcome = Literal["sent", "failed"]


class Delivery(BaseModel):
    """How one destination took one notification, at its latest attempt."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    destination: str
    outcome: Outcome
    at: str


class Sent(BaseModel):
    """One notification as the page lists it, and where it went."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    notification: Notification
    deliveries: list[Delivery]


@dataclass(frozen=True)
class Attempt:
    """The flusher handed ``notification`` to ``destination``; ``sent`` says whether it took it."""

    notification: Notification
    destination: str
    sent: bool


def summary_of(notification: Notification) -> Notification:
    """The notification as the page lists it: examples and advice left to the outbox's copy,
    the meaning cut to its first line (what the page's title reads)."""
    data = notification.data
    first_line = next((line for line in (data.meaning or "").splitlines() if line.strip()), None)
    slim = data.model_copy(update={"examples": None, "advice": None, "meaning": first_line})
    return notification.model_copy(update={"data": slim})


@dataclass
class NotificationHistory:
    store: GroupStore

    def record(self, attempts: Sequence[Attempt], at: float) -> None:
        """One pass's attempts, in one change of the history document."""
        if not attempts:
            return
        when = iso_time(at)

        def append(doc: Document | None) -> Document:
            entries = [Sent.model_validate(e) for e in (doc or {}).get("entries", [])]
            for attempt in attempts:
                entries = _with(entries, attempt, when)
            kept = entries[-MAX_KEPT:]
            return {"entries": [e.model_dump(mode="json", by_alias=True) for e in kept]}

        self.store.change(HISTORY_KEY, append)

    def last(self) -> list[Sent]:
        """The kept entries, newest first."""
        found = [d for d in self.store.documents() if "entries" in d]
        entries = found[0]["entries"] if found else []
        return [Sent.model_validate(entry) for entry in reversed(entries)]


def _with(entries: list[Sent], attempt: Attempt, when: str) -> list[Sent]:
    """``entries`` with ``attempt`` recorded: on its notification's entry if kept, else new."""
    delivery = Delivery(
        destination=attempt.destination, outcome="sent" if attempt.sent else "failed", at=when
    )
    notification_id = attempt.notification.id
    for index in range(len(entries) - 1, -1, -1):
        entry = entries[index]
        if entry.notification.id == notification_id:
            others = [d for d in entry.deliveries if d.destination != attempt.destination]
            updated = entry.model_copy(update={"deliveries": [*others, delivery]})
            return [*entries[:index], updated, *entries[index + 1 :]]
    return [*entries, Sent(notification=summary_of(attempt.notification), deliveries=[delivery])]
