"""Reading a delivery body: what is not an event delivery is refused, one bad event is not."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.errors import MalformedDelivery as BadRequest
from handlers.inbound.envelope import decode_body, parse_events, read_envelope


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"", "The body is empty"),
        (b"   \n", "The body is empty"),
        (b"\xff\xfe{}", "not valid UTF-8"),
        (b"{not json", "not valid JSON"),
        (b'{"a": NaN}', "NaN is not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nests too deeply"),
    ],
)
def test_a_body_that_cannot_be_read_is_a_bad_request(body: bytes, detail: str) -> None:
    with pytest.raises(BadRequest, match=detail):
        decode_body(body)


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (42, "JSON int"),
        ("text", "JSON str"),
        (None, "JSON null"),
        ({"id": "x"}, "without 'type'"),
        ([], "empty array"),
        ([1, 2, {}], "No element of the array is an event"),
    ],
)
def test_a_payload_without_any_event_is_a_bad_request(payload: Any, detail: str) -> None:
    with pytest.raises(BadRequest, match=detail):
        parse_events(payload)


def test_event_grid_schema_is_read_into_an_envelope() -> None:
    [envelope] = parse_events(
        [
            {
                "id": "1",
                "eventType": "T",
                "topic": "/t",
                "subject": "s",
                "eventTime": "now",
                "data": {},
            }
        ]
    )
    assert (envelope.schema, envelope.id, envelope.type, envelope.source) == (
        "eventgrid",
        "1",
        "T",
        "/t",
    )
    assert (envelope.subject, envelope.time, envelope.problem) == ("s", "now", None)


def test_a_single_cloudevent_object_is_read_into_an_envelope() -> None:
    [envelope] = parse_events(
        {"specversion": "1.0", "id": "1", "type": "T", "source": "src", "time": "now", "data": 1}
    )
    assert (envelope.schema, envelope.source, envelope.time, envelope.data) == (
        "cloudevents",
        "src",
        "now",
        1,
    )


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ({"type": "T", "source": "s", "specversion": "1.0"}, "'id' is missing"),
        ({"id": 5, "type": "T", "source": "s"}, "'id' is a int, expected a string"),
        ({"id": "1", "type": "T", "source": "s", "specversion": "0.3"}, "expected '1.0'"),
        ({"id": "1", "eventType": "T", "subject": 7}, "'subject' is a int"),
        ("not an object", "is not a JSON object"),
    ],
)
def test_one_unreadable_element_becomes_an_envelope_with_its_problem(
    item: Any, problem: str
) -> None:
    envelopes = parse_events([{"id": "ok", "eventType": "T"}, item])
    assert envelopes[0].problem is None
    assert envelopes[1].problem is not None and problem in envelopes[1].problem


def test_an_event_without_an_id_is_known_again_by_its_content() -> None:
    item = {"type": "T", "source": "s", "data": {"b": 1, "a": 2}}
    reordered = json.loads('{"data": {"a": 2, "b": 1}, "source": "s", "type": "T"}')
    assert read_envelope(0, item).key == read_envelope(3, reordered).key
    assert read_envelope(0, item).key != read_envelope(0, {**item, "data": {}}).key


def test_the_key_of_an_event_is_its_source_without_regard_to_case_and_its_id() -> None:
    upper = read_envelope(0, {"id": "1", "eventType": "T", "topic": "/A/B"})
    lower = read_envelope(0, {"id": "1", "type": "T", "source": "/a/b"})
    assert upper.key == lower.key
