"""Issue "Hold under attack": the bodies an attacker sent, each answered as the README promises.

Each test here failed on the code before the fix: deep nesting answered 500, ``1e999`` reached
the alert file as ``Infinity``, a malformed event slipped past the topic allow-list, a
validation event inside a batch swallowed the batch, an origin with control characters was
echoed, a misconfigured app answered 500.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import catalog.lookup
from handlers.inbound.envelope import (
    MAX_EVENTS_PER_DELIVERY,
    MAX_NESTING_DEPTH,
    nesting_depth,
    parse_events,
)
from tests.conftest import LocalHost, RuntimeFactory, read_alerts
from tests.events import ACS_TOPIC, as_cloudevent, sms_report, validation_event
from tests.test_webhook import assert_problem

EVIL_TOPIC = "/subscriptions/evil/resourceGroups/rg/providers/Microsoft.Communication/x/y"


def nested(depth: int) -> str:
    """JSON text nesting ``depth`` levels (arrays and objects in turn); too deep for json.dumps."""
    opening = "".join('[' if level % 2 == 0 else '{"a":' for level in range(depth))
    closing = "".join(']' if level % 2 == 0 else '}' for level in reversed(range(depth)))
    return opening + '"bottom"' + closing


# --- 1. nesting --------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_NESTING_DEPTH - 2, 975])
def test_deep_data_in_a_batch_is_refused_whole_and_never_a_500(
    make_runtime: RuntimeFactory, local_host: LocalHost, alert_file: Any, depth: int
) -> None:
    make_runtime()
    deep = sms_report("deep", status="Failed", details="5000: failed")
    deep["data"]["extra"] = "PLACEHOLDER"
    good = sms_report("good", status="Failed", details="5000: failed")
    body = json.dumps([good, deep]).replace('"PLACEHOLDER"', nested(depth))
    response = local_host.post("eventgrid", body.encode())
    # the envelope (array → event → data → extra) adds 3 levels to the data's own depth
    if depth + 3 <= MAX_NESTING_DEPTH:
        assert response.status_code == 200
        assert response.json()["alerts"] == 2
    else:
        assert_problem(response, 400, "nests too deeply")
        assert read_alerts(alert_file) == []


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"{}", 1),
        (b"[[[]]]", 3),
        (b'["[[[[[[", "{{{{"]', 1),  # brackets inside strings do not nest
        (b'["\\"[[[[", {"a": [1]}]', 3),  # an escaped quote does not end the string
        (b'["\\\\", [[]]]', 3),  # an escaped backslash does not escape the quote after it
        (b'"', 0),  # an unterminated string: not JSON, but never an error here
        (b"", 0),
    ],
)
def test_nesting_depth_counts_structure_not_text(text: bytes, depth: int) -> None:
    assert nesting_depth(text) == depth
    if text not in (b'"', b""):
        parsed = json.loads(text)
        assert parsed is not None


# --- 2. non-finite numbers -----------------------------------------------------------------


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity", "-Infinity"])
def test_a_number_beyond_a_double_is_a_bad_request_not_an_alert(
    make_runtime: RuntimeFactory, local_host: LocalHost, alert_file: Any, number: str
) -> None:
    make_runtime()
    good = json.dumps(sms_report("good", status="Failed", details="5000: failed"))
    poisoned = json.dumps(sms_report("bad")).replace('"segmentsSucceeded": 1', f'"n": {number}')
    response = local_host.post("eventgrid", f"[{good},{poisoned}]".encode())
    assert_problem(response, 400, "not valid JSON")
    assert read_alerts(alert_file) == []


# --- 3. the allow-list comes first ---------------------------------------------------------


@pytest.mark.parametrize(
    "element",
    [
        {"id": 123, "topic": EVIL_TOPIC, "eventType": "Microsoft.Communication.SMSDeliveryReportReceived", "data": {}},  # noqa: E501
        {"id": "x", "topic": EVIL_TOPIC, "eventType": "Microsoft.Communication.SMSDeliveryReportReceived", "data": {}},  # noqa: E501
        {"id": "x", "eventType": "Microsoft.Communication.CallEnded", "data": {}},
        "not even an object",
        {"specversion": "1.0", "id": "c", "type": "T", "source": EVIL_TOPIC, "topic": ACS_TOPIC},
    ],
    ids=["unreadable id", "readable", "no topic", "not an object", "cloudevent by source"],
)
def test_every_element_is_checked_against_the_allow_list_readable_or_not(
    make_runtime: RuntimeFactory, local_host: LocalHost, alert_file: Any, element: Any
) -> None:
    make_runtime(allowed_topics=ACS_TOPIC)
    body = [sms_report("good", status="Failed", details="5000: failed"), element]
    assert_problem(local_host.post("eventgrid", body), 403, "does not accept")
    assert read_alerts(alert_file) == []


def test_a_cloudevent_is_judged_by_its_source_not_its_topic(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    make_runtime(allowed_topics=ACS_TOPIC)
    event = as_cloudevent(sms_report("ce", status="Failed", details="5000: failed"))
    event["topic"] = EVIL_TOPIC
    response = local_host.post("eventgrid", [event])
    assert response.status_code == 200
    assert response.json()["alerts"] == 1


def test_topics_are_one_spelling_for_the_allow_list_and_for_duplicates(
    make_runtime: RuntimeFactory, local_host: LocalHost, alert_file: Any
) -> None:
    make_runtime(allowed_topics=ACS_TOPIC)
    first = sms_report("same", status="Failed", details="5000: failed")
    shouted = ACS_TOPIC.upper() + "/"
    again = sms_report("same", status="Failed", details="5000: failed", topic=shouted)
    assert local_host.post("eventgrid", [first]).json()["alerts"] == 1
    answer = local_host.post("eventgrid", [again]).json()
    assert answer["outcomes"] == {"duplicate": 1}
    assert len(read_alerts(alert_file)) == 1


# --- 4. a validation event inside a batch --------------------------------------------------


def test_a_validation_event_inside_a_batch_is_ignored_and_the_rest_processed(
    make_runtime: RuntimeFactory, local_host: LocalHost, alert_file: Any
) -> None:
    body = [
        sms_report("a", status="Failed", details="5000: failed"),
        *validation_event("sneaky"),
        sms_report("b", status="Failed", details="5000: failed"),
    ]
    # Why it is ignored is in its record, which replay keeps (the summary lists only alerts).
    replayed = make_runtime(sinks=[]).pipeline.run(parse_events(body), way_in="replay")
    assert "validation" in (replayed.triages[1].record().reason or "")
    make_runtime()
    response = local_host.post("eventgrid", body)
    assert response.status_code == 200
    answer = response.json()
    assert "validationResponse" not in answer
    assert answer["outcomes"] == {"alert": 2, "ignored": 1}
    assert [e["id"] for e in answer["events"]] == ["a", "b"]
    assert len(read_alerts(alert_file)) == 2


def test_two_validation_events_are_not_a_handshake(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    make_runtime()
    body = [*validation_event("one"), *validation_event("two")]
    body[1]["id"] = "second"
    answer = local_host.post("eventgrid", body).json()
    assert answer["outcomes"] == {"ignored": 2}


# --- 5. the size of one delivery -----------------------------------------------------------


def test_more_events_than_event_grid_ever_sends_is_a_413(
    make_runtime: RuntimeFactory, local_host: LocalHost, alert_file: Any
) -> None:
    make_runtime()
    body = "[" + ",".join(['{"eventType":"x"}'] * (MAX_EVENTS_PER_DELIVERY + 1)) + "]"
    assert_problem(local_host.post("eventgrid", body.encode()), 413, "at most 5000")
    assert read_alerts(alert_file) == []


# --- 12. smaller holes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    ["evil\x00.example", "evil\x0b.example", "evil\x0c.example", "a," + "b", "x" * 1025],
    ids=["NUL", "VT", "FF", "two origins", "over 1 KB"],
)
def test_an_origin_that_is_not_one_host_name_is_refused(
    make_runtime: RuntimeFactory, local_host: LocalHost, origin: str
) -> None:
    make_runtime()
    from handlers.http.messages import Headers, Request
    from handlers.http.routes import eventgrid

    # straight to the route: an HTTP client refuses to send most of these headers itself
    request = Request("OPTIONS", headers=Headers({"WebHook-Request-Origin": origin}))
    response = eventgrid(request)
    assert response.status == 400
    assert origin not in response.body.decode("utf-8", "replace")


def test_a_misconfigured_app_keeps_events_waiting_with_a_503(
    local_host: LocalHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_BODY_BYTES", "lots")
    response = local_host.post("eventgrid", [sms_report("a")])
    assert_problem(response, 503, "MAX_BODY_BYTES")
    assert int(response.headers["Retry-After"]) > 0


def test_a_bug_behind_the_codes_route_is_a_500_problem_not_a_bare_error(
    make_runtime: RuntimeFactory, local_host: LocalHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_runtime()

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(catalog.lookup.Catalog, "explain", broken)
    response = local_host.request("GET", "codes", params={"code": "487"})
    assert_problem(response, 500, "Unexpected RuntimeError")
    assert "secret detail" not in response.text
