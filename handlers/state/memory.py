"""The in-memory dedupe store: per process, bounded, the local default."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import timedelta


class MemoryDedupeStore:
    """Per-process store: bounded, thread-safe, O(1) per key.

    Entries live in an insertion-ordered map. The window is fixed and the clock monotonic, so the
    order of insertion (a key remembered again moves to the end) is also the order of expiry:
    expired entries are always at the front, and so are the oldest ones evicted past
    ``max_entries``.
    """

    def __init__(
        self,
        window: timedelta,
        *,
        max_entries: int = 1_000_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window <= timedelta(0):
            raise ValueError("the dedupe window must be positive")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._window = window.total_seconds()
        self._max_entries = max_entries
        self._clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, keys: Sequence[str]) -> set[str]:
        now = self._clock()
        with self._lock:
            return {key for key in keys if self._expiry.get(key, now) > now}

    def remember(self, keys: Sequence[str]) -> None:
        now = self._clock()
        expires = now + self._window
        with self._lock:
            for key in keys:
                self._expiry[key] = expires
                self._expiry.move_to_end(key)
            self._evict(now)

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry)

    def _evict(self, now: float) -> None:
        entries = self._expiry
        while entries and next(iter(entries.values())) <= now:
            entries.popitem(last=False)
        while len(entries) > self._max_entries:
            entries.popitem(last=False)


