"""Each destination receives what it chose: alerts, notifications or both.

The real file, the signed webhook and the Event Grid topic client, the last two posting to
loopback receivers. By default the file gets both and the webhook only the notifications; a
topic set to ``alerts`` gets no notification. What a destination does not take counts as done
for it: the outbox empties, no ``sent:`` record is written for it, and what each does take
arrives once and in order.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from handlers.flusher import sent_record_key
from handlers.inbound.envelope import Envelope, parse_events
from handlers.notify.notifier import NOTIFICATION_TYPE
from handlers.runtime import Runtime
from handlers.settings import SettingsError, load_settings
from handlers.state.memory import MemoryDedupeStore
from tests.capture_server import CaptureServer
from tests.conftest import read_events
from tests.events import call_result
from tests.test_storm import Clock

WHSEC = "whsec_" + base64.b64encode(bytes(range(32))).decode()


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return ["notification" if e["type"] == NOTIFICATION_TYPE else "alert" for e in events]


def posted(receiver: CaptureServer) -> list[dict[str, Any]]:
    return [event for request in receiver.accepted() for event in request.json()]


def built(clock: Clock, store: MemoryDedupeStore, **settings: Any) -> Runtime:
    """The runtime the settings make, its destinations theirs, its timers on ``clock``."""
    loaded = load_settings(callback_jwt_required=False, group_wait_seconds=30, **settings)
    runtime = Runtime.build(loaded, dedupe=store)
    assert runtime.flusher is not None and runtime.flusher.notifier is not None
    runtime.flusher.notifier.clock = runtime.flusher.clock = clock
    return runtime


def failures(*ids: str) -> list[Envelope]:
    return parse_events([call_result(event_id, code=503, subcode=560503) for event_id in ids])


def test_each_destination_gets_only_what_it_chose(alert_file: Path) -> None:
    clock = Clock()
    store = MemoryDedupeStore(timedelta(hours=1))
    with CaptureServer() as webhook, CaptureServer() as topic:
        runtime = built(
            clock,
            store,
            alert_file=str(alert_file),
            alert_webhook_url=webhook.url("/hook"),
            alert_webhook_secret=WHSEC,
            alert_topic_endpoint=topic.url("/api/events"),
            alert_topic_key="topic-key-for-tests",
            alert_topic_receives="alerts",
        )
        runtime.pipeline.run(failures("c0", "c1", "c2"), way_in="test")
        runtime.flush()
        clock.now += 31  # the group's first notification is due
        runtime.flush()
        runtime.flush()  # nothing left: nothing sent twice
        file_events, hook_events, topic_events = (
            read_events(alert_file), posted(webhook), posted(topic)
        )
    assert kinds(file_events) == ["alert"] * 3 + ["notification"]
    assert kinds(hook_events) == ["notification"]
    assert kinds(topic_events) == ["alert"] * 3
    assert [e["id"] for e in topic_events] == [e["id"] for e in file_events[:3]]
    assert hook_events[0]["id"] == file_events[3]["id"]
    assert runtime.flusher is not None and len(runtime.flusher.outbox) == 0
    # What a destination does not take is never recorded as sent to it.
    notification = file_events[3]["id"]
    sinks = {sink.name: sink for sink in runtime.flusher.sinks}
    not_taken = [sent_record_key(e["id"], sinks["webhook"]) for e in file_events[:3]]
    not_taken.append(sent_record_key(notification, sinks["topic"]))
    assert store.seen(not_taken) == set()
    assert store.seen([sent_record_key(notification, sinks["webhook"])]) != set()


def test_a_webhook_that_chose_both_gets_alerts_and_notifications_in_order(
    alert_file: Path,
) -> None:
    clock = Clock()
    with CaptureServer() as webhook:
        runtime = built(
            clock,
            MemoryDedupeStore(timedelta(hours=1)),
            alert_file="",
            alert_webhook_url=webhook.url("/hook"),
            alert_webhook_secret=WHSEC,
            alert_webhook_receives="both",
        )
        runtime.pipeline.run(failures("c1"), way_in="test")
        clock.now += 31
        runtime.flush()
        runtime.pipeline.run(failures("c2"), way_in="test")
        runtime.flush()
        received = posted(webhook)
    assert kinds(received) == ["alert", "notification", "alert"]
    assert [e["data"].get("event", {}).get("id") for e in received] == ["c1", None, "c2"]


@pytest.mark.parametrize("name", ["ALERT_FILE_RECEIVES", "ALERT_TOPIC_RECEIVES",
                                  "ALERT_WEBHOOK_RECEIVES"])
def test_a_choice_that_is_none_of_the_three_is_refused_by_name(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, "everything")
    with pytest.raises(SettingsError, match=name):
        load_settings(callback_jwt_required=False)
    monkeypatch.setenv(name, " Alerts ")
    assert getattr(load_settings(callback_jwt_required=False), name.lower()) == "alerts"


def test_the_defaults_are_both_for_the_file_and_the_topic_and_notifications_for_a_webhook(
) -> None:
    settings = load_settings(callback_jwt_required=False)
    assert (
        settings.alert_file_receives,
        settings.alert_topic_receives,
        settings.alert_webhook_receives,
    ) == ("both", "both", "notifications")


def test_with_no_destination_taking_alerts_none_is_kept_in_the_outbox() -> None:
    """Only a webhook, which by default takes notifications: the alerts still count in their
    group, but the outbox holds no entry every destination would pass over."""
    clock = Clock()
    store = MemoryDedupeStore(timedelta(hours=1))
    with CaptureServer() as webhook:
        runtime = built(
            clock, store, alert_webhook_url=webhook.url("/hook"), alert_webhook_secret=WHSEC,
            alarm_rules="",
        )
        assert runtime.flusher is not None
        runtime.pipeline.run(failures("q-1", "q-2", "q-3"), way_in="test")
        assert len(runtime.flusher.outbox) == 0
        clock.now += 31
        runtime.flush()
        (notification,) = posted(webhook)
        assert notification["type"] == NOTIFICATION_TYPE
        assert notification["data"]["total"] == 3
