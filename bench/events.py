"""Builders of realistic events for the benchmark and the tests (tests import bench, not back)."""

from __future__ import annotations

from typing import Any

ACS_TOPIC = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
    "Microsoft.Communication/communicationServices/acs-prod"
)


def sms_report(
    event_id: str,
    *,
    status: str = "Delivered",
    details: str | None = "2000: No Error",
    failed_segments: int = 0,
    topic: str = ACS_TOPIC,
) -> dict[str, Any]:
    """An SMSDeliveryReportReceived in the Event Grid schema."""
    return {
        "id": event_id,
        "topic": topic,
        "subject": "/phonenumber/15555550123",
        "eventType": "Microsoft.Communication.SMSDeliveryReportReceived",
        "eventTime": "2026-11-21T10:00:00Z",
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "data": {
            "messageId": event_id,
            "from": "+15555550100",
            "to": "+15555550123",
            "deliveryStatus": status,
            "deliveryStatusDetails": details,
            "receivedTimestamp": "2026-11-21T10:00:00Z",
            "deliveryAttempts": [
                {
                    "timestamp": "2026-11-21T09:59:58Z",
                    "segmentsSucceeded": 1,
                    "segmentsFailed": failed_segments,
                }
            ],
        },
    }


def call_result(
    event_id: str,
    event_name: str = "CallDisconnected",
    *,
    code: int | None = 200,
    subcode: int | None = 0,
    message: str = "",
    connection: str = "421f3500-f5de-4c12-bf61-9e2641433687",
) -> dict[str, Any]:
    """A Call Automation callback CloudEvent; ``code=None`` leaves out resultInformation."""
    data: dict[str, Any] = {
        "callConnectionId": connection,
        "serverCallId": "aHR0cHM6Ly9hcGk",
        "correlationId": "b880bd5a-1916-470a-b43d-aabf3caff91c",
        "operationContext": "ctx",
    }
    if code is not None:
        data["resultInformation"] = {
            "code": code,
            "subCode": subcode,
            "message": message,
            "sipDetails": {"code": 0, "message": ""},
        }
    return {
        "id": event_id,
        "source": f"calling/callConnections/{connection}",
        "type": f"Microsoft.Communication.{event_name}",
        "subject": f"calling/callConnections/{connection}",
        "time": "2026-11-21T10:00:00Z",
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "data": data,
    }


def as_cloudevent(event: dict[str, Any]) -> dict[str, Any]:
    """The same Event Grid schema event in the CloudEvents 1.0 schema."""
    return {
        "id": event["id"],
        "source": event["topic"],
        "subject": event["subject"],
        "type": event["eventType"],
        "time": event["eventTime"],
        "specversion": "1.0",
        "data": event["data"],
    }


def validation_event(
    code: str = "512d38b6-c7b8-40c8-89fe-f46f9e9622b6", topic: str = ACS_TOPIC
) -> list[dict[str, Any]]:
    return [
        {
            "id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
            "topic": topic,
            "subject": "",
            "data": {
                "validationCode": code,
                "validationUrl": "https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/x/validate",
            },
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "eventTime": "2022-10-28T04:23:35.1981776Z",
            "metadataVersion": "1",
            "dataVersion": "1",
        }
    ]
