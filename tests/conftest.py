"""Shared fixtures: a clean environment per test, a runtime on real sinks, the local host."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from handlers.alerting.delivery import AlertSink
from handlers.alerting.file_sink import FileSink
from handlers.errors import EventsInProgress
from handlers.inbound.envelope import Envelope
from handlers.logs import structured_fields
from handlers.runtime import Runtime, reset_runtime
from handlers.settings import load_settings, setting_names
from handlers.state.memory import MemoryDedupeStore
from handlers.state.store import DedupeStore
from handlers.tools.localhost import make_server
from tests.jwks import jwks_server, signing_key

__all__ = ["jwks_server", "signing_key"]

SAMPLES = Path(__file__).parent / "samples"
RuntimeFactory = Callable[..., Runtime]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the machine's settings or another test's runtime."""
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)
    reset_runtime(None)
    yield
    reset_runtime(None)


@pytest.fixture
def alert_file(tmp_path: Path) -> Path:
    return tmp_path / "alerts.jsonl"


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every CloudEvent in an alert file: alerts and notifications, in order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_alerts(path: Path) -> list[dict[str, Any]]:
    return [event for event in read_events(path) if event["type"] == "acs-triage.alert.v1"]


def read_notifications(path: Path) -> list[dict[str, Any]]:
    return [e for e in read_events(path) if e["type"] == "acs-triage.notification.v1"]


@pytest.fixture
def make_runtime(alert_file: Path) -> RuntimeFactory:
    """Build and install a runtime: file sink at ``alert_file``, memory dedupe, JWT off."""

    def make(
        *,
        sinks: list[AlertSink] | None = None,
        dedupe: DedupeStore | None = None,
        flush_each_delivery: bool = True,
        **settings: Any,
    ) -> Runtime:
        settings.setdefault("callback_jwt_required", False)
        # Group notifications only where a test asks for them (with a clock it moves): a slow
        # machine must not see one appear among the alerts a test counts.
        settings.setdefault("group_wait_seconds", 3600)
        # Likewise rate alarms: a test of a hundred failures is not a test of a failure rate.
        settings.setdefault("alarm_rules", "")
        runtime = Runtime.build(
            load_settings(**settings),
            sinks=[FileSink(alert_file)] if sinks is None else sinks,
            dedupe=MemoryDedupeStore(timedelta(hours=1)) if dedupe is None else dedupe,
        )
        if flush_each_delivery:
            flush_after_each_delivery(runtime)
        reset_runtime(runtime)
        return runtime

    return make


@dataclass
class Clock:
    """Simulated time, moved by the test: the notifier's timers, the silences, the flusher."""

    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def clocked(runtime: Runtime, clock: Clock) -> None:
    """Put the runtime's notification state (groups, silences, alarms) on ``clock``."""
    notifier = runtime.pipeline.notifier
    assert notifier is not None and notifier.silences is not None and runtime.flusher
    notifier.clock = notifier.silences.clock = runtime.flusher.clock = clock
    if runtime.pipeline.alarms is not None:
        runtime.pipeline.alarms.clock = clock


def flush_after_each_delivery(runtime: Runtime) -> None:
    """Run the flusher right after each delivery, as if its thread had just woken: tests that
    are about what a delivery produces read the destinations at once, deterministically. The
    tests about the outbox itself leave this off and flush when they choose."""
    # Both paths end in run_events (the careful ``run`` calls it too), so one hook sees both.
    run = runtime.pipeline.run_events

    def run_then_flush(*args: Any, **kwargs: Any) -> Any:
        try:
            return run(*args, **kwargs)
        finally:
            runtime.flush()

    setattr(runtime.pipeline, "run_events", run_then_flush)  # noqa: B010 - an instance's own attribute


def deliver_retrying(runtime: Runtime, envelopes: Sequence[Envelope], attempts: int = 100) -> None:
    """Deliver as Event Grid does: again while some events are held by another attempt (503
    events-in-progress), a bounded number of times."""
    for _ in range(attempts):
        try:
            runtime.pipeline.run(envelopes, way_in="test")
            return
        except EventsInProgress:
            continue


class LocalHost:
    """The local host on 127.0.0.1, serving whichever runtime the test installed."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def url(self, route: str) -> str:
        return f"{self.base_url}/api/{route}"

    def post(self, route: str, body: bytes | str | Any, **kwargs: Any) -> requests.Response:
        if not isinstance(body, bytes | str):
            body = json.dumps(body)
        kwargs.setdefault("timeout", 30)
        return self.session.post(self.url(route), data=body, **kwargs)

    def request(self, method: str, route: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.url(route), timeout=30, **kwargs)


@pytest.fixture
def local_host() -> Iterator[LocalHost]:
    server = make_server("127.0.0.1", 0, access_log=False)
    # shutdown() waits for the serving loop to notice it, up to one poll interval: the
    # default half second would be paid by every test that uses the local host.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield LocalHost(f"http://{host!s}:{port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def logged_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The app's structured log lines captured so far, as the dicts ``log_event`` was given."""
    return [fields for record in caplog.records if (fields := structured_fields(record))]


def load_sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())
