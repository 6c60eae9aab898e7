"""Silences: a silenced group is counted but not notified; when the silence ends, the next
notification carries what happened meanwhile. Made through ``/api/silences`` and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from handlers.alerting.matchers import Matcher, parse_matcher
from handlers.errors import InvalidSilence
from handlers.inbound.envelope import parse_events
from handlers.notify.silences import Silences
from handlers.settings import setting_names
from handlers.state.groups import MemoryGroupStore
from tests.azurite import Azurite, azurite_fixture
from tests.conftest import Clock, LocalHost, RuntimeFactory, clocked, read_notifications
from tests.events import call_result

__all__ = ["azurite_fixture"]

REPO = Path(__file__).resolve().parent.parent


def storm(start: int, count: int) -> list[dict[str, object]]:
    return [
        call_result(f"s{n}", "CallDisconnected", code=503, subcode=560503)
        for n in range(start, start + count)
    ]


def test_a_silence_mutes_a_group_and_its_end_tells_what_happened_meanwhile(
    make_runtime: RuntimeFactory, local_host: LocalHost, alert_file: Path
) -> None:
    clock = Clock()
    runtime = make_runtime(flush_each_delivery=False, group_wait_seconds=30)
    clocked(runtime, clock)
    made = local_host.post(
        "silences",
        {"matchers": {"code": "503", "subcode": "560503"}, "duration": "1h",
         "comment": "known carrier incident"},
    )
    assert made.status_code == 201
    silence = made.json()
    listed = local_host.request("GET", "silences").json()
    assert [s["id"] for s in listed] == [silence["id"]]

    runtime.pipeline.run(parse_events(storm(0, 40)), way_in="test")
    other = [call_result("o1", "PlayFailed", code=500, subcode=8572)]
    runtime.pipeline.run(parse_events(other), way_in="test")
    for _ in range(30):  # half an hour of timer ticks under the silence
        clock.now += 60
        runtime.flush()
    muted = read_notifications(alert_file)
    # Only the other group was notified (first, then resolved after 15 quiet minutes).
    assert [(n["data"]["labels"]["code"], n["data"]["reason"]) for n in muted] == [
        ("500", "new"),
        ("500", "resolved"),
    ]

    runtime.pipeline.run(parse_events(storm(40, 10)), way_in="test")
    ended = local_host.request("DELETE", "silences", params={"id": silence["id"]})
    assert ended.status_code == 200
    assert local_host.request("GET", "silences").json() == []
    clock.now += 1
    runtime.flush()
    notes = read_notifications(alert_file)
    after = [n["data"] for n in notes if n["data"]["labels"]["code"] == "503"]
    assert len(after) == 1
    assert after[0]["afterSilence"] is True and after[0]["total"] == 50
    assert after[0]["sinceLast"] == 50


def test_bad_silences_are_problems_not_traces(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    make_runtime()
    cases = [
        {"matchers": {}, "duration": "1h", "comment": "x"},
        {"matchers": {"phone": "+15555550123"}, "duration": "1h", "comment": "x"},
        {"matchers": {"code": "503"}, "duration": "forever", "comment": "x"},
        {"matchers": {"code": "503"}, "duration": "1h", "comment": ""},
        {"matchers": {"code": "503"}, "duration": "90d", "comment": "x"},
        ["not", "an", "object"],
    ]
    for body in cases:
        answer = local_host.post("silences", body)
        assert answer.status_code == 400, body
        assert answer.json()["type"].endswith("invalid-silence")
        assert "Traceback" not in answer.text and "5555550123" not in answer.text
    gone = local_host.request("DELETE", "silences", params={"id": "nope"})
    assert gone.status_code == 404


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "handlers", "silence", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.mark.azurite
def test_the_cli_adds_lists_and_expires_silences_in_the_table(
    azurite: Azurite, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k.upper() not in set(setting_names())}
    env.update(
        PYTHONPATH=str(REPO),
        DEDUPE_STORE="table",
        DEDUPE_TABLE_CONNECTION_STRING=azurite.connection_string,
        ALERT_FILE=str(tmp_path / "alerts.jsonl"),
        CALLBACK_JWT_REQUIRED="false",
    )
    added = cli(env, "add", "--match", "code=503", "--for", "2h", "--comment", "carrier down")
    assert added.returncode == 0, added.stderr
    silence = json.loads(added.stdout)
    assert silence["matchers"] == [{"name": "code", "op": "=", "value": "503"}]
    assert silence["comment"] == "carrier down" and silence["created_by"]
    listed = cli(env, "list")
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [silence["id"]]
    assert cli(env, "expire", silence["id"]).returncode == 0
    assert cli(env, "list").stdout == ""
    assert silence["id"] in cli(env, "list", "--expired").stdout
    bad = cli(env, "add", "--match", "nope", "--for", "2h", "--comment", "x")
    assert bad.returncode == 2 and "name=value" in bad.stderr and "Traceback" not in bad.stderr


def test_the_api_takes_operators_and_the_old_object_form_and_says_who(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    make_runtime()
    listed = local_host.post("silences", {
        "matchers": [{"name": "code", "op": "=", "value": "503"},
                     {"name": "origin", "op": "!=", "value": "microsoft"},
                     {"name": "channel", "op": "=~", "value": "call|sms"}],
        "duration": "2h", "comment": "carrier incident", "createdBy": "jane.doe@contoso.com",
    })
    assert listed.status_code == 201, listed.text
    made = listed.json()
    assert [(m["name"], m["op"], m["value"]) for m in made["matchers"]] == [
        ("code", "=", "503"), ("origin", "!=", "microsoft"), ("channel", "=~", "call|sms")]
    assert made["created_by"] == "j*******@contoso.com"  # shown to everyone: masked
    old_form = local_host.post(
        "silences", {"matchers": {"code": "487"}, "duration": "1h", "comment": "x"})
    assert old_form.status_code == 201
    assert old_form.json()["matchers"] == [{"name": "code", "op": "=", "value": "487"}]
    assert old_form.json()["created_by"] == "api"
    for bad in ([{"name": "code", "op": "~=", "value": "5"}],
                [{"name": "code", "op": "=~", "value": "(5"}],
                [{"name": "code", "op": "=", "value": "5" * 201}], []):
        answer = local_host.post("silences", {"matchers": bad, "duration": "1h", "comment": "x"})
        assert answer.status_code == 400, bad


def test_operators_mute_what_they_say_and_the_group_records_which_silence(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    clock = Clock()
    runtime = make_runtime(flush_each_delivery=False, group_wait_seconds=30)
    clocked(runtime, clock)
    notifier = runtime.pipeline.notifier
    assert notifier is not None and notifier.silences is not None
    # Every server error but the carrier's 503s: the 503 group is still notified.
    silence = notifier.silences.add(
        [Matcher(name="code", op="=~", value="5.."), Matcher(name="code", op="!=", value="503")],
        timedelta(hours=1), "noisy 5xx", "on-call",
    )
    runtime.pipeline.run(parse_events(storm(0, 5)), way_in="test")
    other = [call_result("o1", "PlayFailed", code=500, subcode=8572)]
    runtime.pipeline.run(parse_events(other), way_in="test")
    clock.now += 31
    runtime.flush()
    assert [n["data"]["labels"]["code"] for n in read_notifications(alert_file)] == ["503"]
    muted = {doc["labels"]["code"]: doc.get("silenced_by") for doc in notifier.groups.documents()}
    assert muted == {"503": None, "500": silence.id}


def test_a_silence_stored_before_operators_existed_still_mutes() -> None:
    store = MemoryGroupStore()
    old = {"id": "s-old", "matchers": {"code": "503", "subcode": "560503"},
           "starts_at": 1_000.0, "ends_at": 9_000.0, "comment": "from last year"}
    store.change("s-old", lambda _: old)
    silences = Silences(store, clock=lambda: 2_000.0)
    (read,) = silences.active()
    assert [str(m) for m in read.matchers] == ['code="503"', 'subcode="560503"']
    assert read.created_by == "unknown"
    assert read.matches({"code": "503", "subcode": "560503", "channel": "call"})
    assert not read.matches({"code": "503", "subcode": "0"})


def test_the_cli_takes_operators_and_an_author(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k.upper() not in set(setting_names())}
    env.update(PYTHONPATH=str(REPO), ALERT_FILE=str(tmp_path / "alerts.jsonl"),
               CALLBACK_JWT_REQUIRED="false")
    added = cli(env, "add", "--matcher", "code!=503", "--matcher", 'channel=~"call|sms"',
                "--duration", "2h", "--comment", "all but the carrier", "--author", "jane")
    assert added.returncode == 0, added.stderr
    made = json.loads(added.stdout)
    assert made["matchers"] == [{"name": "code", "op": "!=", "value": "503"},
                                {"name": "channel", "op": "=~", "value": "call|sms"}]
    assert made["created_by"] == "jane"
    bad = cli(env, "add", "--matcher", "code=~(", "--duration", "2h", "--comment", "x")
    assert bad.returncode == 2 and "not a valid matcher" in bad.stderr


def test_a_regular_expression_that_backtracks_forever_elsewhere_matches_at_once() -> None:
    """``(a+)+b`` against 60 a's takes Python's re about 2^60 steps; RE2, as Alertmanager,
    answers in linear time, so an operator's pattern cannot stall the flusher or the page."""
    matcher = parse_matcher('sender=~"(a+)+b"')
    assert not matcher.matches({"sender": "a" * 60})
    assert parse_matcher('sender=~"(a+)+b"').matches({"sender": "aaab"})


def test_a_pattern_re2_cannot_run_in_linear_time_is_refused_with_the_reason() -> None:
    with pytest.raises(InvalidSilence):
        parse_matcher(r'carrier=~"(a)\1"')  # a backreference: Python's re would take it
    with pytest.raises(InvalidSilence):
        parse_matcher('carrier=~"(unclosed"')
