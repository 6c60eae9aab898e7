"""``python -m handlers serve | replay`` as a user runs them, in real subprocesses."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import SAMPLES
from tests.events import call_result, sms_report

REPO = Path(__file__).resolve().parents[1]
PLAY_FAILED = SAMPLES / "Microsoft.Communication.PlayFailed-javasdk-test.json"
CREATE_FAILED = SAMPLES / "Microsoft.Communication.CreateCallFailed-javasdk-test.json"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALERT_", "CALLBACK_", "MAX_"))}
    return {**env, **extra}


def run_cli(*args: str, cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "handlers", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_env(PYTHONPATH=str(REPO), **env),
        timeout=60,
        check=False,
    )


def test_replay_prints_a_block_per_file_and_the_totals(tmp_path: Path) -> None:
    result = run_cli(
        "replay", str(PLAY_FAILED), str(CREATE_FAILED), ALERT_FILE=str(tmp_path / "a.jsonl")
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == str(PLAY_FAILED)
    assert re.match(
        r"  ok +PlayFailed +400/8536 +ExpectedError \(action-exact\) +The audio file could not be "
        r"downloaded\.",
        lines[1],
    )
    assert (
        "alert" in result.stdout and "(unknown-code): the event reports a failure" in result.stdout
    )
    assert lines[-1] == "2 event(s): 1 ok, 1 alert; 1 alert(s) sent"


def test_replay_json_is_one_array_in_input_order_and_logs_stay_on_stderr(tmp_path: Path) -> None:
    alert_file = tmp_path / "a.jsonl"
    result = run_cli(
        "-v", "replay", str(CREATE_FAILED), str(PLAY_FAILED), "--json", ALERT_FILE=str(alert_file)
    )
    records = json.loads(result.stdout)
    assert [r["type"] for r in records] == [
        "Microsoft.Communication.CreateCallFailed",
        "Microsoft.Communication.PlayFailed",
    ]
    assert set(records[0]) >= {
        "id",
        "type",
        "outcome",
        "code",
        "subcode",
        "category",
        "match",
        "advice",
        "alert",
    }
    assert records[0]["alert"]["id"] == json.loads(alert_file.read_text())["id"]
    assert records[1]["alert"] is None
    assert '"event": "delivery"' in result.stderr


def test_replay_writes_alerts_to_alerts_jsonl_by_default(tmp_path: Path) -> None:
    result = run_cli("replay", str(CREATE_FAILED), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len((tmp_path / "alerts.jsonl").read_text().splitlines()) == 1
    assert "alerts go to alerts.jsonl" in result.stderr


def test_replay_reports_a_missing_file_and_exits_1(tmp_path: Path) -> None:
    result = run_cli(
        "replay", str(tmp_path / "nope.json"), "--json", ALERT_FILE=str(tmp_path / "a.jsonl")
    )
    assert result.returncode == 1
    [record] = json.loads(result.stdout)
    assert record["outcome"] == "invalid" and "cannot read" in record["reason"]


def test_a_bad_setting_stops_the_cli_with_the_variable_named(tmp_path: Path) -> None:
    result = run_cli(
        "replay", str(PLAY_FAILED), SINK_MAX_ATTEMPTS="many", ALERT_FILE=str(tmp_path / "a")
    )
    assert result.returncode == 2
    assert "SINK_MAX_ATTEMPTS" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str], list[str]]]:
    process = subprocess.Popen(
        # As the README runs it: make serve ARGS="--port N -v" (-v after the command).
        [sys.executable, "-m", "handlers", "serve", "--port", "0", "-v"],
        cwd=tmp_path,
        # No wait before a group's first notification: the test need not sleep 30 s.
        env=clean_env(PYTHONPATH=str(REPO), GROUP_WAIT_SECONDS="0"),
        stderr=subprocess.PIPE,
        text=True,
    )
    banner: list[str] = []
    try:
        assert process.stderr is not None
        for line in process.stderr:
            banner.append(line.rstrip())
            if line.startswith("Ctrl-C"):
                break
        base = re.search(r"on (http://127\.0\.0\.1:\d+/api)", banner[0])
        assert base, banner
        yield base.group(1), process, banner
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_starts_on_embedded_defaults_and_says_what_it_turned_off(
    served: tuple[str, subprocess.Popen[str], list[str]], tmp_path: Path
) -> None:
    base, _, banner = served
    text = "\n".join(banner)
    assert "the Call Automation JWT check is OFF" in text
    assert "alerts go to alerts.jsonl" in text
    for route in ("callbacks", "codes", "eventgrid", "health"):
        assert f"{base}/{route}" in text
    assert set(requests.get(f"{base}/health", timeout=10).json()) == {"status", "version"}
    response = requests.post(
        f"{base}/callbacks",
        json=[call_result("x", "TranscriptionFailed", code=500, subcode=9999)],
        timeout=10,
    )
    assert response.json()["outcomes"] == {"alert": 1}
    alerts = tmp_path / "alerts.jsonl"
    for _ in range(100):  # the flusher thread writes it within about a second; bounded wait
        if alerts.exists() and alerts.read_text().strip():
            break
        time.sleep(0.1)
    lines = alerts.read_text().splitlines()
    assert sum("acs-triage.alert.v1" in line for line in lines) == 1



def test_replay_json_keeps_the_records_a_summary_leaves_out(tmp_path: Path) -> None:
    """A 200's summary lists only the events that need attention; replay lists every one."""
    body = tmp_path / "batch.json"
    body.write_text(
        json.dumps(
            [
                sms_report("ok-1"),
                sms_report("alert-1", status="Failed", details="5000: failed"),
                sms_report("ok-2", details="No error."),
            ]
        ),
        encoding="utf-8",
    )
    result = run_cli("replay", str(body), "--json", ALERT_FILE=str(tmp_path / "a.jsonl"))
    records = json.loads(result.stdout)
    assert [(r["id"], r["outcome"], r["code"]) for r in records] == [
        ("ok-1", "ok", 2000),
        ("alert-1", "alert", 5000),
        ("ok-2", "ok", 2000),
    ]


def test_serve_on_a_busy_port_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        result = run_cli("serve", "--port", str(port), "--quiet", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in lines[0]
    assert "--port" in lines[0]
    assert "Traceback" not in result.stderr


def test_serve_names_its_destinations_and_prints_a_line_per_delivery(
    served: tuple[str, subprocess.Popen[str], list[str]],
) -> None:
    base, process, banner = served
    assert "  alerts to      file alerts.jsonl" in banner
    batch = [
        call_result("y", "TranscriptionFailed", code=500, subcode=9999),
        call_result("z", "PlayFailed", code=400, subcode=8536),
    ]
    for _ in range(2):
        requests.post(f"{base}/callbacks", json=batch, timeout=10)
    assert process.stderr is not None
    lines: list[str] = []
    for line in process.stderr:  # -v adds JSON lines; the delivery lines are the readable ones
        if line.startswith("callbacks: "):
            lines.append(line.rstrip())
        if len(lines) == 2:
            break
    assert lines == [
        "callbacks: 2 events in (1 alert, 1 ok) -> 1 alert out to file",
        "callbacks: 2 events in (2 duplicate) -> nothing out",
    ]


def test_replaying_the_same_files_twice_appends_no_duplicate_alert(tmp_path: Path) -> None:
    for _ in range(2):
        result = run_cli("replay", str(CREATE_FAILED), str(PLAY_FAILED), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert len((tmp_path / "alerts.jsonl").read_text().splitlines()) == 1


def test_replay_of_a_file_that_is_not_json_exits_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    result = run_cli("replay", str(broken), "--json", ALERT_FILE=str(tmp_path / "a.jsonl"))
    assert result.returncode == 1
    [record] = json.loads(result.stdout)
    assert record["outcome"] == "invalid" and "not valid JSON" in record["reason"]


def test_replay_of_a_folder_reads_its_json_files_in_name_order(tmp_path: Path) -> None:
    folder = tmp_path / "payloads"
    folder.mkdir()
    (folder / "b.json").write_bytes(PLAY_FAILED.read_bytes())
    (folder / "a.json").write_bytes(CREATE_FAILED.read_bytes())
    (folder / "notes.txt").write_text("not a payload", encoding="utf-8")
    result = run_cli("replay", str(folder), "--json", ALERT_FILE=str(tmp_path / "a.jsonl"))
    assert result.returncode == 0, result.stderr
    assert [Path(r["file"]).name for r in json.loads(result.stdout)] == ["a.json", "b.json"]


def test_help_shows_the_defaults() -> None:
    result = run_cli("serve", "--help")
    assert result.returncode == 0
    assert "(default: 7071)" in result.stdout and "(default: 127.0.0.1)" in result.stdout


def test_serve_prints_a_storm_as_one_notification_block(
    served: tuple[str, subprocess.Popen[str], list[str]], tmp_path: Path
) -> None:
    base, process, _ = served
    storm = [
        call_result(f"storm-{n}", "CallDisconnected", code=503, subcode=560503)
        for n in range(200)
    ]
    for start in range(0, len(storm), 50):
        answer = requests.post(f"{base}/callbacks", json=storm[start : start + 50], timeout=30)
        assert answer.json()["outcomes"] == {"alert": 50}
    assert process.stderr is not None
    block: list[str] = []
    for line in process.stderr:  # the flusher prints within a second or two
        if line.startswith("== FIRING") or block:
            block.append(line.rstrip())
        if line.strip().startswith("notification "):
            break
    assert "code=503" in block[0] and "subcode=560503" in block[0]
    assert any("alert(s)" in line for line in block)
    alerts = tmp_path / "alerts.jsonl"
    about: list[object] = []
    for _ in range(100):  # written in the same pass or the next; bounded wait
        lines = alerts.read_text().splitlines() if alerts.exists() else []
        notes = [json.loads(x) for x in lines if "acs-triage.notification.v1" in x]
        about = sorted(note["data"]["about"] for note in notes)
        if len(about) >= 2:
            break
        time.sleep(0.1)
    # One for the storm's group, and one for the call failure rate: every result failed.
    assert about == ["alarm", "group"]
