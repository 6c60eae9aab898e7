"""The one CloudEvent representation: what every destination writes."""

from __future__ import annotations

import json

import pytest

from handlers.alerting.alert import Alert, AlertData, SourceEvent
from handlers.alerting.cloudevent import json_batch, json_lines, rfc3339_or_none

EVENT = SourceEvent(id="e-1", type="T", source="/s", subject=None, time="2026-11-21T10:00:00Z")


def alert(**attributes: str | None) -> Alert:
    return Alert(
        id="a-1",
        source="/acs-triage",
        data=AlertData(kind="invalid-event", reason="data: Field required", event=EVENT),
        **attributes,
    )


def test_the_structured_form_has_the_required_attributes_and_leaves_empty_ones_out() -> None:
    event = alert(subject="", time=None).to_dict()
    assert event == {
        "specversion": "1.0",
        "id": "a-1",
        "type": "acs-triage.alert.v1",
        "source": "/acs-triage",
        "datacontenttype": "application/json",
        "data": event["data"],
    }
    assert event["data"]["kind"] == "invalid-event"
    assert event["data"]["code"] is None  # data keeps its nulls: they say "no code"


def test_the_json_text_is_the_dict_compact_and_not_ascii_escaped() -> None:
    one = alert(subject="calls/é")
    assert json.loads(one.to_json()) == one.to_dict()
    assert "é".encode() in one.to_json()
    assert b", " not in one.to_json()


def test_lines_and_batches_are_made_of_the_same_bytes() -> None:
    events = [alert(), alert(subject="s")]
    assert json_lines(events).splitlines() == [e.to_json() for e in events]
    assert json.loads(json_batch(events)) == [e.to_dict() for e in events]


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("2024-05-06T07:08:09.1234567Z", "2024-05-06T07:08:09.1234567Z"),
        ("2026-11-21T10:00:00+01:00", "2026-11-21T10:00:00+01:00"),
        ("2026-11-21T10:00:00", "2026-11-21T10:00:00Z"),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_time_is_rfc3339_or_left_out(written: str | None, kept: str | None) -> None:
    assert rfc3339_or_none(written) == kept
    assert alert(time=written).to_dict().get("time") == kept
