"""The dedupe store's protocol: which keys were handled within a window (Event Grid is
at-least-once).

Keys are opaque strings here; the pipeline writes ``event:<hash>`` for handled events and
``sent:<alert id>:<sink>`` for an alert that reached one sink. A store that cannot answer raises
:class:`~handlers.errors.StateUnavailable` (the caller is asked to deliver again later): without
the store an alert could go out twice.

Two stores: :class:`handlers.state.memory.MemoryDedupeStore` (per process, the local default) and
:class:`handlers.state.table.TableDedupeStore` (Azure Table Storage, shared by every instance).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class DedupeStore(Protocol):
    def seen(self, keys: Sequence[str]) -> set[str]:
        """The keys among ``keys`` that were remembered within the window."""
        ...

    def remember(self, keys: Sequence[str]) -> None:
        """Remember ``keys`` for the window, from now (remembering again extends it)."""
        ...
