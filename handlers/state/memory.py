"""The in-memory dedupe store: per process, bounded, the local default."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import timedelta

from handlers.state.store import Claim, new_claim_token


class MemoryDedupeStore:
    """Per-process store: bounded, thread-safe, O(1) per key.

    Handled keys live in an insertion-ordered map. The window is fixed and the clock monotonic,
    so the order of insertion (a key remembered again moves to the end) is also the order of
    expiry: expired entries are always at the front, and so are the oldest ones evicted past
    ``max_entries``.

    Claims live apart, key → (lease end, holder), because leases differ from the window. A
    claim is an insert-if-absent under the store's one mutex: within a process that is as
    atomic as the table's conditional insert is across processes, and no caller ever waits on
    another caller's delivery, only on a few dictionary operations.
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
        self._claims: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def claim(self, keys: Sequence[str], lease: timedelta) -> Claim:
        token = new_claim_token()
        now = self._clock()
        lease_ends = now + lease.total_seconds()
        won, done, held = set(), set(), set()
        with self._lock:
            for key in dict.fromkeys(keys):
                if self._expiry.get(key, now) > now:
                    done.add(key)
                elif self._claims.get(key, (now, ""))[0] > now:
                    held.add(key)
                else:
                    self._claims[key] = (lease_ends, token)
                    won.add(key)
            if len(self._claims) > self._max_entries:
                self._drop_lapsed_claims(now)
        return Claim(token, frozenset(won), frozenset(done), frozenset(held))

    def complete(self, claim: Claim) -> None:
        with self._lock:
            self._drop_claims(claim)
        self.remember(sorted(claim.won))

    def release(self, claim: Claim) -> None:
        with self._lock:
            self._drop_claims(claim)

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

    def _drop_claims(self, claim: Claim) -> None:
        """Drop the claim's keys that it still holds (a lapsed one may have been taken over)."""
        for key in claim.won:
            if self._claims.get(key, (0.0, ""))[1] == claim.token:
                del self._claims[key]

    def _drop_lapsed_claims(self, now: float) -> None:
        for key in [key for key, (ends, _) in self._claims.items() if ends <= now]:
            del self._claims[key]

    def _evict(self, now: float) -> None:
        entries = self._expiry
        while entries and next(iter(entries.values())) <= now:
            entries.popitem(last=False)
        while len(entries) > self._max_entries:
            entries.popitem(last=False)
