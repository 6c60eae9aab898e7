"""Wall-clock deadlines: no far side can hold a call, a flush or a delivery past its deadline.

Receivers that hang, drip a byte at a time, or answer after the attempt gave up: the delivery
is answered 200 without waiting on them, the flush pass ends by its deadline with the
destination failed, a cut-off attempt is not repeated within the pass, and the next pass sends
the same ids, so a receiver that did take the late one can drop the copy. The dedupe table gets
the same treatment: a delivery is answered 503 by its deadline when the table hangs or drips.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.core import PipelineClient
from azure.core.rest import HttpRequest

from handlers.alerting.file_sink import FileSink
from handlers.alerting.webhook_sink import WebhookSink
from handlers.deadlines import Deadline, DeadlinePassed, cut_off_at, deadline_transport
from handlers.errors import StateUnavailable
from handlers.inbound.envelope import parse_events
from handlers.state.table import TableDedupeStore
from tests.azurite import ACCOUNT, ACCOUNT_KEY
from tests.capture_server import CaptureServer, Reply
from tests.conftest import LocalHost, RuntimeFactory, read_alerts
from tests.events import sms_report
from tests.slow_server import DRIPPED_ANSWER, SlowServer

WHSEC = "whsec_" + base64.b64encode(b"a secret of thirty-two bytes....").decode()
DELIVERY = [sms_report("late-1", status="Failed", details="5000: failed")]
# A test deadline far below the real 20 s; the client waits for the answer a little longer.
DEADLINE = 3.0
CLIENT_WAIT = DEADLINE + 10


def test_a_dripping_answer_is_cut_off_at_the_deadline() -> None:
    # At 0.02 s a byte the whole answer takes about 2 s; per-read timeouts never trip.
    with SlowServer("drip", interval=0.02) as server:
        transport = deadline_transport()
        client: PipelineClient[Any, Any] = PipelineClient(server.url(), transport=transport)
        with pytest.raises(DeadlinePassed), cut_off_at(Deadline.after(0.5)):
            client.send_request(HttpRequest("GET", server.url()), read_timeout=2)
        # The same call without a deadline gets the whole answer, slowly: the cut was the guard.
        answer = client.send_request(HttpRequest("GET", server.url()), read_timeout=2)
        assert answer.status_code == 200 and answer.content == DRIPPED_ANSWER[-2:]


def test_a_call_that_starts_after_its_deadline_is_refused() -> None:
    with pytest.raises(DeadlinePassed), cut_off_at(Deadline.after(-1)):
        pytest.fail("the call ran")


def webhook(url: str) -> WebhookSink:
    return WebhookSink(url, WHSEC, connect_timeout=0.5, read_timeout=1.0)


@pytest.mark.parametrize("mode", ["hang", "drip"])
def test_a_flush_ends_by_its_deadline_whatever_the_destination_does(
    make_runtime: RuntimeFactory, local_host: LocalHost, alert_file: Path, mode: str
) -> None:
    with SlowServer(mode, interval=0.2) as receiver:  # type: ignore[arg-type]
        runtime = make_runtime(
            sinks=[FileSink(alert_file), webhook(receiver.url("/hook"))],
            sink_max_attempts=4,
            flush_each_delivery=False,
            alert_webhook_receives="alerts",
        )
        answer = local_host.post("eventgrid", DELIVERY, timeout=CLIENT_WAIT)
        assert answer.status_code == 200 and receiver.requests == 0  # nobody waited on it
        assert runtime.flusher is not None
        runtime.flusher.pass_deadline_seconds = DEADLINE
        [report] = runtime.flush()
        assert report.failed == ("webhook",) and report.sent == {"file": 1}
        assert receiver.requests == 1  # cut off, and not tried again inside the pass
    assert len(read_alerts(alert_file)) == 1


def test_a_late_answer_is_not_retried_and_the_next_flush_sends_the_same_ids(
    make_runtime: RuntimeFactory, local_host: LocalHost, alert_file: Path
) -> None:
    with CaptureServer() as receiver:
        receiver.answer(Reply(200, delay=2.5))  # took it, but answers after the attempt ended
        runtime = make_runtime(
            sinks=[FileSink(alert_file), webhook(receiver.url("/hook"))],
            sink_max_attempts=4,
            alert_webhook_receives="alerts",
        )
        first = local_host.post("eventgrid", DELIVERY, timeout=CLIENT_WAIT)  # then a flush
        assert first.status_code == 200 and len(receiver.requests) == 1
        [report] = runtime.flush()
        assert report.sent == {"webhook": 1}
        requests = receiver.requests
    assert len(requests) == 2
    assert requests[0].header("webhook-id") == requests[1].header("webhook-id")
    assert [a["id"] for a in requests[0].json()] == [a["id"] for a in requests[1].json()]
    assert len(read_alerts(alert_file)) == 1  # the file had it the first time


def slow_table(server: SlowServer) -> TableDedupeStore:
    connection_string = (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"TableEndpoint={server.url('/' + ACCOUNT)};"
    )
    return TableDedupeStore.from_connection_string(
        connection_string, "slow", window=timedelta(hours=1), purge_interval=None
    )


@pytest.mark.parametrize("mode", ["hang", "drip"])
def test_a_dedupe_table_that_hangs_or_drips_is_unavailable_by_the_deadline(
    make_runtime: RuntimeFactory, alert_file: Path, mode: str
) -> None:
    with SlowServer(mode, interval=0.2) as table:  # type: ignore[arg-type]
        runtime = make_runtime(dedupe=slow_table(table))
        runtime.pipeline.deadline_seconds = DEADLINE
        with pytest.raises(StateUnavailable, match="in time"):
            runtime.pipeline.run(parse_events(DELIVERY), way_in="test")
    assert read_alerts(alert_file) == []


def test_the_pass_deadline_bounds_the_retries_of_a_failing_destination(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    with CaptureServer(default=Reply(500)) as receiver:
        runtime = make_runtime(
            sinks=[webhook(receiver.url("/hook"))],
            sink_max_attempts=10,
            sink_retry_budget_seconds=25,
            flush_each_delivery=False,
            alert_webhook_receives="alerts",
        )
        runtime.pipeline.run(parse_events(DELIVERY), way_in="test")
        assert runtime.flusher is not None
        runtime.flusher.pass_deadline_seconds = 0.01  # spent before a second attempt can start
        [report] = runtime.flush()
        assert report.failed == ("webhook",)
        assert len(receiver.requests) <= 1
    assert json.dumps(read_alerts(alert_file)) == "[]"


def test_the_transport_keeps_a_connection_for_each_of_many_callers_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A store's workers and the flusher's destinations call at once: with requests' default
    pool of 10, the eleventh caller's connection was dropped after use, with a warning."""
    import threading

    with CaptureServer(default=Reply(200, delay=0.2)) as server:
        client: PipelineClient[Any, Any] = PipelineClient(
            server.url("/"), transport=deadline_transport()
        )
        start = threading.Barrier(20, timeout=10)

        def call() -> None:
            start.wait()
            client.send_request(HttpRequest("GET", server.url("/")))

        with caplog.at_level("WARNING", logger="urllib3.connectionpool"):
            threads = [threading.Thread(target=call) for _ in range(20)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        client.close()
    assert len(server.requests) == 20
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
