"""Alert sinks (file, signed webhook, Event Grid topic), their retries, and building them."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from azure.core.pipeline.transport import RequestsTransport
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from handlers.alerting.alert import ALERT_TYPE, Alert, AlertData, SourceEvent
from handlers.alerting.cloudevent import CloudEvent, json_batch
from handlers.alerting.delivery import (
    BACKOFF_BASE_SECONDS,
    SinkError,
    backoff_delay,
    deliver,
    parse_retry_after,
)
from handlers.alerting.file_sink import FileSink
from handlers.alerting.topic_sink import TOPIC_MAX_REQUEST_BYTES, EventGridTopicSink
from handlers.alerting.webhook_sink import WebhookSink, webhook_message_id
from handlers.runtime import build_sinks
from handlers.settings import load_settings
from tests.capture_server import CaptureServer, Reply

REPO_ROOT = Path(__file__).resolve().parent.parent
WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
TOPIC_KEY = "topic-key-for-tests"


def make_alert(number: int, *, padding: int = 0) -> Alert:
    return Alert(
        id=f"alert-{number:04d}",
        source="/acs-triage",
        subject=f"calling/callConnections/call-{number}",
        time="2024-05-06T07:08:09.1234567Z",
        data=AlertData(
            kind="error",
            code=500,
            subcode=8500 + number,
            category="UnexpectedServerError",
            message="Internal server error" + " " * padding,
            event=SourceEvent(id=f"event-{number}", type=None, source=None, subject=None,
                              time=None),
            context={"to": "+1******4567"},
        ),
    )


ALERTS = [make_alert(n) for n in range(3)]


@pytest.fixture
def capture() -> Any:
    with CaptureServer() as server:
        yield server


# --- file --------------------------------------------------------------------------------


def test_file_sink_appends_one_cloudevent_per_line_creating_parent_dirs(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "alerts.jsonl"
    sink = FileSink(path)
    sink.send(ALERTS[:2])
    sink.send(ALERTS[2:])
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [a.to_dict() for a in ALERTS]


def test_file_sink_never_appends_an_alert_the_file_already_holds(tmp_path: Path) -> None:
    """A second process on the same file (replay run again, serve restarted) adds no copy."""
    path = tmp_path / "alerts.jsonl"
    path.write_text("a line that is not an alert\n", encoding="utf-8")
    FileSink(path).send(ALERTS[:2])
    FileSink(path).send(ALERTS)
    FileSink(path).send([ALERTS[2], ALERTS[2]])
    lines = path.read_bytes().splitlines()
    assert lines == [b"a line that is not an alert", *(a.to_json() for a in ALERTS)]


def test_file_sink_keeps_lines_whole_when_threads_send_at_once(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    sink = FileSink(path)
    batches = [[make_alert(t * 100 + n, padding=5000) for n in range(20)] for t in range(8)]
    threads = [threading.Thread(target=sink.send, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]
    assert sorted(ids) == sorted(a.id for batch in batches for a in batch)
    # one send's lines stay together: each batch appears as one contiguous run
    runs = [ids[i : i + 20] for i in range(0, len(ids), 20)]
    assert sorted(runs) == sorted([a.id for a in batch] for batch in batches)


def test_file_sink_that_cannot_write_raises_sink_error(tmp_path: Path) -> None:
    sink = FileSink(tmp_path)  # a directory: cannot be opened for appending
    with pytest.raises(SinkError) as raised:
        sink.send(ALERTS)
    assert raised.value.sink == "file"


# --- webhook -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret", [WHSEC, WHSEC.removeprefix("whsec_"), WHSEC.rstrip("=")],
    ids=["whsec", "no prefix", "unpadded"],
)
def test_webhook_batch_verifies_with_standard_webhooks(
    capture: CaptureServer, secret: str
) -> None:
    WebhookSink(capture.url("/hook"), secret).send(ALERTS)
    (request,) = capture.requests
    assert request.method == "POST"
    assert request.header("Content-Type") == "application/cloudevents-batch+json"
    # The receiver holds the secret as it was given; any spelling verifies.
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload == [a.to_dict() for a in ALERTS]


def test_tampered_webhook_body_fails_verification(capture: CaptureServer) -> None:
    WebhookSink(capture.url("/hook"), WHSEC).send(ALERTS)
    (request,) = capture.requests
    tampered = request.body.replace(b"Internal server error", b"All is well, go home")
    with pytest.raises(WebhookVerificationError):
        Webhook(WHSEC).verify(tampered, request.headers)


def test_retried_webhook_send_carries_the_same_message_id(capture: CaptureServer) -> None:
    capture.fail(2, status=503)
    sink = WebhookSink(capture.url("/hook"), WHSEC)
    deliver(sink, ALERTS, max_attempts=4, budget_seconds=20, sleep=lambda _: None)
    ids = {request.header("webhook-id") for request in capture.requests}
    assert len(capture.requests) == 3
    assert ids == {webhook_message_id(ALERTS)}
    for request in capture.requests:
        Webhook(WHSEC).verify(request.body, request.headers)


def test_webhook_message_id_depends_on_the_alerts_not_their_order() -> None:
    assert webhook_message_id(ALERTS) == webhook_message_id(ALERTS[::-1])
    assert webhook_message_id(ALERTS) != webhook_message_id(ALERTS[:2])


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(500, False), (502, False), (503, False), (429, False), (408, False), (302, False),
     (400, True), (401, True), (403, True), (404, True), (413, True)],
)
def test_webhook_answer_outside_2xx_is_a_sink_error(
    capture: CaptureServer, status: int, permanent: bool
) -> None:
    capture.answer(Reply(status, headers={"Location": "http://127.0.0.1:9/elsewhere"}))
    with pytest.raises(SinkError) as raised:
        WebhookSink(capture.url("/hook"), WHSEC).send(ALERTS)
    assert raised.value.sink == "webhook"
    assert str(status) in raised.value.reason
    assert raised.value.permanent is permanent
    assert len(capture.requests) == 1  # no retry, no redirect followed inside one attempt


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_webhook_any_2xx_is_success(capture: CaptureServer, status: int) -> None:
    capture.answer(Reply(status))
    time = FakeTime()
    webhook = WebhookSink(capture.url("/hook"), WHSEC)
    deliver(webhook, ALERTS, max_attempts=3, budget_seconds=20, sleep=time.sleep)
    assert [request.status for request in capture.requests] == [status]
    assert time.sleeps == []  # taken at the first attempt: no retry


def test_webhook_retry_after_reaches_the_sink_error(capture: CaptureServer) -> None:
    capture.answer(Reply(503, headers={"Retry-After": "7"}))
    with pytest.raises(SinkError) as raised:
        WebhookSink(capture.url("/hook"), WHSEC).send(ALERTS)
    assert raised.value.retry_after == 7.0


def test_webhook_receiver_that_does_not_answer_in_time_is_a_sink_error(
    capture: CaptureServer,
) -> None:
    capture.answer(Reply(200, delay=2.0))
    sink = WebhookSink(capture.url("/hook"), WHSEC, read_timeout=0.2)
    with pytest.raises(SinkError, match="no answer"):
        sink.send(ALERTS)


def test_webhook_unreachable_is_a_sink_error_naming_neither_url_nor_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with CaptureServer() as server:
        url = server.url("/services/T0/B0/token-in-the-path?sig=token-in-the-query")
    sink = WebhookSink(url, WHSEC, transport=RequestsTransport())
    with caplog.at_level(logging.DEBUG), pytest.raises(SinkError) as raised:
        deliver(sink, ALERTS, max_attempts=2, budget_seconds=5, sleep=lambda _: None)
    texts = [str(raised.value), caplog.text]
    for secret in ("token-in-the-path", "token-in-the-query", WHSEC, WHSEC[6:]):
        assert all(secret not in text for text in texts)
    assert "sink_gave_up" in caplog.text


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(None, None), ("", None), ("12", 12.0), ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
     ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0), ("soon", None)],
)
def test_retry_after_reads_seconds_and_http_dates(value: str | None, seconds: float | None) -> None:
    from datetime import UTC, datetime

    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == seconds


# --- Event Grid topic (the real EventGridPublisherClient against the capture server) -------


def topic_sink(server: CaptureServer, **options: Any) -> EventGridTopicSink:
    return EventGridTopicSink(
        server.url("/api/events"), key=TOPIC_KEY, client_id=None, **options
    )


def published_ids(server: CaptureServer) -> Counter[str]:
    return Counter(event["id"] for request in server.accepted() for event in request.json())


def test_topic_sink_publishes_cloudevents_with_the_topic_key(capture: CaptureServer) -> None:
    topic_sink(capture).send(ALERTS)
    (request,) = capture.requests
    assert request.method == "POST"
    assert request.path.startswith("/api/events?api-version=")
    assert request.header("aeg-sas-key") == TOPIC_KEY
    assert str(request.header("Content-Type")).startswith("application/cloudevents-batch+json")
    events = request.json()
    assert [e["id"] for e in events] == [a.id for a in ALERTS]
    for event, alert in zip(events, ALERTS, strict=True):
        assert event["specversion"] == "1.0"
        assert event["type"] == ALERT_TYPE
        assert event["source"] == alert.source
        assert event["subject"] == alert.subject
        assert event["data"] == alert.data.model_dump(mode="json")
        assert event["time"].startswith("2024-05-06T07:08:09.123456")


def test_topic_sink_leaves_time_out_when_the_alert_has_none(capture: CaptureServer) -> None:
    alert = make_alert(1).model_copy(update={"subject": None, "time": None})
    topic_sink(capture).send([alert])
    (event,) = capture.requests[0].json()
    assert "time" not in event
    assert "subject" not in event


def test_topic_sink_logs_no_sdk_warning_per_event(
    capture: CaptureServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        topic_sink(capture).send(ALERTS)
    assert "not a known attribute" not in caplog.text


def test_topic_sink_splits_a_delivery_over_1_mb_into_several_requests(
    capture: CaptureServer,
) -> None:
    alerts = [make_alert(n, padding=300_000) for n in range(7)]  # about 2.1 MB in all
    topic_sink(capture).send(alerts)
    assert len(capture.requests) >= 3
    assert all(len(request.body) < TOPIC_MAX_REQUEST_BYTES for request in capture.requests)
    assert published_ids(capture) == Counter(a.id for a in alerts)


def test_topic_requests_are_filled_to_the_byte(capture: CaptureServer) -> None:
    """The limit is measured on the bytes sent: a limit of exactly two alerts' batch takes two."""
    limit = len(json_batch(ALERTS[:2]))
    topic_sink(capture, max_request_bytes=limit).send(ALERTS)
    assert [len(request.json()) for request in capture.requests] == [2, 1]
    assert len(capture.requests[0].body) == limit


def test_every_destination_carries_the_same_cloudevent_bytes(
    capture: CaptureServer, tmp_path: Path
) -> None:
    FileSink(tmp_path / "alerts.jsonl").send(ALERTS)
    WebhookSink(capture.url("/hook"), WHSEC).send(ALERTS)
    topic_sink(capture).send(ALERTS)
    file_lines = (tmp_path / "alerts.jsonl").read_bytes().splitlines()
    webhook_body, topic_body = (request.body for request in capture.requests)
    assert file_lines == [alert.to_json() for alert in ALERTS]
    assert webhook_body == topic_body == b"[" + b",".join(file_lines) + b"]"


def test_topic_sink_retry_does_not_republish_requests_already_accepted(
    capture: CaptureServer,
) -> None:
    alerts = [make_alert(n, padding=300_000) for n in range(7)]
    capture.answer(Reply(200), Reply(500))  # first request in, second fails, then all 200
    deliver(topic_sink(capture), alerts, max_attempts=3, budget_seconds=20, sleep=lambda _: None)
    assert published_ids(capture) == Counter(a.id for a in alerts)  # each exactly once


def test_alert_larger_than_a_topic_request_is_a_permanent_sink_error(
    capture: CaptureServer,
) -> None:
    with pytest.raises(SinkError) as raised:
        topic_sink(capture).send([make_alert(1, padding=TOPIC_MAX_REQUEST_BYTES)])
    assert raised.value.permanent
    assert capture.requests == []


@pytest.mark.parametrize(
    ("status", "permanent"), [(500, False), (503, False), (429, False), (401, True),
                              (403, True), (413, True)],
)
def test_topic_answer_other_than_200_is_one_attempt_and_a_sink_error(
    capture: CaptureServer, status: int, permanent: bool
) -> None:
    capture.fail(5, status=status)
    with pytest.raises(SinkError) as raised:
        topic_sink(capture).send(ALERTS)
    assert raised.value.sink == "topic"
    assert raised.value.permanent is permanent
    assert TOPIC_KEY not in str(raised.value)
    assert len(capture.requests) == 1  # the SDK's own retries are off


def test_topic_unreachable_is_a_sink_error() -> None:
    with CaptureServer() as server:
        sink = topic_sink(server, connect_timeout=0.5, read_timeout=0.5)
    with pytest.raises(SinkError, match="no answer"):
        sink.send(ALERTS)


def test_importing_sinks_loads_neither_eventgrid_nor_identity() -> None:
    probe = (
        "import sys, handlers.runtime; "
        "print(sorted(m for m in sys.modules if m.startswith(('azure.eventgrid', "
        "'azure.identity', 'azure.data'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# --- deliver -----------------------------------------------------------------------------


@dataclass
class FakeTime:
    """A clock that only moves when someone sleeps (or an attempt says it took time)."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@dataclass
class FlakySink:
    """Fails ``failures`` times, then takes every alert; each attempt costs ``cost`` seconds."""

    failures: int
    time: FakeTime
    cost: float = 0.0
    timeout_seconds: float = 0.0
    permanent: bool = False
    retry_after: float | None = None
    name: str = "flaky"
    attempts: int = 0
    received: list[str] = field(default_factory=list)

    def send(self, alerts: Sequence[CloudEvent[Any]]) -> None:
        self.attempts += 1
        self.time.now += self.cost
        if self.attempts <= self.failures:
            raise SinkError(self.name, f"failure {self.attempts}", permanent=self.permanent,
                            retry_after=self.retry_after)
        self.received.extend(alert.id for alert in alerts)


def run_deliver(sink: FlakySink, *, max_attempts: int = 4, budget: float = 20.0,
                draw: float = 1.0) -> None:
    deliver(sink, ALERTS, max_attempts=max_attempts, budget_seconds=budget,
            sleep=sink.time.sleep, random=lambda: draw, clock=sink.time.clock)


@pytest.mark.parametrize("failures", [0, 1, 2, 3])
def test_sink_that_recovers_gets_every_alert_exactly_once(failures: int) -> None:
    sink = FlakySink(failures, FakeTime())
    run_deliver(sink, max_attempts=4)
    assert sink.received == [a.id for a in ALERTS]
    assert sink.attempts == failures + 1
    assert len(sink.time.sleeps) == failures


def test_sink_that_never_recovers_raises_after_max_attempts() -> None:
    sink = FlakySink(failures=100, time=FakeTime())
    with pytest.raises(SinkError, match="failure 4"):
        run_deliver(sink, max_attempts=4)
    assert sink.attempts == 4
    assert len(sink.time.sleeps) == 3
    assert sink.received == []


@pytest.mark.parametrize(
    ("draw", "expected"),
    [(1.0, [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]), (0.5, [0.25, 0.5, 1.0, 2.0, 4.0, 4.0]),
     (0.0, [0.0] * 6)],
)
def test_backoff_is_full_jitter_under_an_exponential_ceiling(
    draw: float, expected: list[float]
) -> None:
    sink = FlakySink(failures=100, time=FakeTime())
    with pytest.raises(SinkError):
        run_deliver(sink, max_attempts=7, budget=1000.0, draw=draw)
    assert sink.time.sleeps == expected
    assert backoff_delay(1, 1.0) == BACKOFF_BASE_SECONDS


def test_retries_stop_before_the_budget_would_be_overrun() -> None:
    # a receiver that hangs each attempt for its full 5 s timeout
    sink = FlakySink(failures=100, time=FakeTime(), cost=5.0, timeout_seconds=5.0)
    with pytest.raises(SinkError):
        run_deliver(sink, max_attempts=10, budget=12.0)
    assert sink.attempts == 2
    assert sink.time.now <= 12.0


def test_permanent_failure_is_not_retried() -> None:
    sink = FlakySink(failures=1, time=FakeTime(), permanent=True)
    with pytest.raises(SinkError):
        run_deliver(sink)
    assert sink.attempts == 1
    assert sink.time.sleeps == []


def test_receivers_retry_after_is_waited_for_when_the_budget_allows() -> None:
    sink = FlakySink(failures=1, time=FakeTime(), retry_after=3.0)
    run_deliver(sink, budget=20.0, draw=0.1)
    assert sink.time.sleeps == [3.0]
    too_long = FlakySink(failures=1, time=FakeTime(), retry_after=60.0)
    with pytest.raises(SinkError):
        run_deliver(too_long, budget=20.0)
    assert too_long.attempts == 1


def test_zero_attempts_is_refused_rather_than_silently_sending_nothing() -> None:
    sink = FlakySink(failures=0, time=FakeTime())
    with pytest.raises(ValueError):
        deliver(sink, ALERTS, max_attempts=0, budget_seconds=10)


def test_nothing_to_deliver_sends_nothing() -> None:
    sink = FlakySink(failures=0, time=FakeTime())
    deliver(sink, [], max_attempts=3, budget_seconds=10)
    assert sink.attempts == 0


# --- building sinks from settings --------------------------------------------------------


def test_no_sink_settings_build_no_sinks() -> None:
    assert build_sinks(load_settings(callback_jwt_required=False)) == []


def test_every_configured_sink_is_built(tmp_path: Path) -> None:
    settings = load_settings(
        callback_jwt_required=False,
        alert_file=tmp_path / "alerts.jsonl",
        alert_webhook_url="https://hooks.example.com/acs",
        alert_webhook_secret=WHSEC,
        alert_topic_endpoint="https://alerts.westeurope-1.eventgrid.azure.net/api/events",
        alert_topic_key=TOPIC_KEY,
    )
    assert [sink.name for sink in build_sinks(settings)] == ["file", "webhook", "topic"]


CLIENT_ID = "11111111-2222-3333-4444-555555555555"


@dataclass
class RecordedCredentials:
    """Stands in for azure.identity (the edge of the world): records what the sink asked of it."""

    made: list[dict[str, Any]] = field(default_factory=list)
    scopes: list[tuple[str, ...]] = field(default_factory=list)

    def make(self, **options: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.made.append(options)
        recorded = self

        class Credential:
            def get_token(self, *scopes: str, **_: Any) -> AccessToken:
                recorded.scopes.append(scopes)
                return AccessToken("token", 2**31)

        return Credential()


def test_topic_without_key_uses_the_managed_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    # https on a loopback port where nothing listens: the SDK insists on TLS for tokens.
    with CaptureServer() as server:
        port = server.port
    settings = load_settings(
        callback_jwt_required=False,
        alert_topic_endpoint=f"https://127.0.0.1:{port}/api/events", azure_client_id=CLIENT_ID
    )
    (sink,) = build_sinks(settings)
    credentials = RecordedCredentials()
    monkeypatch.setattr("azure.identity.DefaultAzureCredential", credentials.make)
    with pytest.raises(SinkError):  # nothing listens there; the token is asked for first
        sink.send(ALERTS)
    assert credentials.made == [{"managed_identity_client_id": CLIENT_ID}]
    assert credentials.scopes == [("https://eventgrid.azure.net/.default",)]


def test_plain_http_is_allowed_to_this_machine_only(capture: CaptureServer) -> None:
    settings = load_settings(callback_jwt_required=False,
                             alert_webhook_url=capture.url("/hook"), alert_webhook_secret=WHSEC,
                             alert_topic_endpoint=capture.url("/api/events"),
                             alert_topic_key=TOPIC_KEY)
    for sink in build_sinks(settings):
        sink.send(ALERTS)
    assert len(capture.accepted()) == 2
