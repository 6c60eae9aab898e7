"""What an event handler concludes about one event, before the catalog is consulted."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from catalog.models import Domain

HandlerStatus = Literal["ok", "ignored", "invalid"]


class CodeOrigin(StrEnum):
    """Where in the event the code was found; alerts and replay show it."""

    DELIVERY_STATUS_DETAILS = "deliveryStatusDetails"
    DELIVERY_STATUS_TEXT = "deliveryStatusDetails:text"
    DELIVERY_STATUS = "deliveryStatus"
    RESULT_INFORMATION = "resultInformation"
    REASON = "reason"


@dataclass(slots=True)
class Outcome:
    """A handler's verdict on one event.

    ``status`` is ``invalid`` when the event could not be read (``reason`` says why);
    ``ignored`` for event types acs-triage does not triage; otherwise ``ok``, with the
    code and subcode (either may be None) that the catalog will explain.
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
    message: str | None = None
    reason: str | None = None
    subject: str | None = None
    time: str | None = None
    source: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
