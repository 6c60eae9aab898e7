"""Rate alarms: a channel's failed / all results over a sliding window, on a clock the test
moves. Real parts throughout: the pipeline (both paths), the flusher, the file sink, the memory
store (and Azurite for the counting of two instances).

The SMS rule here is ``sms=0.2/0.5`` (warning at 20%, critical at 50%) with the default window
(5 min), minimum volume (30), clear time (5 min) and clear fraction (half the level's ratio).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from handlers.alerting.labels import channel_of
from handlers.alerting.matchers import Matcher
from handlers.errors import EventsInProgress
from handlers.fast.reading import OrdinaryTriage
from handlers.inbound.envelope import parse_events
from handlers.notify.alarms import AlarmDue, AlarmSnapshot, RateAlarms, Tally, tally
from handlers.pipeline import event_record_key
from handlers.runtime import Runtime
from handlers.settings import ALARM_CHANNELS, SettingsError, load_settings
from handlers.state.groups import Change, Document, GroupStore
from handlers.state.table import TableDedupeStore
from tests.azurite import Azurite, azurite_fixture
from tests.capture_server import CaptureServer, Reply
from tests.conftest import RuntimeFactory, deliver_retrying, read_notifications
from tests.events import as_cloudevent, call_result, sms_report
from tests.test_event_families import email_report, whatsapp_status

__all__ = ["azurite_fixture"]

START = 1_800_000_000.0  # a minute boundary: 2027-01-15 08:00:00 UTC
SMS_ALARM = "sms-failure-rate"
RULES = "sms=0.2/0.5,call=0.05/0.2,email=0.1/0.3,whatsapp=0.1/0.3"


@dataclass
class Clock:
    now: float = START

    def __call__(self) -> float:
        return self.now


class CountedStore:
    """A group store that counts its changes (the state-store writes a delivery costs)."""

    def __init__(self, inner: GroupStore) -> None:
        self.inner = inner
        self.changes = 0

    def change(self, key: str, change: Change) -> Document | None:
        self.changes += 1
        return self.inner.change(key, change)

    def documents(self) -> list[Document]:
        return self.inner.documents()


class Traffic:
    """SMS delivery reports with ids of their own, delivered through the pipeline."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.sent = 0

    def batch(self, ok: int, failed: int) -> list[dict[str, Any]]:
        first = self.sent
        self.sent += ok + failed
        return [sms_report(f"ok-{first + n}") for n in range(ok)] + [
            sms_report(f"failed-{first + n}", status="Failed", details="5000: Message failed")
            for n in range(failed)
        ]

    def deliver(self, ok: int, failed: int) -> list[dict[str, Any]]:
        events = self.batch(ok, failed)
        self.runtime.pipeline.run(parse_events(events), way_in="test")
        return events


def alarms_of(runtime: Runtime) -> RateAlarms:
    alarms = runtime.pipeline.alarms
    assert alarms is not None and runtime.flusher is not None
    assert runtime.flusher.alarms is alarms
    return alarms


def clocked(runtime: Runtime, clock: Clock) -> RateAlarms:
    alarms = alarms_of(runtime)
    notifier = runtime.pipeline.notifier
    assert notifier is not None and notifier.silences is not None and runtime.flusher
    alarms.clock = notifier.clock = notifier.silences.clock = runtime.flusher.clock = clock
    return alarms


@dataclass
class Scene:
    """A runtime on a clock the test moves, its SMS traffic, and the alert file it writes."""

    runtime: Runtime
    clock: Clock
    alert_file: Path

    def __post_init__(self) -> None:
        self.traffic = Traffic(self.runtime)
        self.alarms = clocked(self.runtime, self.clock)

    def deliver(self, ok: int, failed: int) -> list[dict[str, Any]]:
        return self.traffic.deliver(ok, failed)

    def tick(self, seconds: float = 10) -> None:
        """The timer trigger: time passes, then a flusher pass."""
        self.clock.now += seconds
        self.runtime.flush()

    def fire_a_warning(self) -> None:
        """10 of 40 results failed (25%: over 20%, under 50%), then a pass."""
        self.deliver(ok=30, failed=10)
        self.tick()

    def clean(self, seconds: float, every: float = 15) -> None:
        """Only successes, 40 every ``every`` seconds, each delivery followed by a pass."""
        for _ in range(int(seconds // every)):
            self.deliver(ok=40, failed=0)
            self.tick(every)

    def notes(self) -> list[dict[str, Any]]:
        """The alarm notifications the file received."""
        return [n for n in read_notifications(self.alert_file) if n["data"]["about"] == "alarm"]

    def reasons(self) -> list[str]:
        return [note["data"]["reason"] for note in self.notes()]

    def snapshot(self, now: float | None = None) -> AlarmSnapshot:
        found = self.alarms.snapshot(self.clock.now if now is None else now)
        [snapshot] = [s for s in found if s.alarm.name == SMS_ALARM]
        return snapshot


@pytest.fixture
def sms(make_runtime: RuntimeFactory, alert_file: Path) -> Scene:
    runtime = make_runtime(flush_each_delivery=False, alarm_rules=RULES)
    return Scene(runtime, Clock(), alert_file)


# --- firing, quiet, escalating, resolving ---------------------------------------------------------


def test_an_sms_failure_rate_fires_above_its_threshold_once_the_volume_is_there(sms: Scene) -> None:
    sms.deliver(ok=0, failed=20)  # 100% failed, but 20 results: under the minimum volume
    sms.tick()
    assert sms.notes() == []

    sms.deliver(ok=15, failed=5)  # now 25 of 40 failed (62.5%): over the critical ratio
    sms.tick()
    [note] = sms.notes()
    data = note["data"]
    assert data["status"] == "firing" and data["reason"] == "new"
    assert data["severity"] == "critical" and data["alarm"]["level"] == "critical"
    assert data["alarm"]["failed"] == 25 and data["alarm"]["total"] == 40
    assert data["labels"] == {"alarm": SMS_ALARM, "channel": "sms"}
    assert data["group"] == f"alarm-{SMS_ALARM}" and data["sequence"] == 1
    assert data["alarm"]["minVolume"] == 30 and data["alarm"]["windowSeconds"] == 300
    assert (data["alarm"]["warningRatio"], data["alarm"]["criticalRatio"]) == (0.2, 0.5)
    assert note["subject"] == f"alarm/{SMS_ALARM}"
    # The same alarm and sequence give the same id in any process.
    expected = uuid.uuid5(uuid.UUID("b2e7f1c4-8a3d-4e59-9c06-7d1a5f3e2b48"), f"{SMS_ALARM}:1")
    assert note["id"] == str(expected)


def test_a_warning_rate_fires_as_a_warning(sms: Scene) -> None:
    sms.fire_a_warning()
    [note] = sms.notes()
    assert note["data"]["severity"] == "warning" and note["data"]["alarm"]["level"] == "warning"
    assert "sms failure rate 25%: 10 of 40 results" in note["data"]["summary"]


def test_the_history_is_the_windows_ratio_at_each_minute(sms: Scene) -> None:
    sms.deliver(ok=30, failed=10)
    for _ in range(2):
        sms.clock.now += 60
        sms.deliver(ok=40, failed=0)
    history = sms.snapshot().alarm.history
    assert [(p.at[11:16], p.ratio) for p in history] == [
        ("08:00", 0.25), ("08:01", 10 / 80), ("08:02", 10 / 120)
    ]
    # Five minutes on, the failures have left the window: the ratio is 0 from then on.
    later = sms.snapshot(START + 300).alarm.history
    assert [(p.at[11:16], p.ratio) for p in later][-3:] == [
        ("08:03", 10 / 120), ("08:04", 10 / 120), ("08:05", 0.0)
    ]


def test_three_failures_at_night_do_not_page(sms: Scene) -> None:
    for _ in range(3):  # one failed SMS every few minutes, nothing else
        sms.deliver(ok=0, failed=1)
        for _ in range(12):
            sms.tick()
    assert sms.notes() == []
    snapshot = sms.snapshot()
    assert snapshot.status == "ok" and snapshot.alarm.level is None
    assert (snapshot.alarm.failed, snapshot.alarm.total) == (2, 2)  # the last two in the window


def test_a_rise_to_critical_is_an_escalation_at_once_and_a_fall_is_a_de_escalation(
    sms: Scene,
) -> None:
    sms.fire_a_warning()
    sms.deliver(ok=0, failed=40)  # 50 of 80: 62.5%, critical
    sms.tick()
    reasons = [(n["data"]["reason"], n["data"]["severity"]) for n in sms.notes()]
    assert reasons == [("new", "warning"), ("escalated", "critical")]

    # Then 20% for a while: under critical's clear level (25%), over warning's (10%).
    sms.clock.now += 300  # the storm leaves the window
    for _ in range(12):
        sms.deliver(ok=40, failed=10)
        sms.tick(30)
    notes = sms.notes()
    assert [(n["data"]["reason"], n["data"]["severity"]) for n in notes][2:] == [
        ("de-escalated", "warning")
    ]
    assert [n["data"]["sequence"] for n in notes] == [1, 2, 3]
    assert len({n["id"] for n in notes}) == 3


def test_it_resolves_only_once_the_ratio_has_stayed_under_the_clear_level_long_enough(
    sms: Scene,
) -> None:
    sms.fire_a_warning()
    fired_at = sms.clock.now

    # Under the warning ratio (20%) but over its clear level (10%): still firing, however long.
    sms.clock.now += 300
    for _ in range(20):
        sms.deliver(ok=17, failed=3)  # 15%
        sms.tick(30)
    assert sms.reasons() == ["new"]

    # Under the clear level for four minutes, then a burst over it: the clock starts again.
    sms.clock.now += 300
    sms.clean(240, every=30)
    sms.deliver(ok=0, failed=60)  # back over the warning ratio: nothing new to say
    sms.tick()
    assert sms.reasons() == ["new"]

    # Clean again: resolved after the burst has left the window and five minutes under.
    sms.clock.now += 300
    quiet_from = sms.clock.now
    while not [n for n in sms.notes() if n["data"]["status"] == "resolved"]:
        sms.deliver(ok=40, failed=0)
        sms.tick(10)
        assert sms.clock.now - quiet_from < 900, "never resolved"
    resolved = sms.notes()[-1]
    assert sms.clock.now - quiet_from >= 300
    data = resolved["data"]
    assert data["reason"] == "resolved" and data["alarm"]["level"] is None
    assert data["severity"] == "warning" and data["sequence"] == 2
    assert data["alarm"]["since"] == sms.notes()[0]["data"]["alarm"]["since"]
    assert fired_at < sms.clock.now
    snapshot = sms.snapshot()
    assert snapshot.status == "resolved" and snapshot.resolved_at is not None
    assert sms.snapshot(sms.clock.now + 3600).status == "ok"


def test_a_later_firing_gets_new_ids_after_a_resolution(sms: Scene) -> None:
    for _ in range(2):
        sms.clock.now += 600  # a quiet night: the window is empty
        sms.fire_a_warning()
        sms.clock.now += 300
        sms.clean(600)
    notes = sms.notes()
    assert sms.reasons() == ["new", "resolved", "new", "resolved"]
    assert len({n["id"] for n in notes}) == 4  # each reached the file: none taken for a repeat


# --- counting ------------------------------------------------------------------------------------


def test_results_are_counted_with_one_change_per_channel_per_delivery_on_both_paths(
    sms: Scene,
) -> None:
    alarms = sms.alarms
    counted = CountedStore(alarms.counts)
    alarms.counts = counted
    fast = sms.runtime.fast
    assert fast is not None

    # The fast path: 300 SMS reports and 200 call results (one body is of one schema: the
    # callbacks' CloudEvents), the ordinary ones counted unread.
    events = [as_cloudevent(e) for e in sms.traffic.batch(ok=290, failed=10)] + [
        call_result(f"c{n}", "CallDisconnected", code=200, subcode=0) for n in range(199)
    ] + [call_result("c-failed", "CallDisconnected", code=500, subcode=560500)]
    read = fast.read(json.dumps(events).encode())
    assert read is not None
    delivery = sms.runtime.pipeline.run_events(read, way_in="test")
    assert sum(isinstance(t, OrdinaryTriage) for t in delivery.triages) > 400
    assert counted.changes == 2  # sms and call: not 500

    # The careful path: an e-mail bounce, a WhatsApp delivery, an ignored and an invalid event.
    others = [
        email_report("e1", "Delivered"),
        email_report("e2", "Failed"),
        whatsapp_status("w1", "delivered"),
        call_result("inbound", "IncomingCall", code=None),
        {**sms_report("broken"), "data": {"deliveryAttempts": "not a list"}},
    ]
    sms.runtime.pipeline.run(parse_events(others), way_in="test")
    assert counted.changes == 2 + 2  # email and whatsapp

    found = alarms.snapshot(sms.clock.now)
    window = {s.alarm.channel: (s.alarm.failed, s.alarm.total) for s in found}
    # The ignored and the unreadable events are not results.
    assert window == {"sms": (10, 300), "call": (1, 200), "email": (1, 2), "whatsapp": (0, 1)}


def test_redelivered_duplicate_and_held_events_do_not_change_the_ratio(sms: Scene) -> None:
    batch = sms.traffic.batch(ok=30, failed=10)
    sms.runtime.pipeline.run(parse_events(batch), way_in="test")
    sms.runtime.pipeline.run(parse_events(batch), way_in="test")  # Event Grid redelivers
    sms.runtime.pipeline.run(parse_events(batch[:5] + batch[:5]), way_in="test")  # and repeats
    assert sms.snapshot().alarm.total == 40

    # Another attempt holds two events: they are answered in-progress and not counted here.
    more = sms.traffic.batch(ok=8, failed=2)
    held = parse_events(more[:2])
    sms.runtime.pipeline.dedupe.claim([event_record_key(e) for e in held], timedelta(seconds=60))
    with pytest.raises(EventsInProgress):
        sms.runtime.pipeline.run(parse_events(more), way_in="test")
    snapshot = sms.snapshot()
    assert (snapshot.alarm.failed, snapshot.alarm.total) == (12, 48)


def test_the_buckets_keep_the_window_and_an_hour_whatever_the_traffic(sms: Scene) -> None:
    alarms = sms.alarms
    alarms.shard = lambda: 0  # every change to one document
    for _ in range(3 * 60):  # three hours, a delivery a minute
        sms.deliver(ok=1, failed=0)
        sms.clock.now += 60
    docs = alarms.counts.documents()
    assert docs and max(len(doc["buckets"]) for doc in docs) <= 60 + 5
    history = sms.snapshot().alarm.history
    assert len(history) == 60  # one point a minute for the last hour


def test_every_alarm_channel_is_a_channel_events_are_labelled_with() -> None:
    types = {
        "sms": "Microsoft.Communication.SMSDeliveryReportReceived",
        "call": "Microsoft.Communication.CallDisconnected",
        "email": "Microsoft.Communication.EmailDeliveryReportReceived",
        "whatsapp": "Microsoft.Communication.AdvancedMessageDeliveryStatusUpdated",
    }
    assert {channel_of(types[channel]) for channel in ALARM_CHANNELS} == set(ALARM_CHANNELS)
    assert tally([(types["sms"], "ok"), (types["sms"], "alert"), (types["sms"], "ignored"),
                  (types["call"], "duplicate"), (types["call"], "invalid")]) == {
        "sms": Tally(total=2, failed=1)
    }


# --- silences and the flusher --------------------------------------------------------------------


def test_a_silence_mutes_an_alarm_and_its_end_lets_it_speak(sms: Scene) -> None:
    silences = sms.alarms.silences
    assert silences is not None
    silence = silences.add(
        [Matcher(name="alarm", value=SMS_ALARM)], timedelta(hours=1), "known carrier incident",
        "on-call",
    )
    for _ in range(10):
        sms.fire_a_warning()
    assert sms.notes() == []
    assert sms.snapshot().status == "ok"  # nobody was told

    silences.expire(silence.id)
    sms.fire_a_warning()
    [note] = sms.notes()
    assert note["data"]["reason"] == "new" and note["data"]["afterSilence"] is True


def test_a_silence_on_another_alarm_does_not_mute_this_one(sms: Scene) -> None:
    silences = sms.alarms.silences
    assert silences is not None
    silences.add(
        [Matcher(name="alarm", value="call-failure-rate")], timedelta(hours=1),
        "call carrier incident", "on-call",
    )
    sms.fire_a_warning()
    assert [n["data"]["labels"]["alarm"] for n in sms.notes()] == [SMS_ALARM]


def test_a_crash_between_the_outbox_and_the_alarms_state_sends_one_notification(
    sms: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    sms.deliver(ok=30, failed=10)

    def crash(due: AlarmDue) -> None:
        raise RuntimeError("the instance dies here")

    monkeypatch.setattr(sms.alarms, "mark_sent", crash)
    with pytest.raises(RuntimeError):
        sms.tick()
    monkeypatch.undo()
    for _ in range(3):
        sms.tick()
    notes = sms.notes()
    assert len(notes) == 1 and notes[0]["data"]["sequence"] == 1


def test_pagerduty_is_paged_by_the_alarm_and_the_page_closes_when_it_resolves(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    with CaptureServer(default=Reply(202)) as pagerduty:
        runtime = make_runtime(
            flush_each_delivery=False,
            alarm_rules="sms=0.2/0.5",
            pagerduty_routing_key="R0UT1NGKEY0000000000000000000000",
            pagerduty_events_url=pagerduty.url("/v2/enqueue"),
        )
        sms = Scene(runtime, Clock(), alert_file)
        sms.fire_a_warning()
        sms.clock.now += 300
        sms.clean(600)
        sent = [request.json() for request in pagerduty.accepted()]
    assert [(s["event_action"], s["dedup_key"]) for s in sent] == [
        ("trigger", f"alarm-{SMS_ALARM}"),
        ("resolve", f"alarm-{SMS_ALARM}"),
    ]
    payload = sent[0]["payload"]
    assert payload["severity"] == "warning" and payload["component"] == "sms"
    assert payload["summary"] == "sms failure rate 25% (10 of 40)"


def test_without_rules_there_is_no_alarm(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(alarm_rules="")
    assert runtime.pipeline.alarms is None and runtime.flusher is not None
    assert runtime.flusher.alarms is None


# --- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "variable", "message"),
    [
        ({"alarm_rules": "router=0.1/0.2"}, "ALARM_RULES", "unknown channels ['router']"),
        ({"alarm_rules": "sms=0.5/0.2"}, "ALARM_RULES", "0 < warning <= critical <= 1"),
        ({"alarm_rules": "sms=0.2"}, "ALARM_RULES", "is not channel=warning/critical"),
        ({"alarm_rules": "sms=0.1/0.2,sms=0.2/0.3"}, "ALARM_RULES", "'sms' is given twice"),
        ({"alarm_rules": "sms=NaN/0.5"}, "ALARM_RULES", "finite number"),
        ({"alarm_window_seconds": "90"}, "ALARM_WINDOW_SECONDS", "whole number of minutes"),
        ({"alarm_window_seconds": "30"}, "ALARM_WINDOW_SECONDS", "greater than or equal to 60"),
        ({"alarm_min_volume": "0"}, "ALARM_MIN_VOLUME", "greater than or equal to 1"),
        ({"alarm_clear_seconds": "-1"}, "ALARM_CLEAR_SECONDS", "greater than or equal to 0"),
        ({"alarm_clear_fraction": "1.5"}, "ALARM_CLEAR_FRACTION", "less than or equal to 1"),
    ],
)
def test_a_bad_alarm_setting_is_refused_naming_its_variable(
    overrides: dict[str, str], variable: str, message: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(callback_jwt_required=False, **overrides)
    assert f"{variable}: " in str(refused.value) and message in str(refused.value)


def test_the_settings_reach_the_alarms(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(
        alarm_rules="sms=0.3/0.6",
        alarm_window_seconds="600",
        alarm_min_volume="50",
        alarm_clear_seconds="120",
        alarm_clear_fraction="0.25",
        repeat_interval_seconds="3600",
    )
    alarms = alarms_of(runtime)
    assert [(r.channel, r.warning, r.critical) for r in alarms.rules] == [("sms", 0.3, 0.6)]
    limits = alarms.limits
    assert (limits.window_seconds, limits.min_volume, limits.clear_seconds) == (600, 50, 120)
    assert (limits.clear_fraction, limits.repeat_interval) == (0.25, 3600)


# --- two instances on one table ------------------------------------------------------------------


@pytest.mark.azurite
def test_two_instances_on_one_table_count_each_result_once(
    make_runtime: RuntimeFactory, azurite: Azurite, alert_file: Path
) -> None:
    clock = Clock()

    def instance() -> tuple[Scene, CountedStore]:
        store = TableDedupeStore.from_connection_string(
            azurite.connection_string, "alarms", window=timedelta(hours=1), purge_interval=None
        )
        runtime = make_runtime(dedupe=store, flush_each_delivery=False, alarm_rules=RULES)
        scene = Scene(runtime, clock, alert_file)
        counted = CountedStore(scene.alarms.counts)
        scene.alarms.counts = counted
        return scene, counted

    (first, first_changes), (second, second_changes) = instance(), instance()
    batches = [parse_events(first.traffic.batch(ok=8, failed=2)) for _ in range(30)]
    start = threading.Barrier(2, timeout=60)

    def deliver(scene: Scene) -> None:
        start.wait()
        for batch in [*batches, *batches[::3]]:  # everything at once on both, a third again
            deliver_retrying(scene.runtime, batch)

    threads = [threading.Thread(target=deliver, args=(scene,)) for scene in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for scene in (first, second):
        window = scene.snapshot().alarm
        assert (window.failed, window.total) == (60, 300)
    # One change per delivery that won at least one event, never one per event.
    assert first_changes.changes + second_changes.changes <= 2 * len(batches)

    # And the alarm fires once, whichever instance's flusher runs the pass.
    for scene in (first, second):
        scene.runtime.flush()
    assert first.snapshot().status == "firing" and first.snapshot().alarm.level == "warning"
    assert first.reasons() == ["new"]
