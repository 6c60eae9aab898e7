"""Silences: a silenced group is counted but not notified; when the silence ends, the next
notification carries what happened meanwhile. Made through ``/api/silences`` and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from handlers.inbound.envelope import parse_events
from handlers.runtime import Runtime
from handlers.settings import setting_names
from tests.azurite import Azurite, azurite_fixture
from tests.conftest import LocalHost, RuntimeFactory, read_notifications
from tests.events import call_result

__all__ = ["azurite_fixture"]

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def clocked(runtime: Runtime, clock: Clock) -> None:
    notifier = runtime.pipeline.notifier
    assert notifier is not None and notifier.silences is not None and runtime.flusher
    notifier.clock = notifier.silences.clock = runtime.flusher.clock = clock


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
    assert silence["matchers"] == {"code": "503"} and silence["comment"] == "carrier down"
    listed = cli(env, "list")
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [silence["id"]]
    assert cli(env, "expire", silence["id"]).returncode == 0
    assert cli(env, "list").stdout == ""
    assert silence["id"] in cli(env, "list", "--expired").stdout
    bad = cli(env, "add", "--match", "nope", "--for", "2h", "--comment", "x")
    assert bad.returncode == 2 and "label=value" in bad.stderr and "Traceback" not in bad.stderr
