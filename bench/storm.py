"""A storm through the local host: what the notification side costs when a carrier goes down.

100,000 Call Automation callbacks by default: nine in ten ``CallDisconnected 503/560503`` (one
carrier's outage), the rest ordinary hang-ups and a few unrelated failures. They are posted in
batches of 1 to 50 by four clients at once, one batch in ten posted twice (Event Grid's
redelivery), to the local host serving the app on 127.0.0.1 with the flusher on its thread, as
``make serve`` runs it; once with the memory store, once with the table store on Azurite.

Measured per store: events per second, each delivery's latency (p50, p99) as the client saw it,
the notifications produced, and the state-store operations per delivery, counted as calls of the
store's methods and, on Azurite, as HTTP requests. The flusher's own operations are counted
apart: they are not paid while Event Grid waits. Timers are short (a one-second GROUP_WAIT) so a
run sees the storm's groups fire, update and resolve; the rate alarms run on their defaults
(their counts are part of a delivery's cost; their notifications are not checked here).

The figures are checked before they are reported: every failure is one alert in the file sink,
once, and every group has exactly one first notification and one resolved one.
"""

from __future__ import annotations

import contextvars
import http.client
import json
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from bench.azurite import running_azurite
from bench.events import call_result
from bench.stats import percentile
from bench.throughput import BenchError, local_host
from handlers.alerting.file_sink import FileSink
from handlers.runtime import Runtime
from handlers.settings import load_settings
from handlers.state.memory import MemoryDedupeStore
from handlers.state.store import DedupeStore

Store = Literal["memory", "table"]
DEFAULT_STORM_EVENTS = 100_000
CLIENTS = 4
REDELIVERED = 0.1
# Failures of their own: each a group apart from the storm's.
UNRELATED = [
    ("AddParticipantFailed", 500, 9999),
    ("PlayFailed", 500, 8572),
    ("RecognizeFailed", 500, 8511),
    ("CallDisconnected", 500, 560500),
]
# Short, so a run sees groups fire, update and resolve; RESOLVE_TIMEOUT well above a slow
# delivery's latency on Azurite, so a group does not resolve between two of its alerts.
TIMERS = {
    "group_wait_seconds": 1.0,
    "group_interval_seconds": 5.0,
    "resolve_timeout_seconds": 15.0,
}
SETTLE_SECONDS = 120.0  # at most, for the groups to resolve after the last delivery
FILE_NAME = "storm.jsonl"

_role: contextvars.ContextVar[str] = contextvars.ContextVar("role", default="other")


@dataclass
class Operations:
    """State-store operations, by who made them: a delivery or the flusher."""

    calls: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count_call(self, role: str) -> None:
        with self.lock:
            self.calls[role] += 1

    def count_request(self) -> None:
        with self.lock:
            self.requests[_role.get()] += 1


@dataclass(frozen=True)
class StormResult:
    store: Store
    events: int  # posted, redelivered ones included
    deliveries: int
    seconds: float
    latencies_ms: tuple[float, ...]
    alerts: int
    notifications: Counter[str]  # by reason: new, update, repeat, resolved
    groups: int
    delivery_calls: int
    delivery_requests: int | None  # HTTP requests to the table; None for the memory store
    flusher_calls: int

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 0.50)

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 0.99)

    @property
    def calls_per_delivery(self) -> float:
        return self.delivery_calls / self.deliveries

    @property
    def requests_per_delivery(self) -> float | None:
        if self.delivery_requests is None:
            return None
        return self.delivery_requests / self.deliveries


# --- the traffic ------------------------------------------------------------------------


@dataclass(frozen=True)
class StormBatch:
    body: bytes
    events: int
    failures: frozenset[str]  # ids of the events that must alert
    twice: bool


def storm_batches(events: int, seed: int = 7) -> list[StormBatch]:
    """The storm in batches of 1 to 50, shuffled; one batch in ten to be posted twice."""
    rng = random.Random(seed)
    bodies: list[tuple[dict[str, Any], bool]] = []
    for n in range(events):
        draw = rng.random()
        if draw < 0.9:
            event, fails = call_result(f"s{n}", code=503, subcode=560503), True
        elif draw < 0.97:
            event, fails = call_result(f"s{n}", code=200, subcode=0), False
        else:
            name, code, subcode = UNRELATED[n % len(UNRELATED)]
            event, fails = call_result(f"s{n}", name, code=code, subcode=subcode), True
        bodies.append((event, fails))
    batches = []
    while bodies:
        size = rng.randint(1, 50)
        chunk, bodies = bodies[:size], bodies[size:]
        batches.append(
            StormBatch(
                body=json.dumps([event for event, _ in chunk]).encode(),
                events=len(chunk),
                failures=frozenset(event["id"] for event, fails in chunk if fails),
                twice=rng.random() < REDELIVERED,
            )
        )
    return batches


# --- counting the store's operations ----------------------------------------------------


def _counted(method: Callable[..., Any], operations: Operations) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        role = "flusher" if threading.current_thread().name == "flusher" else "delivery"
        operations.count_call(role)
        token = _role.set(role)
        try:
            return method(*args, **kwargs)
        finally:
            _role.reset(token)

    return call


_STORE_METHODS = ("claim", "complete", "release", "seen", "remember", "put", "pending",
                  "remove", "change", "documents")


def count_operations(runtime: Runtime, operations: Operations) -> None:
    """Count every call of the runtime's state objects (claims and records, the outbox, the
    group documents), by the thread that made it."""
    pipeline = runtime.pipeline
    notifier = pipeline.notifier
    targets: list[object] = [pipeline.dedupe, pipeline.outbox]
    if notifier is not None:
        targets.append(notifier.groups)
        if notifier.silences is not None:
            targets.append(notifier.silences.store)
    for target in dict.fromkeys(t for t in targets if t is not None):
        for name in _STORE_METHODS:
            method = getattr(target, name, None)
            if callable(method):
                setattr(target, name, _counted(method, operations))


@contextmanager
def table_store(folder: Path, operations: Operations) -> Iterator[DedupeStore]:
    """The table store on a fresh Azurite, every HTTP request it makes counted."""
    from azure.data.tables import TableServiceClient

    from handlers.deadlines import deadline_transport
    from handlers.state.table import CLIENT_OPTIONS, TableDedupeStore

    with running_azurite(folder) as azurite:
        transport = deadline_transport()
        send = transport.send

        def counted_send(request: Any, **kwargs: Any) -> Any:
            operations.count_request()
            return send(request, **kwargs)

        transport.send = counted_send
        service = TableServiceClient.from_connection_string(
            azurite.connection_string, transport=transport, **CLIENT_OPTIONS
        )
        store = TableDedupeStore(service, "stormbench", window=timedelta(hours=24))
        try:
            yield store
        finally:
            store.close()


# --- one run ----------------------------------------------------------------------------


def measure(
    folder: Path,
    store_kind: Store,
    events: int = DEFAULT_STORM_EVENTS,
    timers: Mapping[str, float] = TIMERS,
) -> StormResult:
    operations = Operations()
    batches = storm_batches(events)
    with contextmanager_for(store_kind, folder, operations) as store:
        sink = folder / f"{store_kind}-{FILE_NAME}"
        runtime = Runtime.build(
            load_settings(callback_jwt_required=False, **timers),
            sinks=[FileSink(sink)],
            dedupe=store,
        )
        count_operations(runtime, operations)
        with local_host(runtime) as (host, port):
            from handlers.tools.localhost import FlusherThread

            flusher = FlusherThread(runtime)
            flusher.start()
            try:
                started = time.perf_counter()
                latencies = post_all(host, port, batches)
                seconds = time.perf_counter() - started
                groups = settle(sink, expected_groups=1 + len(UNRELATED))
            finally:
                flusher.stop()
        runtime.flush()
    alerts, notifications = check_file(sink, batches)
    posted = sum(b.events * (2 if b.twice else 1) for b in batches)
    deliveries = sum(2 if b.twice else 1 for b in batches)
    return StormResult(
        store=store_kind,
        events=posted,
        deliveries=deliveries,
        seconds=seconds,
        latencies_ms=tuple(latencies),
        alerts=alerts,
        notifications=notifications,
        groups=groups,
        delivery_calls=operations.calls["delivery"],
        delivery_requests=operations.requests["delivery"] if store_kind == "table" else None,
        flusher_calls=operations.calls["flusher"],
    )


@contextmanager
def contextmanager_for(
    store_kind: Store, folder: Path, operations: Operations
) -> Iterator[DedupeStore]:
    if store_kind == "table":
        with table_store(folder, operations) as store:
            yield store
    else:
        yield MemoryDedupeStore(timedelta(hours=24), max_entries=1_000_000)


def post_all(host: str, port: int, batches: list[StormBatch]) -> list[float]:
    """Post every batch (a redelivered one twice in a row) from :data:`CLIENTS` connections;
    each delivery's latency in ms."""
    work: queue.SimpleQueue[StormBatch | None] = queue.SimpleQueue()
    for batch in batches:
        work.put(batch)
    latencies: list[float] = []
    errors: list[str] = []

    def client() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=60)
        try:
            while (batch := work.get()) is not None:
                for _ in range(2 if batch.twice else 1):
                    started = time.perf_counter()
                    status, body = post(connection, batch.body)
                    latencies.append((time.perf_counter() - started) * 1000)
                    if status != 200:
                        errors.append(f"{status}: {body[:200]!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=client, name=f"storm-client-{n}") for n in range(CLIENTS)]
    for _ in threads:
        work.put(None)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise BenchError(f"{len(errors)} storm deliveries failed; the first: {errors[0]}")
    return latencies


def post(connection: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes]:
    connection.request("POST", "/api/callbacks", body=body,
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, response.read()


def settle(sink: Path, expected_groups: int) -> int:
    """Wait until every group's last notification is a resolved one; how many groups fired."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        last = {data["group"]: data["reason"] for data in notifications_in(sink)}
        if len(last) >= expected_groups and set(last.values()) == {"resolved"}:
            return len(last)
        time.sleep(0.5)
    raise BenchError(f"the storm's {expected_groups} groups did not resolve in {SETTLE_SECONDS} s")


def notifications_in(sink: Path) -> Iterator[dict[str, Any]]:
    if not sink.exists():
        return
    with sink.open(encoding="utf-8") as lines:
        for line in lines:
            if '"acs-triage.notification.v1"' in line:
                event = json.loads(line)
                if event["data"].get("about") == "group":
                    yield event["data"]


def check_file(sink: Path, batches: list[StormBatch]) -> tuple[int, Counter[str]]:
    """Every failure alerted once; each group's notifications in turn (first ``new``, last
    ``resolved``), and its resolved ones count every alert. A group quiet for RESOLVE_TIMEOUT
    in the middle of the storm resolves and may fire again (Alertmanager's way too): each such
    episode is counted once."""
    expected = set().union(*(batch.failures for batch in batches))
    alert_events: list[str] = []
    with sink.open(encoding="utf-8") as lines:
        for line in lines:
            if '"acs-triage.alert.v1"' in line:
                alert_events.append(json.loads(line)["data"]["event"]["id"])
    if len(alert_events) != len(expected) or set(alert_events) != expected:
        raise BenchError(
            f"{len(expected)} failures were posted; the file holds {len(alert_events)} alerts "
            f"for {len(set(alert_events))} of them"
        )
    reasons: Counter[str] = Counter()
    last: dict[str, dict[str, Any]] = {}
    counted = 0
    for data in notifications_in(sink):
        reasons[data["reason"]] += 1
        before = last.get(data["group"])
        if (data["reason"] == "new") != (before is None or before["reason"] == "resolved"):
            raise BenchError(f"group {data['group']} was notified out of turn: {reasons}")
        if data["reason"] == "new" and before is not None:
            counted += before["total"]  # an episode that ended: its group went
        last[data["group"]] = data
    if any(data["reason"] != "resolved" for data in last.values()):
        raise BenchError("a group's last notification is not a resolved one")
    counted += sum(data["total"] for data in last.values())
    if counted != len(expected):
        raise BenchError(f"the resolved groups count {counted} alerts, not {len(expected)}")
    return len(alert_events), reasons
