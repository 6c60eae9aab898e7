"""Group documents: small JSON records changed by read-modify-write, one writer at a time.

The state room does not know what a group is (``handlers.notify`` does); it keeps a document
per key and applies a change function atomically: in memory under the store's lock, in Table
Storage by a replace conditional on the row's ETag, retried when another instance changed the
row first (optimistic concurrency: nobody waits on anybody's delivery).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, Protocol

Document = dict[str, Any]
Change = Callable[[Document | None], Document | None]  # None: delete (or stay absent)


class GroupStore(Protocol):
    def change(self, key: str, change: Change) -> Document | None:
        """Apply ``change`` to the document at ``key`` atomically; returns the new document."""
        ...

    def documents(self) -> list[Document]:
        """Every document, in no particular order."""
        ...


class MemoryGroupStore:
    def __init__(self) -> None:
        self._documents: dict[str, str] = {}
        self._lock = threading.Lock()

    def change(self, key: str, change: Change) -> Document | None:
        with self._lock:
            current = self._documents.get(key)
            changed = change(json.loads(current) if current is not None else None)
            if changed is None:
                self._documents.pop(key, None)
            else:
                self._documents[key] = json.dumps(changed)
            return changed

    def documents(self) -> list[Document]:
        with self._lock:
            return [json.loads(text) for text in self._documents.values()]
