"""The alert: a CloudEvent 1.0 that acs-triage forwards for every unexpected failure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

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
