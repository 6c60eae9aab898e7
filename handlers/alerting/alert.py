"""The alert: a CloudEvent 1.0 that acs-triage forwards for every unexpected failure.

Its data is typed (:class:`AlertData`); ``docs/alerts.md`` describes every field.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from catalog.models import Match, Retry
from handlers.alerting.cloudevent import CloudEvent
from handlers.alerting.labels import labels_for
from handlers.events.outcome import Outcome
from handlers.masking import mask_leaving

ALERT_TYPE = "acs-triage.alert.v1"
# Ids are correlation keys: an operator searches for them verbatim in ACS logs and support
# cases, so they are never masked. Every other text taken from the event is.
CORRELATION_IDS = frozenset(
    {"id", "source", "callConnectionId", "serverCallId", "correlationId", "messageId", "groupId",
     "roomId", "jobId", "channelId", "queueId", "classificationPolicyId", "exceptionRuleId",
     "ruleKey"}
)
# "failure": a failure the event reports in words, with no code to look up (Job Router).
AlertKind = Literal["error", "unknown-code", "failure", "invalid-event"]


class SourceEvent(BaseModel):
    """The event the alert is about, as it came (its id and source verbatim, its texts masked)."""

    model_config = ConfigDict(frozen=True)

    id: str | None
    type: str | None
    source: str | None
    subject: str | None
    time: str | None
    index: int = 0


class CatalogRef(BaseModel):
    """The catalog entry that explained the code (or status), the rule that found it, the action
    whose table was read first, and where the entry's words come from: a line of a seed document,
    or a written table's data file and the public page behind it, with the date it was read."""

    model_config = ConfigDict(frozen=True)

    match: str
    source: str | None = None
    action: str | None = None
    code: int | None = None
    subcode: int | None = None
    status: str | None = None
    message: str | None = None
    category_source: str | None = None
    doc: str | None = None
    line: int | None = None
    url: str | None = None
    read: str | None = None
    advice_from: str | None = None


class UnreadableEvent(BaseModel):
    """One event of a delivery that could not be read, as an invalid-event alert lists it."""

    model_config = ConfigDict(frozen=True)

    id: str | None
    type: str | None
    index: int
    reason: str | None


class UnreadableEvents(BaseModel):
    """All the unreadable events of one delivery: counted, the first few listed."""

    model_config = ConfigDict(frozen=True)

    count: int
    events: list[UnreadableEvent]
    omitted: int


class AlertData(BaseModel):
    """What an alert says: why it was raised, what the code means, and where it came from."""

    model_config = ConfigDict(frozen=True)

    kind: AlertKind
    family: str | None = None
    code: int | None = None
    subcode: int | None = None
    status: str | None = None
    category: str | None = None
    message: str | None = None
    advice: str | None = None
    # Can sending again succeed ("permanent", "transient", "unknown"), and why: the catalog's.
    retry: Retry | None = None
    reason: str | None = None
    catalog: CatalogRef | None = None
    event: SourceEvent
    # What the event's family adds (call connection, correlation ids; SMS message id, delivery
    # status, failed segments), its texts masked, ids verbatim; and where the code was found.
    context: dict[str, Any] = {}
    # What groups are formed from (``handlers.alerting.labels``): channel, event type, kind,
    # code, subcode, category, for a PSTN call failure origin; country, carrier and sender.
    labels: dict[str, str] = {}
    # Only on an invalid-event alert that stands for several unreadable events.
    invalid: UnreadableEvents | None = Field(default=None, exclude_if=lambda value: value is None)


class Alert(CloudEvent[AlertData]):
    """One alert. ``id`` is derived from the source event, so a redelivery yields the same id."""

    type: str = ALERT_TYPE

    @property
    def kind(self) -> AlertKind:
        return self.data.kind

    @property
    def labels(self) -> dict[str, str]:
        return self.data.labels


ALERT_NAMESPACE = uuid.UUID("5b1f3c2e-8a4d-4f61-9c1e-acd5a1e47a11")


def alert_id_for(event_key: str) -> str:
    """The alert id of an event: the same event yields the same id in any process, any time."""
    return str(uuid.uuid5(ALERT_NAMESPACE, event_key))


def build_alert(
    outcome: Outcome, match: Match | None, kind: AlertKind, *, event_key: str, source: str
) -> Alert:
    """The alert for one event. What came from the event leaves masked (ids verbatim), and a
    non-finite number, which no model should have let through, leaves as null."""
    explained = match is not None and match.rule != "none"
    category = match.category.value if match and match.category else None
    data = AlertData(
        kind=kind,
        family=outcome.family,
        code=outcome.code,
        subcode=outcome.subcode,
        status=outcome.report_status,
        category=category,
        message=_leaving(outcome.message),
        advice=match.advice if match else None,
        retry=match.retry if match and explained else None,
        reason=_leaving(outcome.reason or _reason(kind, outcome, match)),
        catalog=_catalog_ref(match),
        event=SourceEvent(
            **_leaving(
                {
                    "id": outcome.event_id,
                    "type": outcome.event_type,
                    "source": outcome.source,
                    "subject": outcome.subject,
                    "time": outcome.time,
                    "index": outcome.index,
                }
            )
        ),
        context=_leaving({**outcome.context, "codeOrigin": outcome.code_origin}),
        # Built from codes and types, and from the parties as written: what leaves of those is
        # a country, a carrier and the sender masked (handlers.alerting.labels).
        labels=labels_for(
            event_type=outcome.event_type,
            kind=kind,
            code=outcome.code,
            subcode=outcome.subcode,
            category=category,
            recipient=outcome.recipient,
            sender=outcome.sender,
        ),
    )
    return Alert(
        id=alert_id_for(event_key),
        source=source,
        subject=data.event.subject,
        time=data.event.time,
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
        UnreadableEvent(
            id=o.event_id, type=_leaving(o.event_type), index=o.index, reason=_leaving(o.reason)
        )
        for o in outcomes[:MAX_LISTED_INVALID_EVENTS]
    ]
    data = first.data.model_copy(
        update={
            "reason": f"{len(outcomes)} events of one delivery could not be read; the first: "
            f"{first.data.reason}",
            "invalid": UnreadableEvents(
                count=len(outcomes),
                events=listed,
                omitted=max(0, len(outcomes) - MAX_LISTED_INVALID_EVENTS),
            ),
        }
    )
    return Alert(
        id=alert_id_for("invalid-events:" + "\n".join(sorted(event_keys))),
        source=source,
        subject=first.subject,
        time=first.time,
        data=data,
    )


def _leaving(value: Any) -> Any:
    """A value from the event as it may leave: texts masked but ids, finite numbers only."""
    return mask_leaving(value, CORRELATION_IDS)


def _reason(kind: AlertKind, outcome: Outcome, match: Match | None) -> str:
    if kind == "failure":
        return (
            f"the event reports a failure ({outcome.family} events carry no code): its own "
            "words are the message"
        )
    status = outcome.report_status
    if kind == "unknown-code" and status is not None and (match is None or match.rule == "none"):
        return f"the catalog does not know the status {status!r}"
    if kind == "unknown-code" and outcome.code is None and status is None:
        return "the event reports a failure but carries no code"
    if kind == "unknown-code" and match is not None and match.rule != "none":
        said = f"status {status!r}" if status is not None else f"code {outcome.code}"
        return f"the event reports a failure but its {said} means success"
    if kind == "unknown-code":
        return "the catalog does not know this code"
    category = match.category.value if match and match.category else "listed"
    return f"category {category} alerts"


def _catalog_ref(match: Match | None) -> CatalogRef | None:
    if match is None:
        return None
    entry = match.entry
    if entry is None:
        return CatalogRef(
            match=match.rule,
            action=match.action,
            message=match.message,
            advice_from=match.advice_from,
        )
    return CatalogRef(
        match=match.rule,
        source=entry.source,
        action=match.action,
        code=entry.code,
        subcode=entry.subcode,
        status=entry.status,
        message=match.message,
        category_source=entry.category_source,
        doc=entry.doc,
        line=entry.line,
        url=entry.url,
        read=entry.read,
        advice_from=match.advice_from,
    )
