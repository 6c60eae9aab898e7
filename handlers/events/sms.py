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

from pydantic import AliasChoices, BaseModel, Field, ValidationError

from catalog.models import Domain
from handlers.events.outcome import (
    CodeOrigin,
    EventModel,
    Family,
    Outcome,
    invalid,
    lower_keys,
    outcome_for,
    validation_reason,
)
from handlers.events.outcome import spellings as _spellings
from handlers.inbound.envelope import Envelope

DELIVERED_CODE = 2000
_LEADING_CODE = re.compile(r"\s*(\d{4})(?!\d)")
_ANY_CODE = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_SUCCESS_STATUSES = frozenset({"delivered", "success"})


class DeliveryAttempt(EventModel):
    timestamp: str | None = Field(default=None, validation_alias=_spellings("timestamp"))
    segments_succeeded: int | None = Field(
        default=None, validation_alias=_spellings("segmentsSucceeded"), ge=0
    )
    segments_failed: int | None = Field(
        default=None, validation_alias=_spellings("segmentsFailed"), ge=0
    )


class SmsDeliveryReport(EventModel):
    """``data`` of SMSDeliveryReportReceived (see :func:`read_report` for key spellings)."""

    message_id: str | None = Field(default=None, validation_alias=_spellings("messageId"))
    from_number: str | None = Field(default=None, validation_alias=_spellings("from"))
    to_number: str | None = Field(default=None, validation_alias=_spellings("to"))
    delivery_status: str = Field(validation_alias=_spellings("deliveryStatus"), min_length=1)
    delivery_status_details: str | None = Field(
        default=None, validation_alias=_spellings("deliveryStatusDetails")
    )
    delivery_attempts: list[DeliveryAttempt] = Field(
        default_factory=list, validation_alias=_spellings("deliveryAttempts")
    )
    received_timestamp: str | None = Field(
        default=None, validation_alias=_spellings("receivedTimestamp")
    )
    tag: str | None = Field(default=None, validation_alias=_spellings("tag"))

    @property
    def failed_segments(self) -> int:
        return sum(attempt.segments_failed or 0 for attempt in self.delivery_attempts)


def _known_spellings(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(
        str(choice)
        for field in model.model_fields.values()
        if isinstance(field.validation_alias, AliasChoices)
        for choice in field.validation_alias.choices
    )


_REPORT_KEYS = _known_spellings(SmsDeliveryReport)
_ATTEMPT_KEYS = _known_spellings(DeliveryAttempt)


def read_report(data: Any) -> SmsDeliveryReport:
    """Validate a report's data, reading its keys (and its attempts') without regard to case.

    Keys spelled as published (camelCase, PascalCase) are read as they are; any other spelling
    (``DELIVERYSTATUS``) is lower-cased first, so no key is silently missed.
    """
    if not isinstance(data, dict):
        raise TypeError(f"data is a {type(data).__name__}, expected an object")
    attempts = next((data[k] for k in ("deliveryAttempts", "DeliveryAttempts") if k in data), None)
    if _REPORT_KEYS.issuperset(data) and (
        not isinstance(attempts, list)
        or all(not isinstance(a, dict) or _ATTEMPT_KEYS.issuperset(a) for a in attempts)
    ):
        return SmsDeliveryReport.model_validate(data)
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
    failed_segments = report.failed_segments
    return outcome_for(
        envelope,
        "ok",
        domain=Domain.SMS_DELIVERY,
        family=Family.SMS_DELIVERY,
        code=code,
        code_origin=origin,
        failed=status_failed or failed_segments > 0,
        message=details or None,
        context=_context(report, failed_segments),
        recipient=report.to_number,
        sender=report.from_number,
    )


def _context(report: SmsDeliveryReport, failed_segments: int) -> dict[str, Any]:
    return {
        "messageId": report.message_id,
        "from": report.from_number,
        "to": report.to_number,
        "deliveryStatus": report.delivery_status,
        "deliveryAttempts": len(report.delivery_attempts),
        "failedSegments": failed_segments,
        "tag": report.tag,
    }
