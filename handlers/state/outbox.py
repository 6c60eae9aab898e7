"""The outbox: what is to be sent, recorded durably before a delivery is answered.

A delivery records its alerts (and, later, notifications) here and is answered at once; the
flusher sends them to the destinations afterwards, oldest first. An entry stays until every
destination has it; which destination already has which id is kept in the dedupe store's
``sent:`` records, so a flush that dies half-way resends only what was not accepted, under the
same ids.

Entries are ordered by ``seq`` (the time they were recorded, then their id). Recording the same
id twice (a redelivery after a crash between recording and completing the claim) may store it
twice; the flusher sends an id once and removes both.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    seq: str
    id: str
    body: str  # the CloudEvent, JSON


_last_ns = 0
_seq_lock = threading.Lock()


def sequence_for(event_id: str) -> str:
    """The order of an entry: nanoseconds since the epoch, zero-padded, then its id.

    Strictly increasing within a process, even inside one clock tick, so the order of the
    entries is the order they were put in; across instances it is the order of their clocks.
    """
    global _last_ns  # noqa: PLW0603 - one sequence per process
    with _seq_lock:
        _last_ns = max(time.time_ns(), _last_ns + 1)
        return f"{_last_ns:020d}-{event_id}"


class Outbox(Protocol):
    def put(self, entries: Sequence[tuple[str, str]]) -> None:
        """Record ``(id, body)`` entries durably, in this order, after everything recorded."""
        ...

    def pending(self, limit: int) -> list[OutboxEntry]:
        """The oldest ``limit`` entries still to be sent, oldest first."""
        ...

    def remove(self, entries: Sequence[OutboxEntry]) -> None:
        """Drop entries that every destination has."""
        ...

    def __len__(self) -> int: ...


class MemoryOutbox:
    """Per process, for the embedded default (lost with the process, like the memory store)."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, OutboxEntry] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, entries: Sequence[tuple[str, str]]) -> None:
        with self._lock:
            for event_id, body in entries:
                seq = sequence_for(event_id)
                self._entries[seq] = OutboxEntry(seq, event_id, body)

    def pending(self, limit: int) -> list[OutboxEntry]:
        with self._lock:
            return [entry for entry, _ in zip(self._entries.values(), range(limit), strict=False)]

    def remove(self, entries: Sequence[OutboxEntry]) -> None:
        with self._lock:
            for entry in entries:
                self._entries.pop(entry.seq, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
