"""Full Event Grid batches through the whole pipeline, in process and over HTTP, against json.loads.

Each batch is timed once (its ids are fresh, so a second pass would only find duplicates) and
``json.loads`` of the same bytes is timed right before it, best of three. The ratio the benchmark
judges is of CPU time (this process, all threads: over HTTP that is the client and the local
host together), which other processes on a busy machine barely move; wall times are reported
beside it.
"""

from __future__ import annotations

import http.client
import json
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

from bench.stats import Cost, best_of, median, timed
from bench.workload import Batch
from handlers.alerting.file_sink import FileSink
from handlers.http import routes as webhook
from handlers.http.messages import Headers, Request
from handlers.runtime import Runtime, reset_runtime
from handlers.settings import load_settings
from handlers.state.memory import MemoryDedupeStore

LOADS_RUNS = 3
ALERT_FILE_NAME = "alerts.jsonl"
EVENTGRID_HEADERS = {
    "Content-Type": "application/json",
    "aeg-event-type": "Notification",
    "aeg-subscription-name": "bench",
    "aeg-delivery-count": "0",
}


class BenchError(RuntimeError):
    """The app did not answer as it must (a wrong status or summary): figures would lie."""


@dataclass(frozen=True)
class BatchRun:
    events: int
    bytes: int
    delivery: Cost  # the whole delivery: parse, validate, enrich, decide, write the alerts
    json_loads: Cost  # json.loads of the same bytes, best of three
    alerts: int

    @property
    def ms(self) -> float:
        return self.delivery.wall_ms

    @property
    def ratio(self) -> float:
        """CPU time of the delivery over CPU time of json.loads."""
        return self.delivery.cpu_ms / max(self.json_loads.cpu_ms, 1e-3)

    @property
    def wall_ratio(self) -> float:
        return self.delivery.wall_ms / self.json_loads.wall_ms


@dataclass(frozen=True)
class ThroughputResult:
    runs: tuple[BatchRun, ...]

    @property
    def events(self) -> int:
        return sum(run.events for run in self.runs)

    @property
    def bytes(self) -> int:
        return sum(run.bytes for run in self.runs)

    @property
    def alerts(self) -> int:
        return sum(run.alerts for run in self.runs)

    @property
    def ms_per_batch(self) -> float:
        return median([run.ms for run in self.runs])

    @property
    def json_loads_ms(self) -> float:
        return median([run.json_loads.wall_ms for run in self.runs])

    @property
    def ratio(self) -> float:
        return median([run.ratio for run in self.runs])

    @property
    def wall_ratio(self) -> float:
        return median([run.wall_ratio for run in self.runs])

    @property
    def events_per_second(self) -> float:
        return self.events / (sum(run.ms for run in self.runs) / 1000)


def bench_runtime(folder: Path, *, max_entries: int = 1_000_000) -> Runtime:
    """The embedded defaults, as ``python -m handlers serve`` runs: file sink, memory dedupe."""
    return Runtime.build(
        load_settings(callback_jwt_required=False),
        sinks=[FileSink(folder / ALERT_FILE_NAME)],
        dedupe=MemoryDedupeStore(timedelta(hours=24), max_entries=max_entries),
    )


def check_summary(status: int, body: bytes, batch: Batch) -> int:
    """The delivery's alert count; raise BenchError unless every event was handled afresh."""
    if status != 200:
        raise BenchError(f"a batch was answered {status}: {body[:300]!r}")
    summary = json.loads(body)
    outcomes = summary["outcomes"]
    if summary["received"] != batch.events or outcomes.get("duplicate") or outcomes.get("invalid"):
        raise BenchError(f"a batch of {batch.events} events came back as {outcomes}")
    alerts: int = summary["alerts"]
    return alerts


def check_alert_file(folder: Path, alerts: int) -> None:
    """Every alert the summaries counted is in the file sink's file, once."""
    path = folder / ALERT_FILE_NAME
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    ids = {json.loads(line)["id"] for line in lines}
    if len(lines) != alerts or len(ids) != alerts:
        raise BenchError(f"{alerts} alerts were reported, the file holds {len(lines)} lines")


Deliver = Callable[[Batch], tuple[int, bytes]]


def in_process(runtime: Runtime) -> Deliver:
    """``webhook.eventgrid(Request(...), runtime)``: the app's own code, no HTTP."""

    def deliver(batch: Batch) -> tuple[int, bytes]:
        request = Request("POST", batch.body, Headers(EVENTGRID_HEADERS))
        response = webhook.eventgrid(request, runtime)
        return response.status, response.body

    return deliver


@contextmanager
def local_host(runtime: Runtime) -> Iterator[tuple[str, int]]:
    """The local host on 127.0.0.1 (a free port) serving ``runtime``, stopped on exit."""
    from handlers.tools.localhost import make_server, serve_in_thread

    reset_runtime(runtime)  # before function_app is imported: it builds the runtime at import
    server = make_server("127.0.0.1", 0, access_log=False)
    thread = serve_in_thread(server)
    host, port = server.server_address[:2]
    try:
        yield str(host), int(port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        reset_runtime(None)


@contextmanager
def over_http(runtime: Runtime) -> Iterator[Deliver]:
    """The same through the local host: HTTP parsing, the Functions request types, the route."""
    with local_host(runtime) as (host, port):
        connection = http.client.HTTPConnection(host, port, timeout=60)
        try:
            yield lambda batch: post(connection, "/api/eventgrid", batch.body)
        finally:
            connection.close()


def post(connection: http.client.HTTPConnection, path: str, body: bytes) -> tuple[int, bytes]:
    connection.request("POST", path, body=body, headers=EVENTGRID_HEADERS)
    response = connection.getresponse()
    return response.status, response.read()


def measure_batch(deliver: Deliver, batch: Batch) -> BatchRun:
    loads = best_of(partial(json.loads, batch.body), LOADS_RUNS)
    cost, (status, body) = timed(partial(deliver, batch))
    alerts = check_summary(status, body, batch)
    return BatchRun(batch.events, len(batch.body), cost, loads, alerts)


def run(ways: Mapping[str, tuple[Deliver, Sequence[Batch]]]) -> dict[str, ThroughputResult]:
    """Each way's batches, taken in turns (one of each, then the next of each), so that a
    machine that slows down for a while slows every way alike."""
    runs: dict[str, list[BatchRun]] = {name: [] for name in ways}
    for round_ in range(max((len(batches) for _, batches in ways.values()), default=0)):
        for name, (deliver, batches) in ways.items():
            if round_ < len(batches):
                runs[name].append(measure_batch(deliver, batches[round_]))
    return {name: ThroughputResult(tuple(done)) for name, done in runs.items()}


@contextmanager
def scratch_folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="acs-triage-bench-") as folder:
        yield Path(folder)
