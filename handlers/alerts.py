"""The alert: a CloudEvent 1.0 that acs-triage forwards for every unexpected failure."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from catalog.models import Category, Match
from handlers.outcome import Outcome
from handlers.settings import Settings

ALERT_TYPE = "acs-triage.alert.v1"
AlertKind = Literal["error", "unknown-code", "invalid-event"]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert. ``id`` is derived from the source event, so a redelivery yields the same id."""

    id: str
    source: str
    subject: str | None
    time: str | None
    data: dict[str, Any]
    type: str = ALERT_TYPE

    @property
    def kind(self) -> AlertKind:
        kind: AlertKind = self.data["kind"]
        return kind

    def to_cloudevent(self) -> dict[str, Any]:
        """The CloudEvents 1.0 JSON form (structured mode)."""
        event: dict[str, Any] = {
            "specversion": "1.0",
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "datacontenttype": "application/json",
            "data": self.data,
        }
        if self.subject:
            event["subject"] = self.subject
        if self.time:
            event["time"] = self.time
        return event


ALERT_NAMESPACE = uuid.UUID("5b1f3c2e-8a4d-4f61-9c1e-acd5a1e47a11")


def alert_id_for(event_key: str) -> str:
    """The alert id of an event: the same event yields the same id in any process, any time."""
    return str(uuid.uuid5(ALERT_NAMESPACE, event_key))


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """Which outcomes deserve an alert (design.md "Alerts").

    Unreadable events and unknown codes always alert; a known code alerts when its category is
    listed; ``include`` / ``exclude`` hold ``(code, subcode)`` pairs, subcode None meaning any,
    and override the category.
    """

    categories: frozenset[Category]
    include: frozenset[tuple[int, int | None]] = frozenset()
    exclude: frozenset[tuple[int, int | None]] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertPolicy:
        return cls(
            categories=frozenset(Category(name) for name in settings.alert_categories),
            include=frozenset(_code_pair(item) for item in settings.alert_include_codes),
            exclude=frozenset(_code_pair(item) for item in settings.alert_exclude_codes),
        )

    def decide(self, outcome: Outcome, match: Match | None) -> AlertKind | None:
        if outcome.status == "invalid":
            return "invalid-event"
        if outcome.status != "ok":
            return None
        if outcome.code is not None:
            if self._listed(self.exclude, outcome):
                return None
            if self._listed(self.include, outcome):
                return "unknown-code" if match is None or match.rule == "none" else "error"
        if match is None or match.rule == "none":
            # No code at all is only news when the event reports a failure (Failed SMS,
            # *Failed callback without resultInformation); an unknown code always is.
            return "unknown-code" if outcome.failed or outcome.code is not None else None
        if outcome.failed and match.category in (None, Category.SUCCESS):
            return "unknown-code"  # the event failed but its code says success: unexplained
        return "error" if match.category in self.categories else None

    @staticmethod
    def _listed(pairs: frozenset[tuple[int, int | None]], outcome: Outcome) -> bool:
        assert outcome.code is not None
        return (outcome.code, outcome.subcode) in pairs or (outcome.code, None) in pairs


def _code_pair(item: str) -> tuple[int, int | None]:
    code, _, subcode = item.partition("/")
    return int(code), int(subcode) if subcode else None


def build_alert(
    outcome: Outcome, match: Match | None, kind: AlertKind, *, event_key: str, source: str
) -> Alert:
    """The alert for one event; everything in it is already masked by the event's handler."""
    data: dict[str, Any] = {
        "kind": kind,
        "code": outcome.code,
        "subcode": outcome.subcode,
        "category": match.category.value if match and match.category else None,
        "message": outcome.message,
        "advice": match.advice if match else None,
        "reason": outcome.reason or _reason(kind, outcome, match),
        "catalog": _catalog_ref(match),
        "event": {
            "id": outcome.event_id,
            "type": outcome.event_type,
            "source": outcome.source,
            "subject": outcome.subject,
            "time": outcome.time,
            "index": outcome.index,
        },
        "context": {**outcome.context, "codeOrigin": outcome.code_origin},
    }
    return Alert(
        id=alert_id_for(event_key),
        source=source,
        subject=outcome.subject,
        time=outcome.time,
        data=data,
    )


def _reason(kind: AlertKind, outcome: Outcome, match: Match | None) -> str:
    if kind == "unknown-code" and outcome.code is None:
        return "the event reports a failure but carries no code"
    if kind == "unknown-code" and match is not None and match.rule != "none":
        return f"the event reports a failure but its code {outcome.code} means success"
    if kind == "unknown-code":
        return "the catalog does not know this code"
    category = match.category.value if match and match.category else "listed"
    return f"category {category} alerts"


def _catalog_ref(match: Match | None) -> dict[str, Any] | None:
    if match is None:
        return None
    entry = match.entry
    return {
        "match": match.rule,
        "source": entry.source if entry else None,
        "code": entry.code if entry else None,
        "subcode": entry.subcode if entry else None,
        "message": match.message,
        "category_source": entry.category_source if entry else None,
        "doc": entry.doc if entry else None,
        "line": entry.line if entry else None,
        "url": entry.url if entry else None,
        "advice_from": match.advice_from,
    }
