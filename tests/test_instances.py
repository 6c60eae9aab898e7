"""Two app instances sharing one Table Storage dedupe store (Azurite): still exactly once.

In Azure, Event Grid may redeliver an event to another instance of the app; the per-process
memory store cannot see that, the Table Storage store does.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from handlers.alerting.file_sink import FileSink
from handlers.errors import StateUnavailable as DuplicateStoreFailed
from handlers.http.problems import problem_answer
from handlers.inbound.envelope import parse_events
from handlers.state.table import TableDedupeStore
from tests.azurite import Azurite, azurite_fixture, free_port
from tests.conftest import RuntimeFactory, read_alerts
from tests.events import call_result, sms_report

__all__ = ["azurite_fixture"]

pytestmark = pytest.mark.azurite

BATCH = [
    call_result("t1", "TranscriptionFailed", code=500, subcode=9999),
    sms_report("s1", status="Failed", details="5000: failed"),
    sms_report("s2"),
]


def table_store(azurite: Azurite) -> TableDedupeStore:
    return TableDedupeStore.from_connection_string(
        azurite.connection_string, "acstriagededupe", window=timedelta(hours=24)
    )


def test_a_redelivery_to_another_instance_sends_no_second_alert(
    make_runtime: RuntimeFactory, azurite: Azurite, alert_file: Path
) -> None:
    first = make_runtime(sinks=[FileSink(alert_file)], dedupe=table_store(azurite))
    second = make_runtime(sinks=[FileSink(alert_file)], dedupe=table_store(azurite))
    one = first.pipeline.run(parse_events(BATCH), way_in="instance-1")
    two = second.pipeline.run(parse_events(BATCH), way_in="instance-2")
    assert [t.verdict for t in one.triages] == ["alert", "alert", "ok"]
    assert [t.verdict for t in two.triages] == ["duplicate"] * 3
    assert sorted(a["data"]["event"]["id"] for a in read_alerts(alert_file)) == ["s1", "t1"]


def test_a_dedupe_store_that_is_down_turns_the_delivery_into_503(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    nowhere = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
        f"TableEndpoint=http://127.0.0.1:{free_port()}/devstoreaccount1;"
    )
    store = TableDedupeStore.from_connection_string(nowhere, "t", window=timedelta(hours=1))
    runtime = make_runtime(sinks=[FileSink(alert_file)], dedupe=store)
    with pytest.raises(DuplicateStoreFailed) as refused:
        runtime.pipeline.run(parse_events(BATCH), way_in="test")
    response = problem_answer(refused.value)
    assert response.status == 503 and "Retry-After" in response.headers
    assert b"AccountKey" not in response.body
    assert read_alerts(alert_file) == []
