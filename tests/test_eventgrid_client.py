"""The real azure-eventgrid publisher client delivering to the local host: it takes only 200."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azure.core.credentials import AzureKeyCredential
from azure.core.messaging import CloudEvent
from azure.eventgrid import EventGridEvent, EventGridPublisherClient

from tests.conftest import LocalHost, RuntimeFactory, read_alerts
from tests.events import ACS_TOPIC, sms_report


def client_for(local_host: LocalHost, **options: Any) -> EventGridPublisherClient:
    # The key travels as the aeg-sas-key header; the local host, like `func start`, ignores it.
    return EventGridPublisherClient(
        local_host.url("eventgrid"), AzureKeyCredential("local-key"), **options
    )


def test_cloudevents_sent_by_the_sdk_client_are_accepted(
    make_runtime: RuntimeFactory, local_host: LocalHost, alert_file: Path
) -> None:
    make_runtime()
    failed = sms_report("ce-2", status="Failed", details="5001: temporarily unavailable")
    events = [
        CloudEvent(
            source=ACS_TOPIC, type=e["eventType"], data=e["data"], subject=e["subject"], id=e["id"]
        )
        for e in (sms_report("ce-1"), failed)
    ]
    with client_for(local_host) as client:
        client.send(events)  # raises HttpResponseError on anything but 200
    [alert] = read_alerts(alert_file)
    assert alert["data"]["event"]["id"] == "ce-2"
    assert alert["data"]["code"] == 5001


def test_event_grid_schema_events_sent_by_the_sdk_client_are_accepted(
    make_runtime: RuntimeFactory, local_host: LocalHost, alert_file: Path
) -> None:
    make_runtime()
    source = sms_report("eg-1", status="Failed", details="9999: unknown")
    event = EventGridEvent(
        subject=source["subject"],
        event_type=source["eventType"],
        data=source["data"],
        data_version="1.0",
        topic=ACS_TOPIC,
        id="eg-1",
        event_time=datetime.now(UTC),
    )
    with client_for(local_host) as client:
        client.send([event])
    assert [a["data"]["event"]["id"] for a in read_alerts(alert_file)] == ["eg-1"]


def test_the_sdk_client_never_sees_a_failure_of_an_alert_destination(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    from handlers.alerting.webhook_sink import WebhookSink
    from tests.capture_server import CaptureServer

    with CaptureServer() as hook:
        hook.fail(1, status=500)
        make_runtime(
            sinks=[WebhookSink(hook.url("/a"), "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=")],
            sink_max_attempts=1,
            alert_webhook_receives="alerts",
        )
        event = CloudEvent(
            source=ACS_TOPIC,
            type="Microsoft.Communication.SMSDeliveryReportReceived",
            data=sms_report("x", status="Failed", details="5000: x")["data"],
            id="x",
        )
        # Retries off (a per-call option: the constructor's is not applied): the test sees
        # each answer. The destination fails the first flush; the delivery does not notice.
        with client_for(local_host) as client:
            client.send([event], retry_total=0)
            assert hook.accepted() == []
            client.send([event], retry_total=0)  # a redelivery: a duplicate, then a flush
        assert len(hook.accepted()) == 1
