"""The per-event record: the 200 summary and ``replay --json`` say the same about each event."""

from __future__ import annotations

from handlers.inbound.envelope import parse_events
from handlers.pipeline import NEEDS_ATTENTION
from handlers.records import EventRecord, ReplayRecord
from tests.conftest import RuntimeFactory
from tests.events import call_result, sms_report

EVENTS = [
    call_result("t1", "TranscriptionFailed", code=500, subcode=9999),  # unknown code: alert
    call_result("p1", "PlayFailed", code=400, subcode=8536),  # expected: ok
    sms_report("s1"),  # delivered: ok
    {"id": "bad", "eventType": "Microsoft.Communication.PlayFailed", "subject": "",
     "eventTime": "2026-11-21T10:00:00Z", "dataVersion": "1.0", "data": "not an object"},
]


def test_the_summary_and_replay_records_share_every_field(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime()
    delivery = runtime.pipeline.run(parse_events(EVENTS), way_in="test")
    summary_lines = delivery.summary()["events"]
    replayed = [ReplayRecord(t.record(), "payload.json").to_json() for t in delivery.triages]
    # replay keeps every record; the summary lists the events that need attention
    assert [record["outcome"] for record in replayed] == ["alert", "ok", "ok", "invalid"]
    assert replayed[1]["message"] == "File Download Failed"  # the field cli.py once lost
    attention = [record for record in replayed if record["outcome"] in NEEDS_ATTENTION]
    for line, record in zip(summary_lines, attention, strict=True):
        alert = record.pop("alert")
        assert record.pop("file") == "payload.json"
        assert line.pop("alert_id", None) == (alert["id"] if alert else None)
        assert line == record
    assert [line["outcome"] for line in summary_lines] == ["alert", "invalid"]


def test_a_file_that_could_not_be_replayed_has_the_same_fields_as_an_event() -> None:
    unreadable = ReplayRecord.unreadable("missing.json", "cannot read: No such file").to_json()
    event = ReplayRecord(EventRecord(id="e", type="T", outcome="ok"), "f.json").to_json()
    assert list(unreadable) == list(event)
    assert unreadable["outcome"] == "invalid" and unreadable["message"] is None


def test_an_alert_is_named_by_id_in_the_summary_and_whole_in_replay(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime()
    [triage] = runtime.pipeline.run(parse_events(EVENTS[:1]), way_in="test").triages
    record = triage.record()
    assert record.alert is not None
    assert record.to_summary()["alert_id"] == record.alert.id
    assert ReplayRecord(record, "f").to_json()["alert"] == record.alert.to_dict()
