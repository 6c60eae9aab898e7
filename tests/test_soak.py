"""A soak: 100,000 events through the local host on loopback, memory flat, the dedupe store bounded.

It stays out of the everyday run (about 13 s on two cores): ``make soak`` runs it, and so does CI
(``.ci/run`` runs ``make test`` then ``make soak``).
Deliveries of 250 events, in both schemas, of the benchmark's realistic mix.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bench.stats import current_rss_mb
from bench.workload import Schema, Workload
from handlers.alerting.file_sink import FileSink
from handlers.runtime import Runtime, reset_runtime
from handlers.settings import load_settings
from handlers.state.memory import MemoryDedupeStore
from tests.conftest import LocalHost, read_alerts

EVENTS = 100_000
EVENTS_PER_DELIVERY = 250
WARM_UP_EVENTS = 20_000
DEDUPE_MAX_ENTRIES = 5_000
# What RSS may still grow after warm-up (measured: 0.3 MB). A store that kept every key grows
# 16 MB over the 80,000 events that follow; so would anything else kept for each event (a log
# record, an outcome) of 200 bytes or more.
MAX_GROWTH_MB = 6.0


@pytest.mark.soak
def test_a_long_stream_keeps_memory_flat_and_the_dedupe_store_bounded(
    local_host: LocalHost, alert_file: Path
) -> None:
    store = MemoryDedupeStore(timedelta(hours=1), max_entries=DEDUPE_MAX_ENTRIES)
    runtime = Runtime.build(
        load_settings(callback_jwt_required=False), sinks=[FileSink(alert_file)], dedupe=store
    )
    reset_runtime(runtime)  # what the local host serves (clean_environment resets it after)
    workload = Workload(seed=100_000)
    sent = alerted = deliveries = 0
    after_warm_up: float | None = None
    samples: list[float] = []
    while sent < EVENTS:
        schema: Schema = "eventgrid" if deliveries % 2 else "cloudevents"
        batch = workload.batch(schema, max_events=EVENTS_PER_DELIVERY)
        deliveries += 1
        response = local_host.post("eventgrid", batch.body)
        assert response.status_code == 200, response.text[:300]
        summary = response.json()
        assert summary["received"] == batch.events
        assert set(summary["outcomes"]) <= {"ok", "alert"}
        alerted += summary["alerts"]
        sent += batch.events
        runtime.flush()  # as the local host's flusher thread would, between deliveries
        assert runtime.flusher is not None and len(runtime.flusher.outbox) == 0
        assert 0 < len(store) <= DEDUPE_MAX_ENTRIES
        if sent >= WARM_UP_EVENTS:
            samples.append(current_rss_mb())
            after_warm_up = after_warm_up or samples[0]
    assert after_warm_up is not None
    growth = max(samples) - after_warm_up
    assert growth <= MAX_GROWTH_MB, (
        f"RSS grew {growth:.1f} MB after warm-up ({after_warm_up:.1f} MB -> {samples[-1]:.1f} MB)"
    )
    alerts = read_alerts(alert_file)
    assert len(alerts) == alerted > 0
    assert len({alert["id"] for alert in alerts}) == alerted

