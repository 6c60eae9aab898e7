"""The alert: a CloudEvent 1.0 that acs-triage forwards for every unexpected failure."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from catalog.models import Match
from handlers.alerting.labels import labels_for
from handlers.events.outcome import Outcome

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

    @classmethod
    def from_cloudevent(cls, event: dict[str, Any]) -> Alert:
        """The record back from its CloudEvents JSON form (as the outbox keeps it)."""
        return cls(
            id=event["id"],
            source=event["source"],
            subject=event.get("subject"),
            time=event.get("time"),
            data=event["data"],
            type=event["type"],
        )

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
    data["labels"] = labels_for(
        event_type=outcome.event_type,
        kind=kind,
        code=outcome.code,
        subcode=outcome.subcode,
        category=data["category"],
    )
    return Alert(
        id=alert_id_for(event_key),
        source=source,
        subject=outcome.subject,
        time=outcome.time,
        data=data,
    )


# The ids an invalid-event alert lists; the rest are counted. A delivery can hold 5,000 events.
MAX_LISTED_INVALID_EVENTS = 20


def build_invalid_events_alert(
    outcomes: Sequence[Outcome], *, event_keys: Sequence[str], source: str
) -> Alert:
    """One ``invalid-event`` alert for all the unreadable events of one delivery.

    It counts them and lists the first :data:`MAX_LISTED_INVALID_EVENTS` (id, type, index,
    reason); a body of thousands of broken events raises one alert, not thousands. Alone, an
    unreadable event keeps the alert (and the id) it would have on its own; several share an id
    derived from all their keys, the same again when the delivery is redelivered.
    """
    first = build_alert(outcomes[0], None, "invalid-event", event_key=event_keys[0], source=source)
    if len(outcomes) == 1:
        return first
    listed = [
        {"id": o.event_id, "type": o.event_type, "index": o.index, "reason": o.reason}
        for o in outcomes[:MAX_LISTED_INVALID_EVENTS]
    ]
    data = {
        **first.data,
        "reason": f"{len(outcomes)} events of one delivery could not be read; the first: "
        f"{first.data['reason']}",
        "invalid": {
            "count": len(outcomes),
            "events": listed,
            "omitted": max(0, len(outcomes) - MAX_LISTED_INVALID_EVENTS),
        },
    }
    return Alert(
        id=alert_id_for("invalid-events:" + "\n".join(sorted(event_keys))),
        source=source,
        subject=first.subject,
        time=first.time,
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
