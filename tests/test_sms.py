"""SMS delivery reports: the code hidden in the text, case-blind keys, failed segments."""

from __future__ import annotations

from typing import Any

import pytest

from catalog.models import Domain
from handlers.alerting.alert import build_alert
from handlers.events.outcome import CodeOrigin
from handlers.events.sms import handle_sms_delivery_report
from handlers.inbound.envelope import read_envelope

KNOWN = {2000, 4000, 4001, 4007, 5000, 5001, 5002, 9999}


def report(**data: Any) -> dict[str, Any]:
    return {
        "id": "Outgoing_1",
        "eventType": "Microsoft.Communication.SMSDeliveryReportReceived",
        "topic": "/acs",
        "subject": "/phonenumber/15555555555",
        "data": {"messageId": "Outgoing_1", "from": "+15555550100", "to": "+15555550123", **data},
    }


def handle(event: dict[str, Any]):  # type: ignore[no-untyped-def]
    return handle_sms_delivery_report(read_envelope(0, event), KNOWN.__contains__)


@pytest.mark.parametrize(
    ("status", "details", "code", "origin", "failed"),
    [
        ("Delivered", "2000: No Error", 2000, CodeOrigin.DELIVERY_STATUS_DETAILS, False),
        ("Failed", "4007: Destination opted out", 4007, CodeOrigin.DELIVERY_STATUS_DETAILS, True),
        ("Failed", "  9999 unknown", 9999, CodeOrigin.DELIVERY_STATUS_DETAILS, True),
        ("Failed", "Carrier said 4001 for this one", 4001, CodeOrigin.DELIVERY_STATUS_TEXT, True),
        ("Failed", "Reference 1234 then 5000", 5000, CodeOrigin.DELIVERY_STATUS_TEXT, True),
        ("Delivered", "No error.", 2000, CodeOrigin.DELIVERY_STATUS, False),
        ("Success", "No error.", 2000, CodeOrigin.DELIVERY_STATUS, False),
        ("Failed", "Something went wrong", None, None, True),
        ("Failed", None, None, None, True),
        ("Failed", "12345 is not a code", None, None, True),
    ],
)
def test_the_code_is_found_by_the_documented_rules(
    status: str, details: str | None, code: int | None, origin: CodeOrigin | None, failed: bool
) -> None:
    outcome = handle(report(deliveryStatus=status, deliveryStatusDetails=details))
    assert (outcome.status, outcome.domain) == ("ok", Domain.SMS_DELIVERY)
    assert (outcome.code, outcome.code_origin, outcome.failed) == (code, origin, failed)


def test_a_failed_report_without_a_code_is_never_read_as_success() -> None:
    outcome = handle(report(deliveryStatus="Failed", deliveryStatusDetails="No error."))
    assert outcome.code is None and outcome.failed


def test_keys_are_read_without_regard_to_case() -> None:
    event = report()
    event["data"] = {
        "MessageId": "Outgoing_1",
        "DELIVERYSTATUS": "Failed",
        "DeliveryStatusDetails": "4007: opted out",
        "deliveryattempts": [{"SegmentsSucceeded": 1, "SEGMENTSFAILED": 2}],
        "Tag": "campaign-7",
    }
    outcome = handle(event)
    assert outcome.code == 4007
    assert outcome.context["failedSegments"] == 2
    assert outcome.context["tag"] == "campaign-7"


def test_a_failed_segment_in_any_attempt_makes_the_report_a_failure() -> None:
    attempts = [
        {"timestamp": "t2", "segmentsSucceeded": 2, "segmentsFailed": 0},
        {"timestamp": "t1", "segmentsSucceeded": 1, "segmentsFailed": 1},
    ]
    outcome = handle(
        report(
            deliveryStatus="Delivered",
            deliveryStatusDetails="2000: No Error",
            deliveryAttempts=attempts,
        )
    )
    assert (outcome.code, outcome.failed) == (2000, True)
    assert outcome.context["failedSegments"] == 1
    assert outcome.context["deliveryAttempts"] == 2


def test_phone_numbers_are_masked_in_the_alert_and_the_message_id_is_not() -> None:
    outcome = handle(report(deliveryStatus="Failed", deliveryStatusDetails="5000: failed"))
    alert = build_alert(outcome, None, "unknown-code", event_key="k", source="/acs-triage")
    context = alert.data.context
    assert (context["from"], context["to"]) == ("+*******0100", "+*******0123")
    assert alert.subject == alert.data.event.subject == "/phonenumber/*******5555"
    assert context["messageId"] == "Outgoing_1"
    assert b"5555550" not in alert.to_json()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("a string", "data is a str, expected an object"),
        ({"deliveryStatusDetails": "2000"}, "data.deliveryStatus: Field required"),
        ({"deliveryStatus": 5}, "data.deliveryStatus: Input should be a valid string"),
        ({"deliveryStatus": "Delivered", "deliveryAttempts": "x"}, "data.deliveryAttempts"),
        (
            {"deliveryStatus": "Delivered", "deliveryAttempts": [{"segmentsFailed": -1}]},
            "greater than or equal to 0",
        ),
    ],
)
def test_unreadable_data_is_an_invalid_outcome_with_its_reason(data: Any, reason: str) -> None:
    event = report()
    event["data"] = data
    outcome = handle(event)
    assert outcome.status == "invalid"
    assert outcome.reason is not None and reason in outcome.reason
