"""The status page: rendered by the app over its real notification state, read and used in a
real headless Chromium.

A storm goes in through the app's own routes on the local host (the README's 500 calls dropped
by a carrier, and SMS reports failed with 5000), the flusher runs on a test clock past
GROUP_WAIT and sends the groups' notifications to the four on-call receivers (loopback
stand-ins) and the alert file, and the page shows what the app now holds. Set
UPDATE_SCREENSHOTS=1 to write the README's screenshots to ``docs/``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from handlers.http.messages import Request
from handlers.http.status import NOT_CONFIGURED, status_page
from handlers.oncall.page import ratio_chart, render_status_page
from handlers.oncall.status import StatusSource, parse_duration, parse_matchers
from handlers.oncall.views import AlarmView, StatusView
from handlers.runtime import Runtime
from tests.chromium import PHONE_WIDTH, Chromium, chromium_binary
from tests.conftest import Clock, LocalHost, RuntimeFactory, clocked, read_notifications
from tests.events import call_result, sms_report
from tests.oncall_receivers import RECEIVER_KINDS, receiver_server, receiver_settings
from tests.oncall_storm import storm_notifications

DOCS = Path(__file__).resolve().parent.parent / "docs"
CALL_GROUP = {"channel": "call", "kind": "error", "code": "503", "subcode": "560503"}
SMS_GROUP = {"channel": "sms", "kind": "error", "code": "5000", "subcode": "none"}
# The default rate alarms, which the conftest's runtime leaves out: every call and SMS of the
# storm failed, so both fire.
RATE_ALARMS = "sms=0.1/0.3,call=0.05/0.2"
# What the SMS reports carry: the page must show none of them.
RAW_NUMBERS = ("15555550123", "15555550100")


@dataclass
class Storm:
    runtime: Runtime
    host: LocalHost
    clock: Clock
    alert_file: Path

    @property
    def page_url(self) -> str:
        return self.host.url("status")

    @property
    def source(self) -> StatusSource:
        assert self.runtime.status_source is not None
        return self.runtime.status_source

    def fingerprint(self, labels: dict[str, str]) -> str:
        (found,) = (g.fingerprint for g in self.source.snapshot(now()).groups
                    if {k: g.labels[k] for k in labels} == labels)
        return found


def now() -> datetime:
    return datetime.now(UTC)


def post_storm(host: LocalHost, start: int = 0, calls: int = 500, texts: int = 40) -> None:
    """The README's storm (calls dropped by a carrier, 503/560503, in batches of 50, as Call
    Automation posts them) and SMS reports failed with 5000, as Event Grid delivers them."""
    for first in range(start, start + calls, 50):
        batch = [call_result(f"storm-{n}", code=503, subcode=560503, message="Service unavailable")
                 for n in range(first, min(first + 50, start + calls))]
        assert host.post("callbacks", batch).status_code == 200
    reports = [sms_report(f"sms-{n}", status="Failed", details="5000: Message failed to deliver",
                          failed_segments=1) for n in range(start, start + texts)]
    if reports:
        assert host.post("eventgrid", reports).status_code == 200


@pytest.fixture
def storm(
    make_runtime: RuntimeFactory, local_host: LocalHost, alert_file: Path
) -> Iterator[Storm]:
    """The storm a minute ago; its groups notified after GROUP_WAIT, its rate alarms at once,
    nothing resolved yet. The test clock stays just behind the page's (the wall clock), so the
    alarms' window, read at the page's now, still holds the storm."""
    with ExitStack() as stack:
        servers = {kind: stack.enter_context(receiver_server(kind)) for kind in RECEIVER_KINDS}
        settings = {k: v for kind, server in servers.items()
                    for k, v in receiver_settings(kind, server).items()}
        runtime = make_runtime(flush_each_delivery=False, group_wait_seconds=30,
                               alarm_rules=RATE_ALARMS, **settings)
        clock = Clock(time.time() - 60)
        clocked(runtime, clock)
        post_storm(local_host)
        clock.now += 31
        runtime.flush()
        yield Storm(runtime, local_host, clock, alert_file)


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
        assert number not in answer.text
    assert answer.text.count("data-group=") == 2 and answer.text.count("data-alarm=") == 2
    rows = re.findall(r'<tr data-notification="[^"]+">.*?</tr>', answer.text)
    assert len(rows) == 4  # the groups' and the alarms' first notifications, and where they went
    for row in rows:
        for receiver in (*RECEIVER_KINDS, "file"):
            assert f"{receiver} sent" in row


def test_a_silence_posted_by_form_mutes_the_group_and_answers_see_other(storm: Storm) -> None:
    form = {"action": "add", "matchers": "code=503, subcode!=0", "duration": "2h",
            "created_by": "jane.doe@contoso.com", "comment": "carrier incident, call +15555550123"}
    answer = requests.post(storm.page_url + "?code=function-key", data=form, timeout=10,
                           allow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/api/status?code=function-key"
    view = storm.source.snapshot(now())
    (silence,) = view.silences
    assert (silence.created_by, silence.comment) == (
        "j*******@contoso.com", "carrier incident, call +*******0123")
    assert [str(m) for m in silence.matchers] == ['code="503"', 'subcode!="0"']
    muted = {g.labels["code"]: g.silenced_by for g in view.groups}
    assert muted == {"503": silence.id, "5000": None}


def test_a_silenced_group_records_its_silence_and_its_next_notification_says_so(
    storm: Storm,
) -> None:
    source = storm.source
    silence = source.add_silence(parse_matchers("code=503"), created_by="on-call",
                                 comment="carrier", starts_at=now(), ends_at=now() + timedelta(1))
    post_storm(storm.host, start=500, calls=100, texts=0)
    storm.clock.now += 301  # past GROUP_INTERVAL: the update is due, and muted
    storm.runtime.flush()
    page = requests.get(storm.page_url, timeout=10).text
    call = storm.fingerprint(CALL_GROUP)
    assert re.search(rf'data-group="{call}" data-silenced="true"', page)
    source.expire_silence(silence.id, now())
    storm.clock.now += 1
    storm.runtime.flush()
    updates = [n["data"] for n in read_notifications(storm.alert_file)
               if n["data"]["group"] == call]
    assert [(u["reason"], u.get("afterSilence"), u["sinceLast"]) for u in updates] == [
        ("new", False, 500), ("update", True, 100)]


@pytest.mark.parametrize(
    ("form", "why"),
    [
        ({"action": "add", "matchers": "", "duration": "2h", "created_by": "a", "comment": "b"},
         "at least one matcher"),
        ({"action": "add", "matchers": "code 503", "duration": "2h", "created_by": "a",
          "comment": "b"}, "is not name=value"),
        ({"action": "add", "matchers": "code=~(", "duration": "2h", "created_by": "a",
          "comment": "b"}, "not a valid matcher"),
        ({"action": "add", "matchers": "phone=1", "duration": "2h", "created_by": "a",
          "comment": "b"}, "unknown labels"),
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
    assert storm.source.snapshot(now()).silences == ()


def test_without_a_destination_the_page_says_there_is_nothing_to_show(
    make_runtime: RuntimeFactory,
) -> None:
    runtime: Runtime = make_runtime(sinks=[])
    assert runtime.status_source is None
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
    assert not matchers[2].matches({"channel": "callback"})  # a regex matches the whole value


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
    call, sms = storm.fingerprint(CALL_GROUP), storm.fingerprint(SMS_GROUP)
    browser.open(storm.page_url)
    before = page_state(browser)
    groups = {g["id"]: g for g in before["groups"]}
    assert set(groups) == {call, sms}
    for shown in ("call 503/560503", "code=503", "subcode=560503", "500 (0 new)",
                  "First seen", "Last seen", "critical", "--matcher 'code=503'"):
        assert shown in groups[call]["text"]
    assert "sms 5000: " in groups[sms]["text"] and "40 (0 new)" in groups[sms]["text"]
    assert not groups[call]["silenced"]
    assert {a["id"] for a in before["alarms"]} == {
        "alarm-call-failure-rate", "alarm-sms-failure-rate"}
    assert all(a["chartWidth"] > 100 for a in before["alarms"])
    assert before["silences"] == []
    assert len(before["notifications"]) == 4
    assert all("pagerduty sent" in n and "alertmanager sent" in n
               for n in before["notifications"])

    browser.submit("#silence-form", {
        "matchers": "code=503, subcode=560503", "duration": "2h",
        "created_by": "on-call", "comment": "known carrier incident",
    })
    after = page_state(browser)
    muted = {g["id"]: g["silenced"] for g in after["groups"]}
    assert muted == {call: True, sms: False}
    muted_card = next(g["text"] for g in after["groups"] if g["id"] == call)
    assert "Silenced by\nknown carrier incident (on-call, until" in muted_card
    (silence,) = after["silences"]
    assert 'code="503"' in silence and "known carrier incident" in silence and "on-call" in silence

    shot = browser.screenshot(tmp_path / "desktop.png")
    assert shot.startswith(b"\x89PNG") and len(shot) > 20_000
    if os.environ.get("UPDATE_SCREENSHOTS"):
        (DOCS / "status-page.png").write_bytes(shot)

    (made,) = storm.source.snapshot(now()).silences
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
