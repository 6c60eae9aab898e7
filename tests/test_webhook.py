"""The Event Grid route over real HTTP: handshakes, deliveries, and docs/status-codes.md."""

from __future__ import annotations

import json
from typing import Any

import pytest

import handlers
from handlers.http.messages import PROBLEM_JSON
from handlers.inbound.envelope import parse_events
from tests.conftest import LocalHost, RuntimeFactory
from tests.events import ACS_TOPIC, as_cloudevent, call_result, sms_report, validation_event


def assert_problem(response: Any, status: int, detail: str) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith(PROBLEM_JSON)
    problem = response.json()
    assert set(problem) >= {"type", "title", "status", "detail"}
    assert problem["status"] == status
    assert detail in problem["detail"]
    assert "Traceback" not in response.text


# --- handshakes ---------------------------------------------------------------------------


def test_validation_event_is_answered_with_its_code(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    make_runtime()
    response = local_host.post(
        "eventgrid",
        validation_event("abc-123"),
        headers={"aeg-event-type": "SubscriptionValidation"},
    )
    assert response.status_code == 200
    assert response.json() == {"validationResponse": "abc-123"}


def test_validation_from_a_topic_outside_the_allow_list_is_forbidden(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    make_runtime(allowed_topics=ACS_TOPIC)
    stranger = validation_event(
        topic="/subscriptions/x/providers/Microsoft.Storage/storageAccounts/y"
    )
    assert_problem(local_host.post("eventgrid", stranger), 403, "does not accept subscriptions")
    allowed = local_host.post("eventgrid", validation_event("ok", topic=ACS_TOPIC.lower()))
    assert allowed.json() == {"validationResponse": "ok"}


def test_validation_event_without_a_code_is_a_bad_request(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    make_runtime()
    event = validation_event()
    event[0]["data"] = {}
    assert_problem(local_host.post("eventgrid", event), 400, "validationCode")


@pytest.mark.parametrize("rate", [None, "120"])
def test_cloudevents_options_handshake_echoes_the_origin(
    make_runtime: RuntimeFactory, local_host: LocalHost, rate: str | None
) -> None:
    make_runtime()
    headers = {"WebHook-Request-Origin": "eventgrid.azure.net"}
    if rate:
        headers["WebHook-Request-Rate"] = rate
    response = local_host.request("OPTIONS", "eventgrid", headers=headers)
    assert response.status_code == 200
    assert response.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"
    assert response.headers["WebHook-Allowed-Rate"] == "*"
    assert response.headers["Allow"] == "POST, OPTIONS"


def test_options_without_an_origin_is_a_bad_request(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    make_runtime()
    assert_problem(local_host.request("OPTIONS", "eventgrid"), 400, "WebHook-Request-Origin")


def test_subscription_deleted_event_is_acknowledged(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    make_runtime()
    deleted = [
        {
            "id": "d1",
            "topic": ACS_TOPIC,
            "eventType": "Microsoft.EventGrid.SubscriptionDeletedEvent",
            "data": {"eventSubscriptionId": "/sub"},
            "eventTime": "t",
            "dataVersion": "1",
        }
    ]
    response = local_host.post("eventgrid", deleted)
    assert response.status_code == 200
    assert (response.json()["outcomes"], response.json()["events"]) == ({"ignored": 1}, [])


# --- deliveries in either schema ----------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "shape"),
    [
        ("application/json", "eventgrid-array"),
        ("application/cloudevents+json; charset=utf-8", "cloudevent-object"),
        ("application/cloudevents-batch+json", "cloudevent-array"),
        ("text/plain", "cloudevent-array"),  # the body says what it is, not the header
    ],
)
def test_deliveries_are_taken_in_either_schema_whatever_the_content_type(
    make_runtime: RuntimeFactory, local_host: LocalHost, content_type: str, shape: str
) -> None:
    make_runtime()
    events = [sms_report("m1"), sms_report("m2", status="Failed", details="4007: opted out")]
    body: Any = {
        "eventgrid-array": events,
        "cloudevent-object": as_cloudevent(events[0]),
        "cloudevent-array": [as_cloudevent(e) for e in events],
    }[shape]
    response = local_host.post("eventgrid", body, headers={"Content-Type": content_type})
    assert response.status_code == 200
    summary = response.json()
    assert summary["received"] == (1 if shape == "cloudevent-object" else 2)
    assert summary["categories"]["Success"] == 1  # m1's 2000, read from its details


def test_a_delivery_summary_counts_outcomes_and_categories(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    make_runtime()
    batch = [
        sms_report("s1"),
        sms_report("s2", status="Failed", details="4007: opted out"),
        sms_report("s3", status="Failed", details="5000: failed"),
        {
            "id": "i1",
            "eventType": "Microsoft.Communication.IncomingCall",
            "topic": ACS_TOPIC,
            "data": {},
        },
    ]
    summary = local_host.post("eventgrid", batch).json()
    assert summary["received"] == 4
    assert summary["outcomes"] == {"ok": 2, "alert": 1, "ignored": 1}
    assert summary["categories"] == {
        "Success": 1,
        "ExpectedError": 1,
        "UnexpectedServerError": 1,
    }
    assert summary["alerts"] == 1


def test_one_malformed_event_is_reported_with_its_id_and_does_not_fail_the_batch(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    make_runtime()
    bad = sms_report("bad-1")
    bad["data"]["deliveryAttempts"] = "not a list"
    response = local_host.post("eventgrid", [sms_report("good-1"), bad, sms_report("good-2")])
    assert response.status_code == 200
    summary = response.json()
    assert summary["outcomes"] == {"ok": 2, "invalid": 1}
    [record] = summary["events"]
    assert record["id"] == "bad-1"
    assert "deliveryAttempts" in record["reason"]


def test_deliveries_from_a_topic_outside_the_allow_list_are_forbidden(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    make_runtime(allowed_topics=f"{ACS_TOPIC},/other")
    assert local_host.post("eventgrid", [sms_report("a")]).status_code == 200
    stranger = sms_report(
        "b", topic="/subscriptions/x/providers/Microsoft.Communication/communicationServices/evil"
    )
    assert_problem(local_host.post("eventgrid", [sms_report("c"), stranger]), 403, "Event 1")


# --- bad bodies: the exact status, always problem+json, never a 500 -----------------------

NESTED = b"[" * 100_000 + b"]" * 100_000
TWO_MB = json.dumps([sms_report(f"m{i}") for i in range(2_600)]).encode()


@pytest.mark.parametrize(
    ("name", "body", "status", "detail"),
    [
        ("not JSON", b"<xml/>", 400, "not valid JSON"),
        ("empty", b"", 400, "empty"),
        ("a JSON scalar", b"42", 400, "JSON int"),
        ("a JSON string", b'"event"', 400, "JSON str"),
        ("null", b"null", 400, "JSON null"),
        ("an object without a type", b'{"id": "1", "data": {}}', 400, "without 'type'"),
        ("an empty array", b"[]", 400, "empty array"),
        ("an array of non-events", b"[1, [], {}]", 400, "No element"),
        ("wrong types in the envelope", b'[{"id": 1, "type": 2, "data": []}]', 400, "No element"),
        ("2 MB", TWO_MB, 413, f"The body is {len(TWO_MB):,} bytes; the limit is 1,100,000."),
        ("nesting 100,000 deep", NESTED, 400, "nests too deeply"),
        ("invalid UTF-8", b'[{"id": "\xff\xfe"}]', 400, "not valid UTF-8"),
        ("NaN", b'[{"id": NaN, "type": "x"}]', 400, "NaN"),
        (
            "huge integer",
            b'[{"id": "1", "type": "x", "data": ' + b"9" * 5000 + b"}]",
            400,
            "not valid JSON",
        ),
    ],
)
def test_a_bad_body_gets_its_exact_status_and_a_problem(
    make_runtime: RuntimeFactory,
    local_host: LocalHost,
    name: str,
    body: bytes,
    status: int,
    detail: str,
) -> None:
    make_runtime()
    assert_problem(local_host.post("eventgrid", body), status, detail)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("a string", "data is a str"),
        ({"deliveryStatus": ["Delivered"]}, "valid string"),
        (
            {"deliveryStatus": "Failed", "deliveryAttempts": [{"segmentsFailed": "many"}]},
            "valid integer",
        ),
    ],
)
def test_wrong_types_in_data_make_an_invalid_event_that_is_alerted_not_a_failed_delivery(
    make_runtime: RuntimeFactory, local_host: LocalHost, data: Any, reason: str
) -> None:
    """An event whose envelope is readable is an event: its bad data is alerted, never dropped."""
    make_runtime()
    event = sms_report("typed-wrong")
    event["data"] = data
    response = local_host.post("eventgrid", [event])
    assert response.status_code == 200
    [record] = response.json()["events"]
    assert record["outcome"] == "invalid"
    assert reason in record["reason"]
    assert record["alert_id"]


def test_size_limit_is_a_setting(make_runtime: RuntimeFactory, local_host: LocalHost) -> None:
    make_runtime(max_body_bytes=2048)
    body = json.dumps([sms_report(f"m{i}") for i in range(5)])
    assert_problem(local_host.post("eventgrid", body), 413, "the limit is 2,048.")


def test_a_method_the_route_does_not_take_is_refused(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    make_runtime()
    response = local_host.request("GET", "eventgrid")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST, OPTIONS"


def test_health_is_anonymous_and_says_status_and_version_only(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    make_runtime()
    health = local_host.request("GET", "health").json()
    assert health == {"status": "ready", "version": handlers.__version__}


def test_health_is_not_ready_when_settings_are_bad(
    local_host: LocalHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_BODY_BYTES", "lots")
    response = local_host.request("GET", "health")
    assert_problem(response, 503, "MAX_BODY_BYTES")


def test_a_call_result_mid_batch_is_enriched_in_the_summary(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    body = [
        as_cloudevent(sms_report("s1")),
        call_result("c1", "PlayFailed", code=400, subcode=8536),
    ]
    replayed = make_runtime(sinks=[]).pipeline.run(parse_events(body), way_in="replay")
    record = replayed.triages[1].record()
    assert (record.match, record.source, record.family) == (
        "action-exact", "action-play", "call-automation"
    )
    make_runtime()
    summary = local_host.post("eventgrid", body).json()
    assert summary["categories"] == {"Success": 1, "ExpectedError": 1}


def test_a_summary_counts_every_event_and_lists_those_that_need_attention(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    make_runtime()
    body = [
        sms_report("ok-1"),
        sms_report("alert-1", status="Failed", details="5000: failed"),
        sms_report("ok-2"),
    ]
    first = local_host.post("eventgrid", body).json()
    assert (first["received"], first["outcomes"]) == (3, {"ok": 2, "alert": 1})
    assert [e["id"] for e in first["events"]] == ["alert-1"]
    again = local_host.post("eventgrid", body).json()
    assert [(e["id"], e["outcome"], e["code"]) for e in again["events"]] == [
        ("ok-1", "duplicate", 2000),
        ("alert-1", "duplicate", 5000),
        ("ok-2", "duplicate", 2000),
    ]


def test_a_large_body_is_refused_with_its_size_readable_not_masked_as_a_phone_number(
    local_host: LocalHost,
) -> None:
    """Seven digits in a row look like a phone number to the masking of every detail: the
    sizes are written with thousands separators, so the answer still says how large."""
    answer = local_host.post("eventgrid", TWO_MB)
    assert_problem(answer, 413, f"The body is {len(TWO_MB):,} bytes")
    assert b"***" not in answer.content
