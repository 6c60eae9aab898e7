"""The on-call path as a person runs it: ``python -m handlers serve`` (what ``make serve``
runs) with all four receivers pointed at loopback stand-ins and short timers, the README's
storm script run against it as written, the local host's own flusher thread doing the rest.

Each receiver sees exactly one firing and one resolved message per group and for the call
failure-rate alarm the storm sets off (PagerDuty's with the same dedup_key), no phone number
anywhere, and the host's status page, loaded in headless Chromium, shows the storm while it
fires and the messages that went out once it is over. The alarm resolves when the carrier
recovers: twenty thousand calls go through, and the ratio falls under its clear level.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests

from handlers.settings import setting_names
from tests.capture_server import CaptureServer
from tests.chromium import Chromium, chromium_binary
from tests.events import call_result
from tests.oncall_receivers import (
    RECEIVER_KINDS,
    group_and_status,
    receiver_server,
    receiver_settings,
)

REPO = Path(__file__).resolve().parent.parent
README_HOST = "http://127.0.0.1:7071"
PHONE_DIGITS = ("15555550123", "15555550100", "5555550123")
WAIT_SECONDS = 40.0
# Short timers: the first message a second after the storm, resolved after 12 quiet seconds
# (room to load the page while the groups fire); no update or reminder within the test; an
# alarm resolves as soon as its ratio is under its clear level.
TIMERS = {
    "GROUP_WAIT_SECONDS": "1",
    "GROUP_INTERVAL_SECONDS": "600",
    "REPEAT_INTERVAL_SECONDS": "3600",
    "RESOLVE_TIMEOUT_SECONDS": "12",
    "ALARM_CLEAR_SECONDS": "0",
}
# Calls that go through once the carrier recovers: 500 failed of 20,500 is under 2.5 %, the
# call alarm's clear level (half its 5 % warning ratio).
RECOVERED_CALLS = 20_000
CALL_ALARM = "alarm-call-failure-rate"
# The levels the call alarm can be notified at on its way down: critical, then maybe warning.
CALL_ALARM_LEVELS = (1, 2)


def readme_storm_script() -> str:
    """The README's storm script, exactly as a person would paste it."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"# A storm:.*?<<'PY'\n(.*?)\nPY\n", readme, re.DOTALL)
    assert found is not None, "the README's storm script is gone"
    return found.group(1)


class ServedHost:
    """``python -m handlers serve --port 0`` in its own process, stopped by its own pid."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "handlers", "serve", "--port", "0", "--quiet"],
            cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        banner = wait_for(lambda: next((ln for ln in self.lines if " on http://" in ln), None),
                          "the host's banner")
        base = re.search(r"on (http://\S+)/api", banner)
        assert base is not None, banner
        self.base = base.group(1)

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:  # drained, so the host never blocks on its terminal
            self.lines.append(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"waited {timeout:.0f} s for {what}")


def host_environment(servers: dict[str, CaptureServer], tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.upper() not in set(setting_names())}
    env.update(PYTHONPATH=str(REPO), ALERT_FILE=str(tmp_path / "alerts.jsonl"), **TIMERS)
    for kind, server in servers.items():
        for name, value in receiver_settings(kind, server).items():
            env[name.upper()] = str(value)
    return env


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chromium]:
    assert chromium_binary(), "this test needs Debian's chromium: apt-get install chromium"
    with Chromium(tmp_path / "profile") as running:
        yield running


def messages(servers: dict[str, CaptureServer]) -> dict[str, Counter[tuple[str, str]]]:
    return {kind: Counter(group_and_status(kind, r) for r in server.accepted())
            for kind, server in servers.items()}


def recover(base: str) -> None:
    """The carrier is back: calls connect again, in deliveries of 1,000."""
    for first in range(0, RECOVERED_CALLS, 1_000):
        calls = [call_result(f"ok-{n}", "CallConnected", code=200, subcode=0)
                 for n in range(first, first + 1_000)]
        answer = requests.post(f"{base}/api/callbacks", json=calls, timeout=60)
        assert answer.status_code == 200, answer.text


def page_groups(browser: Chromium) -> Any:
    return browser.evaluate("""(() => ({
        alarms: [...document.querySelectorAll('[data-alarm]')].map(a => a.dataset.alarm),
        groups: [...document.querySelectorAll('[data-group]')].map(g => g.innerText),
        notifications: [...document.querySelectorAll('[data-notification]')].map(
            n => n.innerText),
    }))()""")


def test_a_storm_on_the_served_app_reaches_every_receiver_once_each_way_and_the_page(
    tmp_path: Path, browser: Chromium
) -> None:
    with ExitStack() as stack:
        servers = {kind: stack.enter_context(receiver_server(kind)) for kind in RECEIVER_KINDS}
        host = ServedHost(host_environment(servers, tmp_path), tmp_path)
        stack.callback(host.stop)

        script = readme_storm_script().replace(README_HOST, host.base)
        ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             timeout=60, check=False)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.count("{'alert': 50}") == 10 and "{'alert': 20}" in ran.stdout

        # Firing: two groups and the call alarm at each receiver; the page shows them.
        wait_for(lambda: all(sum(c.values()) >= 3 for c in messages(servers).values()),
                 "the firing messages")
        browser.open(f"{host.base}/api/status")
        firing = page_groups(browser)
        assert firing["alarms"] == [CALL_ALARM] and len(firing["groups"]) == 2, firing
        assert any("call 503/560503" in g and "500 (0 new)" in g for g in firing["groups"])
        assert any("sms 5000: " in g and "20 (0 new)" in g for g in firing["groups"])

        # Resolved: the alarm once the calls go through, the groups after RESOLVE_TIMEOUT of
        # quiet; then a few more passes send nothing.
        recover(host.base)
        wait_for(lambda: all(sum(c.values()) >= 6 for c in messages(servers).values()),
                 "the resolved messages")
        time.sleep(2.5)
        seen = messages(servers)
        browser.open(f"{host.base}/api/status")
        after = page_groups(browser)
        bodies = [r.body.decode() for s in servers.values() for r in s.requests]
        refused = [r.status for s in servers.values() for r in s.requests if r.status >= 300]

    assert refused == []  # every stand-in checked key, signature and shape, and took each one
    # Each group: exactly one firing and one resolved message. The alarm: one resolved, after
    # a firing message for each level it stood at: critical, and warning too when a pass saw
    # the ratio between the two clear levels while the calls came back (a slow machine).
    alarm_firing = set()
    for kind, counted in seen.items():
        about = {key for key, _ in counted}
        assert len(about) == 3, (kind, counted)
        alarm = next(key for key in about if "call-failure-rate" in key)
        firing = counted[(alarm, "firing")]
        alarm_firing.add(firing)
        assert counted == Counter(
            {(key, status): 1 for key in about - {alarm} for status in ("firing", "resolved")}
            | {(alarm, "firing"): firing, (alarm, "resolved"): 1}
        ), (kind, counted)
    (levels,) = alarm_firing  # every receiver heard the same levels
    assert levels in CALL_ALARM_LEVELS
    pagerduty = [r.json() for r in servers["pagerduty"].accepted()]
    keys: dict[str, list[str]] = {}
    for event in pagerduty:
        keys.setdefault(event["dedup_key"], []).append(event["event_action"])
    assert keys.pop(CALL_ALARM) == ["trigger"] * levels + ["resolve"]
    assert sorted(keys.values()) == [["trigger", "resolve"]] * 2
    for digits in PHONE_DIGITS:
        assert not any(digits in body for body in bodies)
    assert after["groups"] == []  # resolved groups are gone from the page...
    assert len(after["notifications"]) == 5 + levels  # ...and listed among the last ones
    assert all("pagerduty sent" in n and "slack sent" in n for n in after["notifications"])
