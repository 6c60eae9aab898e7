"""The alert: a CloudEvent 1.0 that acs-triage forwards for every unexpected failure."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from catalog.models import Match
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


def alert_json(alert: Alert) -> str:
    """One alert as strict JSON text: a non-finite number raises instead of leaving as NaN."""
    return json.dumps(
        alert.to_cloudevent(), ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def alerts_json(alerts: Sequence[Alert]) -> str:
    """A batch of alerts as one strict JSON array (the webhook's body)."""
    return "[" + ",".join(alert_json(alert) for alert in alerts) + "]"


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
