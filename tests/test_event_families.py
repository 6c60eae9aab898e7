"""The event families the router reads: email delivery reports, WhatsApp delivery statuses, Job
Router failures and Call Automation results in either casing; which family read each event; and
no personal data (an email address, a WhatsApp number) in anything that leaves an event."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from bench.events import ACS_TOPIC, call_result, sms_report
from handlers.events.outcome import Family
from handlers.events.router import CALL_AUTOMATION_EVENTS, FAMILY_OF, EventReader, family_of
from handlers.inbound.envelope import parse_events
from handlers.records import ReplayRecord
from tests.conftest import RuntimeFactory, read_alerts

EMAIL = "jane.doe@contoso.com"
EMAIL_MASKED = "j*******@contoso.com"
PHONE = "+447700900123"
PHONE_MASKED = "+********0123"
PII = f"sent to {PHONE} for {EMAIL}"
PII_MASKED = f"sent to {PHONE_MASKED} for {EMAIL_MASKED}"


def event(event_id: str, name: str, data: dict[str, Any], subject: str = "s") -> dict[str, Any]:
    """An Event Grid schema event of type Microsoft.Communication.<name>."""
    return {
        "id": event_id,
        "topic": ACS_TOPIC,
        "subject": subject,
        "eventType": f"Microsoft.Communication.{name}",
        "eventTime": "2026-12-02T10:00:00Z",
        "dataVersion": "1.0",
        "data": data,
    }


def email_report(event_id: str, status: str, message: str = "No error.") -> dict[str, Any]:
    return event(
        event_id,
        "EmailDeliveryReportReceived",
        {
            "sender": "noreply@contoso.net",
            "recipient": EMAIL,
            "messageId": "950850f5-bcdf-4315-b77a-6447cf56fac9",
            "status": status,
            "deliveryAttemptTimeStamp": "2026-12-02T10:00:00Z",
            "deliveryStatusDetails": {"statusMessage": message},
        },
        subject=f"sender/noreply@contoso.net/message/{event_id}",
    )


def whatsapp_status(
    event_id: str, status: str, code: Any = "131026", message: str = "Message Undeliverable."
) -> dict[str, Any]:
    return event(
        event_id,
        "AdvancedMessageDeliveryStatusUpdated",
        {
            "messageId": "d59f9468-0a5c-4022-8200-d7bf6fb78bc5",
            "status": status,
            "channelType": "whatsapp",
            "from": "3f870487-d59e-4c01-82dd-46b9d388aa9d",
            "to": PHONE,
            "receivedTimestamp": "2026-12-02T10:00:00Z",
            "error": {"channelCode": code, "channelMessage": message},
        },
        subject=f"advancedMessage/{event_id}/status/{status}",
    )


def run(make_runtime: RuntimeFactory, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The delivery's per-event records, as the summary and ``replay --json`` give them."""
    delivery = make_runtime().pipeline.run(parse_events(events), way_in="test")
    return [ReplayRecord(triage.record(), "test").to_json() for triage in delivery.triages]


# ---- the router knows each family it reads --------------------------------------------------


def test_every_type_the_router_reads_is_read_by_its_family(make_runtime: RuntimeFactory) -> None:
    assert family_of("Microsoft.Communication.PlayFailed") == Family.CALL_AUTOMATION
    assert family_of("microsoft.communication.smsdeliveryreportreceived") == Family.SMS_DELIVERY
    assert family_of("Microsoft.Communication.RouterJobSchedulingFailed") == Family.JOB_ROUTER
    assert set(FAMILY_OF.values()) == set(Family)
    assert {name.lower() for name in CALL_AUTOMATION_EVENTS} <= FAMILY_OF.keys()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("SomethingNewFailed", "no event family acs-triage reads has this type"),
        ("RecordingFileStatusUpdated", "no event family acs-triage reads has this type"),
        ("AdvancedMessageReceived", "no event family acs-triage reads has this type"),
        ("RouterJobCancelled", "a Job Router step, not a failure"),
        ("RouterWorkerOfferExpired", "a Job Router step, not a failure"),
    ],
)
def test_a_type_no_family_names_is_ignored_whatever_its_name_or_data(
    make_runtime: RuntimeFactory, name: str, reason: str
) -> None:
    """Before, any type ending in Failed, or carrying resultInformation, was read as a call
    result: a failure by accident of its name."""
    data = {"resultInformation": {"code": 500, "subCode": 9999, "message": "down"}}
    (record,) = run(make_runtime, [event("x1", name, data)])
    assert (record["outcome"], record["family"], record["alert"]) == ("ignored", None, None)
    assert record["reason"].startswith(reason)


def test_the_summary_names_the_family_that_read_each_event(make_runtime: RuntimeFactory) -> None:
    records = run(
        make_runtime,
        [
            sms_report("s1"),
            call_result("c1", "CallDisconnected", code=200, subcode=0),
            email_report("e1", "Delivered"),
            whatsapp_status("w1", "read"),
            event("r1", "RouterJobSchedulingFailed", {"jobId": "j1", "failureReason": "Expired"}),
            event("i1", "IncomingCall", {}),
        ],
    )
    assert [r["family"] for r in records] == [
        "sms-delivery",
        "call-automation",
        "email-delivery",
        "advanced-messaging",
        "job-router",
        None,
    ]


@pytest.mark.parametrize(
    "name", ["CallConnected", "ParticipantsUpdated", "PlayStarted", "TranscriptionStarted"]
)
def test_events_that_now_carry_a_200_result_are_read_as_successes(
    make_runtime: RuntimeFactory, name: str
) -> None:
    (record,) = run(make_runtime, [call_result("ok1", name, code=200, subcode=0)])
    assert (record["outcome"], record["family"], record["category"]) == (
        "ok",
        "call-automation",
        "Success",
    )


# ---- email -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome", "category", "retry"),
    [
        ("Delivered", "ok", "Success", "unknown"),
        ("expanded", "ok", "Success", "unknown"),
        ("Bounced", "ok", "ExpectedError", "permanent"),
        ("SUPPRESSED", "ok", "ExpectedError", "permanent"),
        ("Quarantined", "alert", "UnexpectedClientError", "permanent"),
        ("FilteredSpam", "alert", "UnexpectedClientError", "permanent"),
        ("Failed", "alert", "UnexpectedServerError", "transient"),
    ],
)
def test_each_email_status_is_read_and_categorised(
    make_runtime: RuntimeFactory, status: str, outcome: str, category: str, retry: str
) -> None:
    (record,) = run(make_runtime, [email_report("e1", status, message="Mailbox full")])
    assert (record["outcome"], record["category"], record["match"], record["retry"]) == (
        outcome,
        category,
        "status",
        retry,
    )
    if outcome == "alert":
        data = record["alert"]["data"]
        assert (data["status"], data["message"], data["family"]) == (
            status,
            "Mailbox full",
            "email-delivery",
        )
        assert data["context"]["codeOrigin"] == "status"
        assert data["retry"]["verdict"] == retry


def test_a_failed_email_of_a_status_the_catalog_lacks_is_an_unknown_failure(
    make_runtime: RuntimeFactory,
) -> None:
    (record,) = run(make_runtime, [email_report("e1", "Deferred")])
    data = record["alert"]["data"]
    assert (record["outcome"], data["kind"]) == ("alert", "unknown-code")
    assert data["reason"] == "the catalog does not know the status 'Deferred'"


# ---- WhatsApp ---------------------------------------------------------------------------------


def test_a_failed_whatsapp_message_is_read_with_its_channel_code_and_words(
    make_runtime: RuntimeFactory,
) -> None:
    (record,) = run(make_runtime, [whatsapp_status("w1", "failed", code="131047")])
    assert (record["code"], record["category"], record["match"]) == (
        131047,
        "ExpectedError",
        "exact",
    )
    (alerting,) = run(make_runtime, [whatsapp_status("w2", "Failed", code="131042")])
    data = alerting["alert"]["data"]
    assert (data["code"], data["category"], data["message"]) == (
        131042,
        "UnexpectedClientError",
        "Message Undeliverable.",
    )
    assert data["context"]["codeOrigin"] == "error.channelCode"
    assert data["catalog"]["url"].startswith("https://developers.facebook.com/")


@pytest.mark.parametrize("code", ["not-a-number", "", None, "-5"])
def test_a_failure_whose_channel_code_is_no_number_is_a_failure_with_no_code(
    make_runtime: RuntimeFactory, code: Any
) -> None:
    (record,) = run(make_runtime, [whatsapp_status("w1", "failed", code=code)])
    data = record["alert"]["data"]
    assert (record["code"], data["kind"]) == (None, "unknown-code")
    if code:
        assert data["context"]["channelCode"] == code


def test_an_error_on_a_message_that_got_through_is_not_read(make_runtime: RuntimeFactory) -> None:
    (record,) = run(make_runtime, [whatsapp_status("w1", "delivered", code="131026")])
    assert (record["outcome"], record["code"], record["alert"]) == ("ok", None, None)


# ---- Job Router -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "RouterJobClassificationFailed",
            {"jobId": "j1", "errors": [{"code": "Timeout", "message": "policy X timed out"}]},
            "Timeout: policy X timed out",
        ),
        (
            "RouterJobClassificationFailed",
            {"jobId": "j1", "errors": [{"code": None, "message": "a"}, {"message": "b"}]},
            "a; b",
        ),
        (
            "RouterJobSchedulingFailed",
            {"jobId": "j1", "failureReason": "Expired Job"},
            "Expired Job",
        ),
        (
            "RouterJobExceptionTriggered",
            {"jobId": "j1", "ruleKey": "r100", "exceptionRuleId": "e1"},
            "exception rule r100 triggered",
        ),
    ],
)
def test_a_job_router_failure_alerts_with_its_reason(
    make_runtime: RuntimeFactory, name: str, data: dict[str, Any], message: str
) -> None:
    labels = {"labels": {"customer": EMAIL}, "tags": {"phone": PHONE}}
    (record,) = run(make_runtime, [event("r1", name, {**data, **labels})])
    alert = record["alert"]["data"]
    assert (record["outcome"], record["family"]) == ("alert", "job-router")
    assert (alert["kind"], alert["message"], alert["code"], alert["category"]) == (
        "failure",
        message,
        None,
        None,
    )
    assert alert["reason"].startswith(
        "the event reports a failure (job-router events carry no code)"
    )
    assert alert["context"]["jobId"] == "j1"
    assert EMAIL not in json.dumps(alert) and PHONE not in json.dumps(alert)  # labels unread


# ---- Call Automation in either casing ---------------------------------------------------------


def pascal_result(event_id: str, name: str) -> dict[str, Any]:
    """A callback whose ResultInformation is written as ACS's troubleshooting page writes it."""
    result = call_result(event_id, name)
    result["data"] = {
        "CallConnectionId": "conn-1",
        "ServerCallId": "server-1",
        "CorrelationId": "corr-1",
        "ResultInformation": {
            "Code": 500,
            "SubCode": 560503,
            "Message": "Unexpected server error",
            "SipDetails": {"Code": 486, "Message": "Busy Here"},
            "Q850Details": {"Code": 17, "Message": "User busy"},
        },
    }
    return result


def test_a_pascal_case_result_is_read_with_its_code_subcode_and_details(
    make_runtime: RuntimeFactory,
) -> None:
    (record,) = run(make_runtime, [pascal_result("p1", "CallDisconnected")])
    assert (record["code"], record["subcode"], record["category"]) == (
        500,
        560503,
        "UnexpectedServerError",
    )
    context = record["alert"]["data"]["context"]
    assert context["sipDetails"] == {"code": 486, "message": "Busy Here"}
    assert context["q850Details"] == {"code": 17, "message": "User busy"}
    assert context["callConnectionId"] == "conn-1"


def test_sip_and_q850_details_in_camel_case_reach_the_alert(make_runtime: RuntimeFactory) -> None:
    result = call_result("d1", "CallDisconnected", code=503, subcode=560503)
    result["data"]["resultInformation"] |= {
        "sipDetails": {"code": 503, "message": "Service Unavailable"},
        "q850Details": {"code": 41, "message": "Temporary failure"},
    }
    (record,) = run(make_runtime, [result])
    context = record["alert"]["data"]["context"]
    assert context["sipDetails"] == {"code": 503, "message": "Service Unavailable"}
    assert context["q850Details"] == {"code": 41, "message": "Temporary failure"}


def test_the_failed_events_action_reaches_the_catalog(make_runtime: RuntimeFactory) -> None:
    (play,) = run(make_runtime, [call_result("p1", "PlayFailed", code=408, subcode=8565)])
    data = play["alert"]["data"]
    assert "Azure AI services timed out" in data["catalog"]["message"]
    assert (data["catalog"]["action"], data["catalog"]["source"]) == ("play", "action-play")
    assert "Call Controller" not in data["advice"]
    assert data["context"]["action"] == "play"
    (file_format,) = run(make_runtime, [call_result("p2", "PlayFailed", code=400, subcode=8535)])
    assert "WAV" in file_format["advice"]
    (disconnected,) = run(
        make_runtime, [call_result("d1", "CallDisconnected", code=408, subcode=8565)]
    )
    assert disconnected["source"] == "generic-subcodes"  # no action: the generic tables


def test_the_reader_without_the_catalogs_action_map_reads_no_action() -> None:
    reader = EventReader(lambda code: True)
    envelope = parse_events([call_result("p1", "PlayFailed", code=408, subcode=8565)])[0]
    assert reader.read(envelope).action is None


# ---- no personal data leaves an event ---------------------------------------------------------


def with_pii_everywhere() -> list[dict[str, Any]]:
    """One failing event per family, an email address and a WhatsApp number in every free-text
    field each carries (and in the subjects)."""
    automation = call_result("c1", "CallDisconnected", code=503, subcode=560503, message=PII)
    automation["data"]["operationContext"] = PII
    automation["data"]["resultInformation"] |= {
        "sipDetails": {"code": 503, "message": PII},
        "q850Details": {"code": 41, "message": PII},
    }
    ended = event("e0", "CallEnded", {"reason": {"code": 500, "subCode": 9999, "phrase": PII}})
    whatsapp = whatsapp_status("w1", "failed", code="131042", message=PII)
    whatsapp["subject"] = f"advancedMessage/{PHONE}/{EMAIL}"
    router = event(
        "r1",
        "RouterJobClassificationFailed",
        {"jobId": "j1", "channelReference": PII, "errors": [{"message": PII}]},
    )
    return [
        sms_report("s1", status="Failed", details=f"5000: {PII}"),
        automation,
        ended,
        email_report("m1", "Failed", message=PII),
        whatsapp,
        router,
        event("r2", "RouterJobSchedulingFailed", {"jobId": "j2", "failureReason": PII}),
    ]


def test_no_email_address_or_whatsapp_number_leaves_an_event_unmasked(
    make_runtime: RuntimeFactory, alert_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="acs_triage")
    records = run(make_runtime, with_pii_everywhere())
    assert [r["outcome"] for r in records] == ["alert"] * 7
    left = json.dumps(records) + alert_file.read_text() + caplog.text
    for raw in (EMAIL, PHONE, PHONE.removeprefix("+"), "jane.doe"):
        assert raw not in left
    messages = [a["data"]["message"] for a in read_alerts(alert_file)]
    assert messages[1:] == [PII_MASKED] * 6 and messages[0] == f"5000: {PII_MASKED}"
    automation = records[1]["alert"]["data"]["context"]
    assert automation["operationContext"] == PII_MASKED
    assert automation["sipDetails"]["message"] == PII_MASKED
    assert automation["q850Details"]["message"] == PII_MASKED
    email = records[3]["alert"]["data"]
    assert email["context"]["recipient"] == EMAIL_MASKED
    assert email["event"]["subject"] == "sender/n******@contoso.net/message/m1"
    whatsapp = records[4]["alert"]["data"]
    assert whatsapp["context"]["to"] == PHONE_MASKED
    assert whatsapp["event"]["subject"] == f"advancedMessage/{PHONE_MASKED}/{EMAIL_MASKED}"
    assert records[5]["alert"]["data"]["context"]["channelReference"] == PII_MASKED


def test_ids_stay_as_they_are(make_runtime: RuntimeFactory) -> None:
    (record,) = run(make_runtime, [whatsapp_status("w1", "failed", code="131042")])
    context = record["alert"]["data"]["context"]
    assert context["messageId"] == "d59f9468-0a5c-4022-8200-d7bf6fb78bc5"
    assert context["from"] == "3f870487-d59e-4c01-82dd-46b9d388aa9d"
