"""The alert: a CloudEvent 1.0 that acs-triage forwards for every unexpected failure."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from catalog.models import Match
from handlers.events.outcome import Outcome
from handlers.masking import mask_phones_in

ALERT_TYPE = "acs-triage.alert.v1"
# Ids are correlation keys: an operator searches for them verbatim in ACS logs and support
# cases, so they are never masked. Every other text taken from the event is.
CORRELATION_IDS = frozenset(
    {"id", "source", "callConnectionId", "serverCallId", "correlationId", "messageId", "groupId",
     "roomId"}
)
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
    """The alert for one event. What came from the event leaves masked (ids verbatim), and a
    non-finite number, which no model should have let through, leaves as null."""
    subject = _leaving(outcome.subject)
    data: dict[str, Any] = {
        "kind": kind,
        "code": outcome.code,
        "subcode": outcome.subcode,
        "category": match.category.value if match and match.category else None,
        "message": _leaving(outcome.message),
        "advice": match.advice if match else None,
        "reason": _leaving(outcome.reason or _reason(kind, outcome, match)),
        "catalog": _catalog_ref(match),
        "event": _leaving(
            {
                "id": outcome.event_id,
                "type": outcome.event_type,
                "source": outcome.source,
                "subject": outcome.subject,
                "time": outcome.time,
                "index": outcome.index,
            }
        ),
        "context": _leaving({**outcome.context, "codeOrigin": outcome.code_origin}),
    }
    return Alert(
        id=alert_id_for(event_key),
        source=source,
        subject=subject,
        time=data["event"]["time"],
        data=data,
    )


def _leaving(value: Any, key: str | None = None) -> Any:
    """A value from the event as it may leave: texts masked but ids, finite numbers only."""
    if isinstance(value, str):
        return value if key in CORRELATION_IDS else mask_phones_in(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {name: _leaving(item, name) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_leaving(item) for item in value]
    return value


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
