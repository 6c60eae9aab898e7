"""The status page: rendered by the app, read and used in a real headless Chromium.

The state is a simulated storm (a carrier outage on calls, SMS failures, an SMS failure-rate
alarm) recorded as the flusher would; the page is served by the local host through the same
route as in Azure. Set UPDATE_SCREENSHOTS=1 to write the README's screenshots to ``docs/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from handlers.http.messages import Request
from handlers.http.status import NOT_CONFIGURED, status_page
from handlers.oncall.page import ratio_chart, render_status_page
from handlers.oncall.status import parse_duration, parse_matchers
from handlers.oncall.views import AlarmView, StatusView
from handlers.runtime import Runtime
from tests.chromium import PHONE_WIDTH, Chromium, chromium_binary
from tests.conftest import LocalHost, RuntimeFactory
from tests.oncall_board import StormBoard
from tests.oncall_storm import RAW_NUMBERS, storm_notifications

DOCS = Path(__file__).resolve().parent.parent / "docs"


@dataclass
class Storm:
    board: StormBoard
    host: LocalHost
    started: datetime

    @property
    def page_url(self) -> str:
        return self.host.url("status")


@pytest.fixture
def storm(make_runtime: RuntimeFactory, local_host: LocalHost) -> Storm:
    """Twelve minutes into the storm: everything fired, nothing resolved yet."""
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=12)
    firing = [n for n in storm_notifications(started) if n.status == "firing"]
    board = StormBoard(firing)
    make_runtime(status_source=board)
    return Storm(board, local_host, started)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chromium]:
    assert chromium_binary(), "the page tests need Debian's chromium: apt-get install chromium"
    with Chromium(tmp_path / "profile") as running:
        yield running


# --- served over HTTP --------------------------------------------------------------------------


def test_the_page_is_html_with_a_strict_policy_and_no_personal_data(storm: Storm) -> None:
    answer = requests.get(storm.page_url, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    assert "<script" not in answer.text
    for number in RAW_NUMBERS:
        assert number not in answer.text and number[1:] not in answer.text
    assert answer.text.count("data-group=") == 2 and answer.text.count("data-alarm=") == 1


def test_a_silence_posted_by_form_mutes_the_group_and_answers_see_other(storm: Storm) -> None:
    form = {"action": "add", "matchers": "code=503, subcode=560503", "duration": "2h",
            "created_by": "jane.doe@contoso.com", "comment": "carrier incident, call +15555550123"}
    answer = requests.post(storm.page_url + "?code=function-key", data=form, timeout=10,
                           allow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/api/status?code=function-key"
    view = storm.board.snapshot(datetime.now(UTC))
    (silence,) = view.silences
    assert (silence.created_by, silence.comment) == (
        "j*******@contoso.com", "carrier incident, call +*******0123")
    muted = {g.fingerprint: g.silenced_by for g in view.groups}
    assert muted == {"grp-call-503-560503": silence.id, "grp-sms-5000": None}


@pytest.mark.parametrize(
    ("form", "why"),
    [
        ({"action": "add", "matchers": "", "duration": "2h", "created_by": "a", "comment": "b"},
         "at least one matcher"),
        ({"action": "add", "matchers": "code 503", "duration": "2h", "created_by": "a",
          "comment": "b"}, "is not name=value"),
        ({"action": "add", "matchers": "code=~(", "duration": "2h", "created_by": "a",
          "comment": "b"}, "not a valid matcher"),
        ({"action": "add", "matchers": "code=503", "duration": "9d", "created_by": "a",
          "comment": "b"}, "at most 7 days"),
        ({"action": "add", "matchers": "code=503", "duration": "2h", "created_by": "",
          "comment": "b"}, "author is required"),
        ({"action": "expire", "silence_id": "sil-404"}, "No silence"),
        ({"action": "delete-everything"}, "neither adding nor expiring"),
    ],
)
def test_a_bad_form_answers_400_with_the_page_and_why(
    storm: Storm, form: dict[str, str], why: str
) -> None:
    answer = requests.post(storm.page_url, data=form, timeout=10, allow_redirects=False)
    assert answer.status_code == 400
    assert why in answer.text and 'role="status"' in answer.text
    assert storm.board.snapshot(datetime.now(UTC)).silences == ()


def test_without_a_notification_state_the_page_says_so(make_runtime: RuntimeFactory) -> None:
    runtime: Runtime = make_runtime()
    answer = status_page(Request("GET", url="http://127.0.0.1/api/status"), runtime)
    assert answer.status == 200 and NOT_CONFIGURED in answer.body.decode()


# --- the parts, alone --------------------------------------------------------------------------


def test_matchers_read_as_alertmanager_writes_them() -> None:
    matchers = parse_matchers('code=503, subcode!=0\nchannel=~"call|sms", origin!~micro.*')
    assert [str(m) for m in matchers] == [
        'code="503"', 'subcode!="0"', 'channel=~"call|sms"', 'origin!~"micro.*"']
    labels = {"code": "503", "subcode": "560503", "channel": "call", "origin": "customer-sbc"}
    assert all(m.matches(labels) for m in matchers)
    assert not matchers[2].matches({"channel": "chat"})


def test_durations_are_minutes_hours_or_days() -> None:
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration(" 2h ") == timedelta(hours=2)
    assert parse_duration("7d") == timedelta(days=7)


def test_the_chart_scales_to_the_storm_and_draws_both_thresholds() -> None:
    alarm = next(n.about for n in storm_notifications() if isinstance(n.about, AlarmView))
    svg = ratio_chart(alarm)
    assert 'data-points="60"' in svg and svg.count("<line") == 2
    line = re.search(r'<polyline points="([^"]+)"', svg)
    assert line is not None
    ys = [float(point.split(",")[1]) for point in line.group(1).split()]
    assert min(ys) < 15  # the plateau near the top, not flattened at the bottom


def test_every_value_on_the_page_is_escaped() -> None:
    group = next(n.about for n in storm_notifications() if n.about.kind == "group")
    hostile = group.model_copy(update={"labels": {"code": "<script>alert(1)</script>"}})
    html = render_status_page(StatusView(now=datetime.now(UTC), groups=(hostile,)))
    assert "<script>" not in html and "&lt;script&gt;" in html


# --- in a real browser -----------------------------------------------------------------------


def page_state(browser: Chromium) -> Any:
    """What a person sees, read from the rendered DOM."""
    return (browser.evaluate("""(() => ({
        groups: [...document.querySelectorAll('[data-group]')].map(g => ({
            id: g.dataset.group, silenced: g.dataset.silenced === 'true', text: g.innerText })),
        alarms: [...document.querySelectorAll('[data-alarm]')].map(a => ({
            id: a.dataset.alarm, points: a.querySelector('svg').dataset.points,
            chartWidth: a.querySelector('svg').getBoundingClientRect().width })),
        silences: [...document.querySelectorAll('[data-silence]')].map(s => s.innerText),
        notifications: [...document.querySelectorAll('[data-notification]')].map(
            n => n.innerText),
        width: document.documentElement.scrollWidth,
    }))()"""))


def test_chromium_shows_the_storm_and_a_silence_from_the_form_mutes_its_group(
    storm: Storm, browser: Chromium, tmp_path: Path
) -> None:
    browser.open(storm.page_url)
    before = page_state(browser)
    groups = {g["id"]: g for g in before["groups"]}
    assert set(groups) == {"grp-call-503-560503", "grp-sms-5000"}
    call = groups["grp-call-503-560503"]
    for shown in ("call 503/560503", "code=503", "subcode=560503", "origin=customer-sbc",
                  "400 (400 new)", "380 distinct", "First seen", "Last seen", "critical"):
        assert shown in call["text"]
    assert not call["silenced"]
    (alarm,) = before["alarms"]
    assert alarm["points"] == "60" and alarm["chartWidth"] > 100
    assert before["silences"] == []
    assert len(before["notifications"]) == 3
    assert all("pagerduty sent" in n for n in before["notifications"])

    browser.submit("#silence-form", {
        "matchers": "code=503, subcode=560503", "duration": "2h",
        "created_by": "on-call", "comment": "known carrier incident",
    })
    after = page_state(browser)
    muted = {g["id"]: g["silenced"] for g in after["groups"]}
    assert muted == {"grp-call-503-560503": True, "grp-sms-5000": False}
    (silence,) = after["silences"]
    assert 'code="503"' in silence and "known carrier incident" in silence and "on-call" in silence
    assert storm.board.muted_by({"code": "503", "subcode": "560503"}, datetime.now(UTC))

    shot = browser.screenshot(tmp_path / "desktop.png")
    assert shot.startswith(b"\x89PNG") and len(shot) > 20_000
    if os.environ.get("UPDATE_SCREENSHOTS"):
        (DOCS / "status-page.png").write_bytes(shot)

    (made,) = storm.board.snapshot(datetime.now(UTC)).silences
    browser.submit(f"[data-silence='{made.id}'] form", {})  # its "Expire now" button
    expired = page_state(browser)
    assert expired["silences"] == []
    assert not any(g["silenced"] for g in expired["groups"])


def test_chromium_on_a_phone_reads_the_page_without_sideways_scrolling(
    storm: Storm, browser: Chromium, tmp_path: Path
) -> None:
    browser.emulate_phone()
    browser.open(storm.page_url)
    state = page_state(browser)
    assert state["width"] <= PHONE_WIDTH  # nothing to scroll sideways
    assert len(state["groups"]) == 2
    shot = browser.screenshot(tmp_path / "phone.png")
    if os.environ.get("UPDATE_SCREENSHOTS"):
        (DOCS / "status-page-phone.png").write_bytes(shot)
