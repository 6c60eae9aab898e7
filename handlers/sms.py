"""SMSDeliveryReportReceived: find the delivery code hidden in the report's text.

The report has no numeric code field. The code (seed table "SMS error codes": 2000, 4000–4010,
5000–5002, 9999) appears only inside ``deliveryStatusDetails``, in formats such as
``"2000: No Error"`` or ``"No error."`` (no number at all). So, in order:

1. a leading 4-digit code (``"4007: Opted out"``);
2. else a known SMS delivery code anywhere in the text;
3. else the status: ``Delivered`` (or the very old previews' ``Success``) means 2000;
   ``Failed`` without a code is an unknown failure, never a success.

Published payloads use camelCase keys and, in older documentation, PascalCase: keys are read
without regard to case. A long message is sent in segments; a failed segment in any attempt
makes the report a failure even when another segment got through.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from catalog.models import Domain
from handlers.envelope import Envelope
from handlers.masking import mask_phone, mask_phones_in
from handlers.outcome import (
    CodeOrigin,
    Outcome,
    invalid,
    lower_keys,
    outcome_for,
    validation_reason,
)

DELIVERED_CODE = 2000
_LEADING_CODE = re.compile(r"\s*(\d{4})(?!\d)")
_ANY_CODE = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_SUCCESS_STATUSES = frozenset({"delivered", "success"})


class DeliveryAttempt(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    timestamp: str | None = None
    segments_succeeded: int | None = Field(default=None, alias="segmentssucceeded", ge=0)
    segments_failed: int | None = Field(default=None, alias="segmentsfailed", ge=0)


class SmsDeliveryReport(BaseModel):
    """``data`` of SMSDeliveryReportReceived, keys lower-cased before validation."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    message_id: str | None = Field(default=None, alias="messageid")
    from_number: str | None = Field(default=None, alias="from")
    to_number: str | None = Field(default=None, alias="to")
    delivery_status: str = Field(alias="deliverystatus", min_length=1)
    delivery_status_details: str | None = Field(default=None, alias="deliverystatusdetails")
    delivery_attempts: list[DeliveryAttempt] = Field(default_factory=list, alias="deliveryattempts")
    received_timestamp: str | None = Field(default=None, alias="receivedtimestamp")
    tag: str | None = None

    @property
    def failed_segments(self) -> int:
        return sum(attempt.segments_failed or 0 for attempt in self.delivery_attempts)


def read_report(data: Any) -> SmsDeliveryReport:
    """Validate a report's data, reading its keys (and its attempts') without regard to case."""
    if not isinstance(data, dict):
        raise TypeError(f"data is a {type(data).__name__}, expected an object")
    lowered = lower_keys(data)
    attempts = lowered.get("deliveryattempts")
    if isinstance(attempts, list):
        lowered["deliveryattempts"] = [lower_keys(attempt) for attempt in attempts]
    return SmsDeliveryReport.model_validate(lowered)


def find_code(
    report: SmsDeliveryReport, is_known: Callable[[int], bool]
) -> tuple[int | None, CodeOrigin | None]:
    """The delivery code and where it was found, by the rules in this module's docstring."""
    details = report.delivery_status_details or ""
    leading = _LEADING_CODE.match(details)
    if leading:
        return int(leading.group(1)), CodeOrigin.DELIVERY_STATUS_DETAILS
    for candidate in _ANY_CODE.findall(details):
        if is_known(int(candidate)):
            return int(candidate), CodeOrigin.DELIVERY_STATUS_TEXT
    if report.delivery_status.strip().lower() in _SUCCESS_STATUSES:
        return DELIVERED_CODE, CodeOrigin.DELIVERY_STATUS
    return None, None


def handle_sms_delivery_report(envelope: Envelope, is_known: Callable[[int], bool]) -> Outcome:
    try:
        report = read_report(envelope.data)
    except TypeError as error:
        return invalid(envelope, str(error))
    except ValidationError as error:
        return invalid(envelope, validation_reason(error))
    code, origin = find_code(report, is_known)
    details = report.delivery_status_details
    status_failed = report.delivery_status.strip().lower() not in _SUCCESS_STATUSES
    return outcome_for(
        envelope,
        "ok",
        domain=Domain.SMS_DELIVERY,
        code=code,
        code_origin=origin,
        failed=status_failed or report.failed_segments > 0,
        message=mask_phones_in(details) if details else None,
        context=_context(report),
    )


def _context(report: SmsDeliveryReport) -> dict[str, Any]:
    return {
        "messageId": report.message_id,
        "from": mask_phone(report.from_number) if report.from_number else None,
        "to": mask_phone(report.to_number) if report.to_number else None,
        "deliveryStatus": report.delivery_status,
        "deliveryAttempts": len(report.delivery_attempts),
        "failedSegments": report.failed_segments,
        "tag": report.tag,
    }
