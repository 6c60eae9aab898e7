"""What acs-triage says about each event: one record, read by the 200 answer and by ``replay``.

The 200 summary lists an :class:`EventRecord` per event (its alert by id); ``replay --json``
lists a :class:`ReplayRecord` per event (the whole alert, and the file it came from). Both
serialise the same fields in the same way, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from catalog.models import Match
from handlers.alerting.alert import Alert
from handlers.events.outcome import Outcome
from handlers.masking import mask_personal_in

Verdict = Literal["alert", "ok", "ignored", "invalid", "duplicate", "in-progress"]


def masked(text: str | None) -> str | None:
    """Text from the event as a record may show it (ids are shown verbatim)."""
    return mask_personal_in(text) if text else text


def retry_verdict(match: Match | None) -> str | None:
    """Whether sending again can succeed, where the catalog explained the event."""
    return match.retry.verdict if match is not None and match.rule != "none" else None


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event's verdict: its code, what the catalog says about it, and its alert if any."""

    id: str | None
    type: str | None
    outcome: Verdict
    family: str | None = None  # the event family that read it; None for a type none reads
    code: int | None = None
    subcode: int | None = None
    category: str | None = None
    match: str | None = None
    source: str | None = None
    message: str | None = None
    advice: str | None = None
    retry: str | None = None
    reason: str | None = None
    alert: Alert | None = None

    @classmethod
    def of(
        cls, outcome: Outcome, verdict: Verdict, match: Match | None, alert: Alert | None
    ) -> EventRecord:
        return cls.of_values(
            outcome.event_id,
            outcome.event_type,
            family=outcome.family,
            verdict=verdict,
            code=outcome.code,
            subcode=outcome.subcode,
            reason=outcome.reason,
            match=match,
            alert=alert,
        )

    @classmethod
    def of_values(
        cls,
        event_id: str | None,
        event_type: str | None,
        *,
        family: str | None,
        verdict: Verdict,
        code: int | None,
        subcode: int | None,
        reason: str | None,
        match: Match | None,
        alert: Alert | None = None,
    ) -> EventRecord:
        """The record from its values: both paths (careful and fast) build it here."""
        return cls(
            id=event_id,
            type=masked(event_type),
            outcome=verdict,
            family=family,
            code=code,
            subcode=subcode,
            category=match.category.value if match and match.category else None,
            match=match.rule if match else None,
            source=match.entry.source if match and match.entry else None,
            message=match.message if match else None,
            advice=match.advice if match else None,
            retry=retry_verdict(match),
            # An unreadable event's reason quotes it.
            reason=masked(reason),
            alert=alert,
        )

    def fields(self) -> dict[str, Any]:
        """The fields both records share, in the order both print them."""
        return {
            "id": self.id,
            "type": self.type,
            "family": self.family,
            "outcome": self.outcome,
            "code": self.code,
            "subcode": self.subcode,
            "category": self.category,
            "match": self.match,
            "source": self.source,
            "message": self.message,
            "advice": self.advice,
            "retry": self.retry,
            "reason": self.reason,
        }

    def to_summary(self) -> dict[str, Any]:
        """The event's line in the 200 answer: its alert by id, when it has one."""
        line = self.fields()
        if self.alert is not None:
            line["alert_id"] = self.alert.id
        return line


@dataclass(frozen=True, slots=True)
class ReplayRecord:
    """One event of ``replay``, or one file it could not replay: the record, the whole alert,
    and the file it came from."""

    event: EventRecord
    file: str

    @classmethod
    def unreadable(cls, file: str, reason: str) -> ReplayRecord:
        """A file of which no event was handled (unreadable, not JSON, refused)."""
        return cls(EventRecord(id=None, type=None, outcome="invalid", reason=reason), file)

    def to_json(self) -> dict[str, Any]:
        alert = self.event.alert
        return {
            **self.event.fields(),
            "alert": alert.to_dict() if alert is not None else None,
            "file": self.file,
        }
