"""The durable outbox and its flusher: Event Grid never waits on a destination.

A destination down for a simulated hour: every delivery is answered 200, nothing is lost, and
when it recovers everything goes out in order, under the same ids, with one notification about
the outage. Two flushers on one table send each id once. Both outboxes keep order and bodies.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from handlers.alerting.file_sink import FileSink
from handlers.alerting.webhook_sink import WebhookSink
from handlers.inbound.envelope import parse_events
from handlers.notify.notifier import NOTIFICATION_TYPE
from handlers.state.memory import MemoryDedupeStore
from handlers.state.outbox import MemoryOutbox, Outbox
from handlers.state.table import TableDedupeStore
from tests.azurite import Azurite, shared_azurite_fixture
from tests.capture_server import CaptureServer, Reply
from tests.conftest import LocalHost, RuntimeFactory, read_alerts, read_events
from tests.events import call_result

__all__ = ["shared_azurite_fixture"]

SECRET = "whsec_c2VjcmV0LWZvci10aGUtdGVzdHM="
_tables = iter(range(10_000))


def table_store(azurite: Azurite, name: str | None = None) -> TableDedupeStore:
    return TableDedupeStore.from_connection_string(
        azurite.connection_string,
        name or f"outbox{next(_tables)}",
        window=timedelta(hours=24),
        purge_interval=None,
    )


@pytest.fixture(params=["memory", "table"])
def outbox(request: pytest.FixtureRequest) -> Iterator[Outbox]:
    if request.param == "memory":
        yield MemoryOutbox()
        return
    store = table_store(request.getfixturevalue("shared_azurite"))
    yield store.outbox()
    store.close()


def test_the_outbox_keeps_the_order_and_the_bodies(outbox: Outbox) -> None:
    big = "x" * 70_000  # over a table property's 64 KiB: kept in pieces
    outbox.put([(f"id-{n}", json.dumps({"n": n})) for n in range(150)])
    outbox.put([("id-big", big)])
    pending = outbox.pending(1000)
    assert [e.id for e in pending] == [f"id-{n}" for n in range(150)] + ["id-big"]
    assert pending[-1].body == big and json.loads(pending[7].body) == {"n": 7}
    assert [e.id for e in outbox.pending(3)] == ["id-0", "id-1", "id-2"]
    outbox.remove(pending[:149])
    assert [e.id for e in outbox.pending(10)] == ["id-149", "id-big"]
    assert len(outbox) == 2


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def failed_call(n: int) -> list[dict[str, object]]:
    return [call_result(f"call-{n}", "CallDisconnected", code=500, subcode=9999)]


def test_a_destination_down_for_an_hour_costs_nothing_upstream_and_gets_everything_in_order(
    make_runtime: RuntimeFactory, local_host: LocalHost, alert_file: Path
) -> None:
    clock = Clock()
    with CaptureServer() as hook:
        hook.fail(60, status=503)  # one failed flush a simulated minute, for an hour
        runtime = make_runtime(
            sinks=[FileSink(alert_file), WebhookSink(hook.url("/hook"), SECRET)],
            sink_max_attempts=1,
            flush_each_delivery=False,
            alert_webhook_receives="both",  # the alerts, and the notification of its outage
        )
        assert runtime.flusher is not None
        runtime.flusher.clock = clock
        statuses = []
        for minute in range(60):
            statuses.append(local_host.post("callbacks", failed_call(minute)).status_code)
            runtime.flush()
            clock.now += 60
        assert statuses == [200] * 60
        assert hook.accepted() == []
        assert len(read_alerts(alert_file)) == 60
        runtime.flush()  # it is back
        delivered = [event for request in hook.accepted() for event in request.json()]
    alerts = [e for e in delivered if e["type"] != NOTIFICATION_TYPE]
    notices = [e for e in delivered if e["type"] == NOTIFICATION_TYPE]
    assert [a["data"]["event"]["id"] for a in alerts] == [f"call-{n}" for n in range(60)]
    in_file = read_events(alert_file)
    assert [a["id"] for a in alerts] == [e["id"] for e in in_file if e["type"] != NOTIFICATION_TYPE]
    # One notification when the outage was five minutes old, one when it was over.
    assert [(n["data"]["destination"], n["data"]["status"]) for n in notices] == [
        ("webhook", "firing"), ("webhook", "resolved")]
    assert notices[0]["data"]["failingSince"] == notices[1]["data"]["failingSince"]
    # Both went to the file too, each as it was made.
    assert [e["id"] for e in in_file if e["type"] == NOTIFICATION_TYPE] == [
        n["id"] for n in notices]
    assert len(in_file) == 62 and len(runtime.flusher.outbox) == 0


@pytest.mark.azurite
def test_two_flushers_on_one_table_send_each_id_once(
    make_runtime: RuntimeFactory, shared_azurite: Azurite
) -> None:
    name = f"outbox{next(_tables)}"
    with CaptureServer(default=Reply(200, delay=0.05)) as hook:
        runtimes = [
            make_runtime(
                sinks=[WebhookSink(hook.url("/hook"), SECRET)],
                dedupe=table_store(shared_azurite, name),
                flush_each_delivery=False,
                alert_webhook_receives="alerts",
            )
            for _ in range(2)
        ]
        for n in range(40):
            runtimes[n % 2].pipeline.run(parse_events(failed_call(n)), way_in="test")
        start = threading.Barrier(2, timeout=30)

        def flush(index: int) -> None:
            start.wait()
            for _ in range(20):
                runtimes[index].flush()

        threads = [threading.Thread(target=flush, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        runtimes[0].flush()
        delivered = [e["id"] for request in hook.accepted() for e in request.json()]
    assert len(delivered) == 40 and len(set(delivered)) == 40


def test_without_a_destination_nothing_is_kept(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(sinks=[], dedupe=MemoryDedupeStore(timedelta(hours=1)))
    runtime.pipeline.run(parse_events(failed_call(1)), way_in="test")
    assert runtime.pipeline.outbox is None and runtime.flush() == []


@pytest.mark.azurite
def test_an_outage_seen_by_flushers_on_two_instances_is_notified_once_and_ends_once(
    make_runtime: RuntimeFactory, shared_azurite: Azurite, alert_file: Path
) -> None:
    """The timer trigger runs each pass on whichever instance holds it: the outage one pass
    saw begin is the one the next pass, elsewhere, notifies and ends."""
    clock = Clock()
    name = f"outbox{next(_tables)}"
    with CaptureServer() as hook:
        hook.fail(12, status=503)
        runtimes = [
            make_runtime(
                sinks=[FileSink(alert_file), WebhookSink(hook.url("/hook"), SECRET)],
                dedupe=table_store(shared_azurite, name),
                sink_max_attempts=1,
                flush_each_delivery=False,
                alert_webhook_receives="alerts",
            )
            for _ in range(2)
        ]
        for runtime in runtimes:
            assert runtime.flusher is not None
            runtime.flusher.clock = clock
        for minute in range(12):  # down for twelve minutes, the passes taking turns
            runtimes[minute % 2].pipeline.run(parse_events(failed_call(minute)), way_in="test")
            runtimes[minute % 2].flush()
            clock.now += 60
        runtimes[1].flush()  # it is back
    notices = [
        (e["data"]["status"], e["data"]["failingSince"])
        for e in read_events(alert_file)
        if e["type"] == NOTIFICATION_TYPE and e["data"]["about"] == "destination"
    ]
    assert [status for status, _ in notices] == ["firing", "resolved"]
    assert notices[0][1] == notices[1][1]
    assert len(hook.accepted()) == 1 and len(hook.accepted()[0].json()) == 12
