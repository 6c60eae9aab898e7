"""The state store's protocol: which events are being handled or were handled within a window
(Event Grid is at-least-once, and may redeliver while a slow first attempt still runs).

An event is **claimed** atomically before anything is sent for it: only the caller that won the
claim sends. A claim is a lease: when its holder crashes, the claim expires and the event can be
claimed again. The holder either **completes** its claims (the events count as handled for the
dedupe window) or **releases** them (a failed attempt: the next delivery claims them afresh).

Keys are opaque strings here; the pipeline claims ``event:<hash>`` for events and remembers
``sent:<alert id>:<sink>`` for an alert that reached one sink. A store that cannot answer raises
:class:`~handlers.errors.StateUnavailable` (the caller is asked to deliver again later): without
the store an alert could go out twice.

Two stores: :class:`handlers.state.memory.MemoryDedupeStore` (per process, the local default) and
:class:`handlers.state.table.TableDedupeStore` (Azure Table Storage, shared by every instance).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol


def new_claim_token() -> str:
    """Who holds a claim: one token per claim call, never reused."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Claim:
    """The answer to one claim call: every key asked for is in exactly one of the three sets.

    ``won``: this caller holds them now and must complete or release them. ``done``: handled
    within the window (a duplicate). ``held``: another caller holds a live claim on them (a
    redelivery that overtook a slow first attempt): neither sent nor lost, to be retried later.
    ``handles`` is the store's own bookkeeping for the won keys (an ETag per row in a table).
    """

    token: str
    won: frozenset[str] = frozenset()
    done: frozenset[str] = frozenset()
    held: frozenset[str] = frozenset()
    handles: Mapping[str, str] = field(default_factory=dict)


class DedupeStore(Protocol):
    def claim(self, keys: Sequence[str], lease: timedelta) -> Claim:
        """Claim every key that is neither handled nor held by a live claim, atomically per key.

        A claim whose lease has ended (its holder crashed or hung) is taken over.
        """
        ...

    def complete(self, claim: Claim) -> None:
        """The claim's won keys were handled: remember them for the window, from now."""
        ...

    def release(self, claim: Claim) -> None:
        """Give up the claim's won keys (the attempt failed); a later claim may win them."""
        ...

    def seen(self, keys: Sequence[str]) -> set[str]:
        """The keys among ``keys`` that were remembered within the window."""
        ...

    def remember(self, keys: Sequence[str]) -> None:
        """Remember ``keys`` for the window, from now (remembering again extends it)."""
        ...
