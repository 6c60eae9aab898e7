"""Two instances on one Azurite table count a group exactly as one instance would.

The same deliveries reach both at once and again later; only the claimant of an event adds it
to its group, and a group's document changes by ETag-conditional writes, so no count is lost to
a race and none is doubled by a redelivery.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from handlers.inbound.envelope import parse_events
from handlers.runtime import Runtime
from handlers.state.table import TableDedupeStore
from tests.azurite import Azurite, azurite_fixture
from tests.conftest import RuntimeFactory, deliver_retrying
from tests.events import call_result

__all__ = ["azurite_fixture"]

pytestmark = pytest.mark.azurite

EVENTS = 300


def instance(make_runtime: RuntimeFactory, azurite: Azurite, alert_file: Path) -> Runtime:
    store = TableDedupeStore.from_connection_string(
        azurite.connection_string, "groups", window=timedelta(hours=1), purge_interval=None
    )
    return make_runtime(dedupe=store, flush_each_delivery=False)


def test_two_instances_count_a_group_exactly_as_one(
    make_runtime: RuntimeFactory, azurite: Azurite, alert_file: Path
) -> None:
    runtimes = [instance(make_runtime, azurite, alert_file) for _ in range(2)]
    batches = [
        parse_events(
            [
                call_result(f"c{n}-{k}", "CallDisconnected", code=503, subcode=560503)
                for k in range(1 + n % 7)
            ]
        )
        for n in range(EVENTS // 4)
    ]
    start = threading.Barrier(2, timeout=60)

    def deliver(runtime: Runtime) -> None:
        start.wait()
        for batch in [*batches, *batches[::3]]:  # everything, then a third again
            deliver_retrying(runtime, batch)

    threads = [threading.Thread(target=deliver, args=(r,)) for r in runtimes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    notifier = runtimes[0].pipeline.notifier
    assert notifier is not None
    [group] = notifier.groups.documents()
    assert group["total"] == sum(len(batch) for batch in batches)
