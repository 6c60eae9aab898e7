"""Full Event Grid batches through the whole pipeline, in process and over HTTP, against json.loads.

Each batch is timed once (its ids are fresh, so a second pass would only find duplicates) and
``json.loads`` of the same bytes is timed right before it, best of three: the ratio of the two is
what the benchmark judges, because a busy machine slows both alike.
"""

from __future__ import annotations

import http.client
import json
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bench.stats import best_of, median, timed
from bench.workload import Batch
from handlers import webhook
from handlers.dedupe import MemoryDedupeStore
from handlers.http import Headers, Request
from handlers.runtime import Runtime, reset_runtime
from handlers.settings import load_settings
from handlers.sinks import FileSink

LOADS_RUNS = 3
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
    ms: float  # the whole delivery: parse, validate, enrich, decide, write the alerts
    json_loads_ms: float  # json.loads of the same bytes, best of three
    alerts: int

    @property
    def ratio(self) -> float:
        return self.ms / self.json_loads_ms


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
        return median([run.json_loads_ms for run in self.runs])

    @property
    def ratio(self) -> float:
        return median([run.ratio for run in self.runs])

    @property
    def events_per_second(self) -> float:
        return self.events / (sum(run.ms for run in self.runs) / 1000)


def bench_runtime(folder: Path, *, max_entries: int = 1_000_000) -> Runtime:
    """The embedded defaults, as ``python -m handlers serve`` runs: file sink, memory dedupe."""
    return Runtime.build(
        load_settings(callback_jwt_required=False),
        sinks=[FileSink(folder / "alerts.jsonl")],
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


def run_in_process(batches: Sequence[Batch], runtime: Runtime) -> ThroughputResult:
    """``webhook.eventgrid(Request(...), runtime)``: the app's own code, no HTTP."""
    runs = []
    for batch in batches:
        loads_ms = best_of(lambda: json.loads(batch.body), LOADS_RUNS)  # noqa: B023
        request = Request("POST", batch.body, Headers(EVENTGRID_HEADERS))
        ms, response = timed(lambda: webhook.eventgrid(request, runtime))  # noqa: B023
        alerts = check_summary(response.status, response.body, batch)
        runs.append(BatchRun(batch.events, len(batch.body), ms, loads_ms, alerts))
    return ThroughputResult(tuple(runs))


@contextmanager
def local_host(runtime: Runtime) -> Iterator[tuple[str, int]]:
    """The local host on 127.0.0.1 (a free port) serving ``runtime``, stopped on exit."""
    from handlers.localhost import make_server, serve_in_thread

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


def post(connection: http.client.HTTPConnection, path: str, body: bytes) -> tuple[int, bytes]:
    connection.request("POST", path, body=body, headers=EVENTGRID_HEADERS)
    response = connection.getresponse()
    return response.status, response.read()


def run_over_http(batches: Sequence[Batch], runtime: Runtime) -> ThroughputResult:
    """The same through the local host: HTTP parsing, the Functions request types, the route."""
    runs = []
    with local_host(runtime) as (host, port):
        connection = http.client.HTTPConnection(host, port, timeout=60)
        try:
            for batch in batches:
                loads_ms = best_of(lambda: json.loads(batch.body), LOADS_RUNS)  # noqa: B023
                ms, (status, body) = timed(
                    lambda: post(connection, "/api/eventgrid", batch.body)  # noqa: B023
                )
                alerts = check_summary(status, body, batch)
                runs.append(BatchRun(batch.events, len(batch.body), ms, loads_ms, alerts))
        finally:
            connection.close()
    return ThroughputResult(tuple(runs))


@contextmanager
def scratch_folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="acs-triage-bench-") as folder:
        yield Path(folder)
