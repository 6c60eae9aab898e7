"""Silences: label matchers with an expiry, an author and a comment ("known carrier incident,
quiet for two hours"). A group whose labels match an active silence is still counted, but not
notified; when the silence ends, its next notification carries everything that came meanwhile
and says it was silenced.

Matchers are :class:`~handlers.alerting.matchers.Matcher` (``=``, ``!=``, ``=~``, ``!~``),
stored as a list of ``{name, op, value}``; a silence stored before operators existed (an object
of label → value) reads as equality matchers, and one stored without an author as ``unknown``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from handlers.alerting.labels import LABEL_NAMES
from handlers.alerting.matchers import Matcher, matchers_from_json
from handlers.errors import InvalidSilence, UnknownSilence
from handlers.masking import mask_personal_in
from handlers.notify.notification import iso_time
from handlers.state.groups import Document, GroupStore

# A group's labels, and a rate alarm's name (its other label, ``channel``, is a group's too).
KNOWN_LABELS = (*LABEL_NAMES, "alarm")
MAX_SILENCE = timedelta(days=30)
MAX_COMMENT_CHARS = 500
MAX_AUTHOR_CHARS = 100
UNKNOWN_AUTHOR = "unknown"


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    comment: str
    created_by: str = UNKNOWN_AUTHOR

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(matcher.matches(labels) for matcher in self.matchers)

    def to_document(self) -> Document:
        return {
            "id": self.id,
            "matchers": [matcher.model_dump() for matcher in self.matchers],
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "comment": self.comment,
            "created_by": self.created_by,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            **self.to_document(),
            "starts_at": iso_time(self.starts_at),
            "ends_at": iso_time(self.ends_at),
        }


@dataclass
class Silences:
    store: GroupStore
    clock: Callable[[], float] = time.time

    def add(
        self, matchers: Sequence[Matcher], duration: timedelta, comment: str, created_by: str
    ) -> Silence:
        # Shown on the status page and in every listing: no phone number, no e-mail address.
        comment = mask_personal_in(comment.strip())
        created_by = mask_personal_in(created_by.strip())
        _check(matchers, duration, comment, created_by)
        now = self.clock()
        silence = Silence(
            id=str(uuid.uuid4()),
            matchers=tuple(matchers),
            starts_at=now,
            ends_at=now + duration.total_seconds(),
            comment=comment,
            created_by=created_by,
        )
        self.store.change(silence.id, lambda _: silence.to_document())
        return silence

    def all(self, *, include_expired: bool = False) -> list[Silence]:
        now = self.clock()
        found = [_silence(doc) for doc in self.store.documents()]
        return sorted(
            (s for s in found if include_expired or now < s.ends_at), key=lambda s: s.starts_at
        )

    def active(self) -> list[Silence]:
        now = self.clock()
        return [s for s in self.all() if s.active(now)]

    def expire(self, silence_id: str) -> Silence:
        """End a silence now (it stays listed as expired until it is older than a day)."""
        now = self.clock()

        def end(doc: Document | None) -> Document | None:
            if doc is None:
                return None
            doc["ends_at"] = min(doc["ends_at"], now)
            return doc

        changed = self.store.change(silence_id, end)
        if changed is None:
            raise UnknownSilence(f"no silence {silence_id}")
        return _silence(changed)


def parse_duration(text: str) -> timedelta:
    """``90m``, ``2h``, ``1d`` or seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    try:
        return timedelta(seconds=float(number) * units[unit])
    except ValueError:
        raise InvalidSilence(f"{text!r} is not a duration (90m, 2h, 1d)") from None


def _check(
    matchers: Sequence[Matcher], duration: timedelta, comment: str, created_by: str
) -> None:
    if not matchers:
        raise InvalidSilence("a silence needs at least one matcher (label=value)")
    unknown = sorted({m.name for m in matchers if m.name not in KNOWN_LABELS})
    if unknown:
        raise InvalidSilence(f"unknown labels {unknown}; use {', '.join(KNOWN_LABELS)}")
    if not timedelta(0) < duration <= MAX_SILENCE:
        raise InvalidSilence("a silence lasts more than nothing and at most 30 days")
    if not comment or len(comment) > MAX_COMMENT_CHARS:
        raise InvalidSilence(f"a silence needs a comment of at most {MAX_COMMENT_CHARS} chars")
    if not created_by or len(created_by) > MAX_AUTHOR_CHARS:
        raise InvalidSilence(f"a silence needs an author of at most {MAX_AUTHOR_CHARS} chars")


def _silence(doc: Document) -> Silence:
    return Silence(
        id=doc["id"],
        # A list of {name, op, value}; an object of label → value before operators existed.
        matchers=matchers_from_json(doc["matchers"]),
        starts_at=doc["starts_at"],
        ends_at=doc["ends_at"],
        comment=doc["comment"],
        created_by=doc.get("created_by") or UNKNOWN_AUTHOR,
    )


@dataclass
class Muting:
    """Which active silence mutes a set of labels. The silences are read at the first question
    and only then: most flusher passes have nothing due, and ask none."""

    silences: Silences | None
    _active: list[Silence] | None = None

    def silence_for(self, labels: Mapping[str, str]) -> Silence | None:
        if self.silences is None:
            return None
        if self._active is None:
            self._active = self.silences.active()
        return next((s for s in self._active if s.matches(labels)), None)
