"""A storm becomes a handful of notifications, on Alertmanager's timers, with exact counts.

10,000 ``CallDisconnected 503/560503`` over ten simulated minutes, in batches of 1 to 50 with
one batch in ten delivered twice, and 200 unrelated failures: one firing notification for the
storm after GROUP_WAIT, one update per GROUP_INTERVAL while it grows, one resolved after
RESOLVE_TIMEOUT of quiet; the unrelated failures in groups of their own. The flusher runs every
ten simulated seconds, as the timer trigger does.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.storm import UNRELATED as UNRELATED_CODES
from handlers.inbound.envelope import parse_events
from handlers.runtime import Runtime
from tests.conftest import RuntimeFactory, read_alerts, read_notifications
from tests.events import call_result

STORM = 10_000
UNRELATED = 200
STORM_SECONDS = 600
TIMER_SECONDS = 10


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def clocked_runtime(make_runtime: RuntimeFactory, clock: Clock, **settings: Any) -> Runtime:
    """A runtime whose notifier and flusher read ``clock``, flushed only when a test says."""
    runtime = make_runtime(flush_each_delivery=False, group_wait_seconds=30, **settings)
    assert runtime.flusher is not None and runtime.flusher.notifier is not None
    runtime.flusher.notifier.clock = runtime.flusher.clock = clock
    return runtime


def storm_events(rng: random.Random) -> list[dict[str, Any]]:
    storm = [
        call_result(f"storm-{n}", "CallDisconnected", code=503, subcode=560503)
        for n in range(STORM)
    ]
    unrelated = [
        call_result(f"other-{n}", name, code=code, subcode=subcode)
        for n, (name, code, subcode) in enumerate(
            UNRELATED_CODES[n % len(UNRELATED_CODES)] for n in range(UNRELATED)
        )
    ]
    events = storm + unrelated
    rng.shuffle(events)
    return events


def run_storm(runtime: Runtime, clock: Clock, rng: random.Random) -> None:
    events = storm_events(rng)
    batches = []
    while events:
        size = rng.randint(1, 50)
        batches.append(events[:size])
        events = events[size:]
    step = STORM_SECONDS / len(batches)
    next_flush = clock.now + TIMER_SECONDS
    end = clock.now + STORM_SECONDS + 900 + 60
    for batch in batches:
        envelopes = parse_events(batch)
        runtime.pipeline.run(envelopes, way_in="storm")
        if rng.random() < 0.1:  # Event Grid redelivers one batch in ten
            runtime.pipeline.run(envelopes, way_in="storm")
        clock.now += step
        while clock.now >= next_flush:
            runtime.flush()
            next_flush += TIMER_SECONDS
    while clock.now < end:  # the quiet after the storm
        clock.now = next_flush
        runtime.flush()
        next_flush += TIMER_SECONDS


def test_a_storm_becomes_one_firing_one_update_per_interval_and_one_resolved(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    clock = Clock()
    runtime = clocked_runtime(make_runtime, clock)
    started = clock.now
    run_storm(runtime, clock, random.Random(11))

    alerts = read_alerts(alert_file)
    assert len(alerts) == STORM + UNRELATED == len({a["id"] for a in alerts})
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for notification in read_notifications(alert_file):
        by_group[notification["data"]["group"]].append(notification["data"])
    storm = next(g for g in by_group.values() if g[0]["labels"]["code"] == "503")
    reasons = [n["reason"] for n in storm]
    assert reasons[0] == "new" and reasons[-1] == "resolved"
    assert set(reasons[1:-1]) == {"update"}
    first_at = storm[0]["firstSeen"]
    assert storm[0]["status"] == "firing" and storm[-1]["status"] == "resolved"
    assert storm[-1]["total"] == STORM
    assert sum(n["sinceLast"] for n in storm[:-1]) == STORM  # every alert told once
    # Updates at most one per GROUP_INTERVAL while it grew: the storm lasted ten minutes.
    assert len(reasons) - 2 == STORM_SECONDS // 300
    assert storm[0]["labels"] == {  # calls name no carrier: the storm stays one group
        "channel": "call", "kind": "error", "code": "503", "subcode": "560503",
        "carrier": "unknown",
    }
    assert storm[0]["severity"] == "critical" and len(storm[0]["examples"]) == 5
    assert first_at.startswith("2027-01-15")  # the simulated clock, not the machine's
    others = [g for g in by_group.values() if g is not storm]
    assert len(others) == len(UNRELATED_CODES)
    assert sum(g[-1]["total"] for g in others) == UNRELATED
    for group in others:  # they too were spread over the ten minutes
        assert group[0]["reason"] == "new" and group[-1]["reason"] == "resolved"
        assert sum(n["sinceLast"] for n in group[:-1]) == group[-1]["total"]
    assert clock.now - started > STORM_SECONDS + 900
    assert Counter(n["status"] for g in by_group.values() for n in g)["resolved"] == 5


def test_alerts_counted_while_a_group_resolves_are_kept_even_with_an_older_clock_reading(
    make_runtime: RuntimeFactory,
) -> None:
    """A slow delivery takes its clock reading, the flusher reads the quiet group as resolved,
    then the delivery's change lands with that older reading: its alerts are not dropped with
    the resolved group, and the next notification counts them."""
    clock = Clock()
    runtime = make_runtime(flush_each_delivery=False, group_wait_seconds=30)
    notifier = runtime.pipeline.notifier
    assert notifier is not None
    notifier.clock = clock

    def deliver(*ids: str) -> None:
        events = [call_result(i, "CallDisconnected", code=503, subcode=560503) for i in ids]
        runtime.pipeline.run(parse_events(events), way_in="test")

    deliver("a-1", "a-2")
    clock.now += 50
    deliver("a-3")  # last seen: start + 50
    first = notifier.due()
    assert [d.notification.data.reason for d in first] == ["new"]
    notifier.mark_sent(first[0])
    clock.now += 1_000  # quiet past RESOLVE_TIMEOUT
    resolved = notifier.due()
    assert [d.notification.data.reason for d in resolved] == ["resolved"]
    clock.now -= 1_010  # the slow delivery's reading: before the group's last seen
    deliver("late-1", "late-2", "late-3")
    clock.now += 1_010
    notifier.mark_sent(resolved[0])

    # The late alerts are not dropped: they start the group's next episode, announced anew.
    (group,) = notifier.groups.documents()
    assert (group["status"], group["total"], group["since_last"]) == ("pending", 3, 3)
    clock.now += 30  # GROUP_WAIT
    (again,) = notifier.due()
    assert (again.notification.data.reason, again.notification.data.total) == ("new", 3)
    assert again.notification.id not in {first[0].notification.id, resolved[0].notification.id}


def test_a_group_that_went_and_came_back_gets_new_notification_ids(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    """Its sequence starts again at 1; the ids must not repeat the first episode's, or every
    destination would take its notifications for ones it already has."""
    clock = Clock()
    runtime = make_runtime(flush_each_delivery=False, group_wait_seconds=30)
    assert runtime.flusher is not None and runtime.flusher.notifier is not None
    runtime.flusher.notifier.clock = clock
    for episode in range(2):
        events = [call_result(f"e{episode}", "CallDisconnected", code=503, subcode=560503)]
        runtime.pipeline.run(parse_events(events), way_in="test")
        for _ in range(2):  # fire after GROUP_WAIT, resolve after RESOLVE_TIMEOUT
            clock.now += 1_000
            runtime.flush()
    notifications = [n["data"]["reason"] for n in read_notifications(alert_file)]
    assert notifications == ["new", "resolved", "new", "resolved"]
