"""The storm benchmark (``python -m bench --only storm``) measures what it claims, and its checks
catch a wrong answer: a figure taken from a run that lost or doubled an alert would lie."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import storm
from bench.throughput import BenchError

# The benchmark's timers, with a quiet of two seconds resolving a group: a small storm on the
# memory store has no slow delivery to wait out.
TIMERS = {**storm.TIMERS, "resolve_timeout_seconds": 2.0}


def test_a_small_storm_through_the_local_host_is_counted_and_checked(tmp_path: Path) -> None:
    result = storm.measure(tmp_path, "memory", events=400, timers=TIMERS)
    batches = storm.storm_batches(400)
    assert result.deliveries == sum(2 if b.twice else 1 for b in batches) > len(batches)
    assert result.events == sum(b.events * (2 if b.twice else 1) for b in batches)
    assert result.alerts == len(set().union(*(b.failures for b in batches)))
    assert len(result.latencies_ms) == result.deliveries
    assert result.groups == 1 + len(storm.UNRELATED)
    assert result.notifications["new"] >= result.groups
    assert result.notifications["resolved"] == result.notifications["new"]
    # Claim, complete, the outbox and the group changes: a handful of calls, not one per event.
    assert 2 <= result.calls_per_delivery < 10
    assert result.requests_per_delivery is None  # no HTTP for the memory store
    assert result.p50_ms <= result.p99_ms


def test_the_check_refuses_a_file_with_an_alert_twice(tmp_path: Path) -> None:
    storm.measure(tmp_path, "memory", events=200, timers=TIMERS)
    sink = tmp_path / f"memory-{storm.FILE_NAME}"
    lines = sink.read_text(encoding="utf-8").splitlines()
    alert = next(line for line in lines if '"acs-triage.alert.v1"' in line)
    sink.write_text("\n".join([*lines, alert]) + "\n", encoding="utf-8")
    with pytest.raises(BenchError, match="alerts"):
        storm.check_file(sink, storm.storm_batches(200))


def test_the_check_refuses_a_group_that_never_resolved(tmp_path: Path) -> None:
    storm.measure(tmp_path, "memory", events=200, timers=TIMERS)
    sink = tmp_path / f"memory-{storm.FILE_NAME}"
    lines = sink.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if '"reason":"resolved"' not in line.replace(" ", "")]
    assert len(kept) < len(lines)
    sink.write_text("\n".join(kept) + "\n", encoding="utf-8")
    with pytest.raises(BenchError, match="resolved"):
        storm.check_file(sink, storm.storm_batches(200))
