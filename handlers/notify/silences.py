"""Silences: label matchers with an expiry and a comment ("known carrier incident, quiet for
two hours"). A group whose labels match an active silence is still counted, but not notified;
when the silence ends, its next notification carries everything that came meanwhile and says
it was silenced.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from handlers.alerting.labels import LABEL_NAMES
from handlers.errors import InvalidSilence, UnknownSilence
from handlers.state.groups import Document, GroupStore

# A group's labels, and a rate alarm's name (its other label, ``channel``, is a group's too).
KNOWN_LABELS = (*LABEL_NAMES, "alarm")
MAX_SILENCE = timedelta(days=30)
MAX_COMMENT_CHARS = 500


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: dict[str, str]
    starts_at: float
    ends_at: float
    comment: str

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(name) == value for name, value in self.matchers.items())

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "starts_at": _iso(self.starts_at),
            "ends_at": _iso(self.ends_at),
        }


@dataclass
class Silences:
    store: GroupStore
    clock: Callable[[], float] = time.time

    def add(self, matchers: Mapping[str, str], duration: timedelta, comment: str) -> Silence:
        _check(matchers, duration, comment)
        now = self.clock()
        silence = Silence(
            id=str(uuid.uuid4()),
            matchers=dict(matchers),
            starts_at=now,
            ends_at=now + duration.total_seconds(),
            comment=comment.strip(),
        )
        self.store.change(silence.id, lambda _: asdict(silence))
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


def parse_matchers(items: list[str]) -> dict[str, str]:
    """``label=value`` items (a CLI's or a query's) as matchers."""
    matchers = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise InvalidSilence(f"{item!r} is not label=value")
        matchers[name.strip()] = value.strip()
    return matchers


def parse_duration(text: str) -> timedelta:
    """``90m``, ``2h``, ``1d`` or seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    try:
        return timedelta(seconds=float(number) * units[unit])
    except ValueError:
        raise InvalidSilence(f"{text!r} is not a duration (90m, 2h, 1d)") from None


def _check(matchers: Mapping[str, str], duration: timedelta, comment: str) -> None:
    if not matchers:
        raise InvalidSilence("a silence needs at least one matcher (label=value)")
    unknown = [name for name in matchers if name not in KNOWN_LABELS]
    if unknown:
        raise InvalidSilence(f"unknown labels {unknown}; use {', '.join(KNOWN_LABELS)}")
    if not timedelta(0) < duration <= MAX_SILENCE:
        raise InvalidSilence("a silence lasts more than nothing and at most 30 days")
    if not comment.strip() or len(comment) > MAX_COMMENT_CHARS:
        raise InvalidSilence(f"a silence needs a comment of at most {MAX_COMMENT_CHARS} chars")


def _silence(doc: Document) -> Silence:
    return Silence(
        id=doc["id"],
        matchers=doc["matchers"],
        starts_at=doc["starts_at"],
        ends_at=doc["ends_at"],
        comment=doc["comment"],
    )


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()
