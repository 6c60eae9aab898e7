"""EmailDeliveryReportReceived: an email's delivery status, looked up by its word.

The report carries no code: ``data.status`` is one of the statuses the email events page lists
(``Delivered``, ``Expanded``, ``Bounced``, ``Suppressed``, ``Quarantined``, ``FilteredSpam``,
``Failed``), and ``deliveryStatusDetails.statusMessage`` may say more. The catalog's
email-delivery table explains each status (its category says whose side a failure is on); any
status but ``Delivered`` and ``Expanded`` is a failure, so an unknown one is reported as an
unknown failure, never as a success. Sender and recipient are email addresses: like every text
of an event, they are masked where they leave the app (the alert, the records), not here. Keys are
read in camelCase or PascalCase.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from catalog.models import Domain
from handlers.events.outcome import (
    CodeOrigin,
    EventModel,
    Family,
    Outcome,
    outcome_for,
    read_data,
    spellings,
)
from handlers.inbound.envelope import Envelope

# No failure: a delivery, or a distribution group expanded before its members' own reports.
NOT_FAILED = frozenset({"delivered", "expanded"})


class StatusDetails(EventModel):
    status_message: str | None = Field(default=None, validation_alias=spellings("statusMessage"))


class EmailDeliveryReport(EventModel):
    message_id: str | None = Field(default=None, validation_alias=spellings("messageId"))
    sender: str | None = Field(default=None, validation_alias=spellings("sender"))
    recipient: str | None = Field(default=None, validation_alias=spellings("recipient"))
    status: str = Field(min_length=1, validation_alias=spellings("status"))
    details: StatusDetails | None = Field(
        default=None, validation_alias=spellings("deliveryStatusDetails")
    )
    delivery_attempt_time: str | None = Field(
        default=None, validation_alias=spellings("deliveryAttemptTimeStamp")
    )


def handle_email_delivery_report(envelope: Envelope) -> Outcome:
    report = read_data(envelope, EmailDeliveryReport)
    if isinstance(report, Outcome):
        return report
    status = report.status.strip()
    return outcome_for(
        envelope,
        "ok",
        domain=Domain.EMAIL_DELIVERY,
        family=Family.EMAIL_DELIVERY,
        report_status=status,
        code_origin=CodeOrigin.STATUS,
        failed=status.lower() not in NOT_FAILED,
        message=report.details.status_message if report.details else None,
        context=_context(report, status),
        recipient=report.recipient,
        sender=report.sender,
    )


def _context(report: EmailDeliveryReport, status: str) -> dict[str, Any]:
    return {
        "messageId": report.message_id,
        "sender": report.sender,
        "recipient": report.recipient,
        "status": status,
        "deliveryAttemptTimeStamp": report.delivery_attempt_time,
    }
