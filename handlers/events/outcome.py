"""What an event handler concludes about one event, before the catalog is consulted."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, ValidationError

from catalog.models import Domain
from handlers.inbound.envelope import Envelope

HandlerStatus = Literal["ok", "ignored", "invalid"]


class Family(StrEnum):
    """The event families acs-triage reads (the router's table says which types are whose)."""

    SMS_DELIVERY = "sms-delivery"
    EMAIL_DELIVERY = "email-delivery"
    ADVANCED_MESSAGING = "advanced-messaging"
    CALL_AUTOMATION = "call-automation"
    CALL_END = "call-end"
    JOB_ROUTER = "job-router"


class CodeOrigin(StrEnum):
    """Where in the event the code was found; alerts and replay show it."""

    DELIVERY_STATUS_DETAILS = "deliveryStatusDetails"
    DELIVERY_STATUS_TEXT = "deliveryStatusDetails:text"
    DELIVERY_STATUS = "deliveryStatus"
    RESULT_INFORMATION = "resultInformation"
    REASON = "reason"
    STATUS = "status"  # an email report: looked up by its status word
    CHANNEL_CODE = "error.channelCode"  # a WhatsApp delivery failure


@dataclass(slots=True)
class Outcome:
    """A handler's verdict on one event.

    ``status`` is ``invalid`` when the event could not be read (``reason`` says why);
    ``ignored`` for event types acs-triage does not triage; otherwise ``ok``, with the
    code and subcode (either may be None), or the status word (``report_status``), that the
    catalog will explain, and for a Call Automation action's event the ``action`` whose table
    the catalog reads first. ``family`` names the family that read the event.

    Text fields (``subject``, ``message``, ``reason``, ``context``) hold the event's own words,
    phone numbers included: most events never leave the app, so they are masked where they
    leave (the alert, the summary), not here on every event.

    ``recipient`` and ``sender`` are the message's parties as the event wrote them (a phone
    number, an e-mail address, a channel id), set by the families whose events name them (SMS,
    email, WhatsApp). They are personal data that never leaves the app as written: the alert's
    labels are computed from them (country, carrier, the sender masked) and the notifier counts
    distinct recipients by a keyed digest; no alert, record or log line carries them.
    """

    index: int
    event_id: str | None
    event_type: str | None
    status: HandlerStatus
    domain: Domain | None = None
    code: int | None = None
    subcode: int | None = None
    code_origin: CodeOrigin | None = None
    # True when the event itself reports a failure even if no code says so
    # (an SMS report with status Failed or failed segments).
    failed: bool = False
    family: Family | None = None
    # The status word a report is looked up by (email), where it has no code.
    report_status: str | None = None
    # The Call Automation action whose table explains this event's failures (catalog.ACTIONS).
    action: str | None = None
    # False for a family whose failures carry a reason but no code to look up (Job Router).
    has_codes: bool = True
    message: str | None = None
    reason: str | None = None
    subject: str | None = None
    time: str | None = None
    source: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    # Personal data (see above): left out of the repr so that no debug line prints them.
    recipient: str | None = field(default=None, repr=False)
    sender: str | None = field(default=None, repr=False)


def outcome_for(envelope: Envelope, status: HandlerStatus, **fields: Any) -> Outcome:
    """An Outcome carrying the envelope's identity, with the given verdict and fields."""
    return Outcome(
        index=envelope.index,
        event_id=envelope.id,
        event_type=envelope.type,
        status=status,
        subject=envelope.subject,
        time=envelope.time,
        source=envelope.source,
        **fields,
    )


def invalid(envelope: Envelope, reason: str) -> Outcome:
    return outcome_for(envelope, "invalid", reason=reason)


class EventModel(BaseModel):
    """The base of every model of an event's ``data``.

    ``allow_inf_nan=False``: ``"NaN"``, ``"Infinity"`` or ``"1e999"`` in a numeric field makes
    the event unreadable (an ``invalid-event`` alert saying which field), instead of a number
    that strict JSON receivers refuse reaching an alert.
    """

    # defer_build: a model builds its validator on first use, not at cold start.
    model_config = ConfigDict(
        extra="ignore", frozen=True, allow_inf_nan=False, defer_build=True
    )


ModelT = TypeVar("ModelT", bound=BaseModel)


def read_data(envelope: Envelope, model: type[ModelT]) -> ModelT | Outcome:
    """The event's ``data`` validated as ``model``, or an invalid Outcome that says why.

    The handlers' data models defer their schemas (``defer_build``) to their first validation:
    ordinary events are read without them, so a cold start does not build them.
    """
    if not isinstance(envelope.data, dict):
        return invalid(envelope, f"data is a {type(envelope.data).__name__}, expected an object")
    try:
        return model.model_validate(envelope.data)
    except ValidationError as error:
        return invalid(envelope, validation_reason(error))


def validation_reason(error: ValidationError, prefix: str = "data") -> str:
    """A short, secret-free account of what was wrong with an event's data (no input values)."""
    parts = []
    for issue in error.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(part) for part in (prefix, *issue["loc"]))
        parts.append(f"{where}: {issue['msg']}")
    more = error.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def spellings(camel: str) -> AliasChoices:
    """The spellings published payloads use for a key (camelCase, PascalCase: .NET serializes
    PascalCase, as ACS's own troubleshooting pages show) and the lower-cased one."""
    return AliasChoices(camel, camel[0].upper() + camel[1:], camel.lower())


def lower_keys(value: Any) -> Any:
    """The same dict with its keys lower-cased, one level deep."""
    if isinstance(value, dict):
        return {str(key).lower(): item for key, item in value.items()}
    return value
