"""Full batches through the app, and through what a user would write instead, against json.loads.

Every figure is a ratio of CPU times measured side by side: in each round, each way handles one
batch and ``json.loads`` parses the very same bytes just before or just after it (the order
alternates by round), and the way's figure is the median of its per-round ratios. Rounds are
interleaved (one batch of each way, then the next of each), so a machine that slows down for a
while slows every way alike.

The ways:

- ``pipeline``: the app's own code in process (``routes.eventgrid(Request(...))``), every id new;
- ``redelivery``: the same batch again right after, every event a duplicate (Event Grid retries);
- ``http``: the same through the local host (HTTP parsing, the Functions request types);
- the peers (:mod:`bench.peers`): the azure-eventgrid SDK per event, and the Functions
  library's Event Grid converter one event per invocation, each with a dictionary lookup.
"""

from __future__ import annotations

import http.client
import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Literal, cast

from bench.stats import Cost, median, timed
from bench.workload import Batch
from handlers.alerting.file_sink import FileSink
from handlers.http import routes as webhook
from handlers.http.messages import Headers, Request
from handlers.runtime import Runtime, reset_runtime
from handlers.settings import load_settings
from handlers.state.memory import MemoryDedupeStore

ALERT_FILE_NAME = "alerts.jsonl"
EVENTGRID_HEADERS = {
    "Content-Type": "application/json",
    "aeg-event-type": "Notification",
    "aeg-subscription-name": "bench",
    "aeg-delivery-count": "0",
}
Expect = Literal["fresh", "duplicate"]


class BenchError(RuntimeError):
    """The app did not answer as it must (a wrong status or summary): figures would lie."""


@dataclass(frozen=True)
class BatchRun:
    """One round of one way: the batch handled, and json.loads of the same bytes beside it."""

    events: int
    bytes: int
    handled: Cost  # the whole delivery (or the peer's work on the batch)
    json_loads: Cost  # json.loads of the same bytes, once, in the same round
    alerts: int

    @property
    def ms(self) -> float:
        return self.handled.wall_ms

    @property
    def ratio(self) -> float:
        """CPU time of the way over CPU time of json.loads, this round."""
        return self.handled.cpu_ms / max(self.json_loads.cpu_ms, 1e-3)

    @property
    def wall_ratio(self) -> float:
        return self.handled.wall_ms / max(self.json_loads.wall_ms, 1e-6)


@dataclass(frozen=True)
class ThroughputResult:
    label: str
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
        """The median of the per-round CPU ratios."""
        return median([run.ratio for run in self.runs])

    @property
    def ratio_range(self) -> tuple[float, float]:
        """The interquartile range of the per-round ratios (how steady the figure is)."""
        ratios = sorted(run.ratio for run in self.runs)
        if not ratios:
            return (float("nan"), float("nan"))
        return ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]

    @property
    def wall_ratio(self) -> float:
        return median([run.wall_ratio for run in self.runs])

    @property
    def events_per_second(self) -> float:
        return self.events / (sum(run.ms for run in self.runs) / 1000)


@dataclass(frozen=True)
class Way:
    """One way of handling batches, measured in turns with the others.

    ``handle`` is timed; ``check`` reads what it returned once the clock has stopped: the alert
    count, or BenchError when the batch was handled wrongly.
    """

    name: str  # the key of its figures in the JSON line
    label: str  # its row in the table
    handle: Callable[[Batch], object]
    check: Callable[[Batch, object], int]
    batches: Sequence[Batch]


def bench_runtime(
    folder: Path, *, max_entries: int = 1_000_000, fast_path: bool = True,
    alert_file: str = ALERT_FILE_NAME,
) -> Runtime:
    """The embedded defaults, as ``python -m handlers serve`` runs: file sink, memory dedupe.
    ``fast_path`` off reads every body by the careful path (the app before issue 14)."""
    return Runtime.build(
        load_settings(callback_jwt_required=False),
        sinks=[FileSink(folder / alert_file)],
        dedupe=MemoryDedupeStore(timedelta(hours=24), max_entries=max_entries),
        fast_path=fast_path,
    )


def check_identical(folder: Path, batches: Sequence[Batch]) -> int:
    """Deliver the same batches, each twice, to a runtime with the fast path and to one without:
    every answer and the alert file must be the same bytes. The number of batches compared."""
    answers: list[list[tuple[int, bytes]]] = []
    files: list[bytes] = []
    for fast_path in (True, False):
        name = f"identical-{'fast' if fast_path else 'careful'}.jsonl"
        deliver = in_process(bench_runtime(folder, fast_path=fast_path, alert_file=name))
        answers.append([deliver(batch) for batch in batches for _ in range(2)])
        path = folder / name
        files.append(path.read_bytes() if path.exists() else b"")
    if answers[0] != answers[1] or files[0] != files[1]:
        raise BenchError("the fast path's answers or alerts differ from the careful path's")
    return len(batches)


def check_summary(status: int, body: bytes, batch: Batch, expect: Expect = "fresh") -> int:
    """The delivery's alert count; raise BenchError unless every event was handled as expected:
    afresh (no duplicate, nothing invalid), or, for a redelivery, every one a duplicate."""
    if status != 200:
        raise BenchError(f"a batch was answered {status}: {body[:300]!r}")
    summary = json.loads(body)
    outcomes = summary["outcomes"]
    if summary["received"] != batch.events:
        raise BenchError(f"a batch of {batch.events} events came back as {outcomes}")
    if expect == "duplicate" and outcomes != {"duplicate": batch.events}:
        raise BenchError(f"a redelivered batch of {batch.events} came back as {outcomes}")
    if expect == "fresh" and (outcomes.get("duplicate") or outcomes.get("invalid")):
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


def delivery_way(
    name: str, label: str, deliver: Deliver, batches: Sequence[Batch], expect: Expect = "fresh"
) -> Way:
    """A way that delivers batches to the app; each answer checked after the clock stops."""

    def check(batch: Batch, answer: object) -> int:
        status, body = cast(tuple[int, bytes], answer)
        return check_summary(status, body, batch, expect)

    return Way(name, label, deliver, check, batches)


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


def measure_round(way: Way, batch: Batch, loads_first: bool) -> BatchRun:
    """One batch of one way and one json.loads of its bytes, in the order given."""
    loads = partial(json.loads, batch.body)
    if loads_first:
        loads_cost, _ = timed(loads)
        cost, answer = timed(partial(way.handle, batch))
    else:
        cost, answer = timed(partial(way.handle, batch))
        loads_cost, _ = timed(loads)
    alerts = way.check(batch, answer)
    return BatchRun(batch.events, len(batch.body), cost, loads_cost, alerts)


def run(ways: Sequence[Way]) -> dict[str, ThroughputResult]:
    """Each way's batches, taken in turns (one of each, then the next of each)."""
    runs: dict[str, list[BatchRun]] = {way.name: [] for way in ways}
    for round_ in range(max((len(way.batches) for way in ways), default=0)):
        for way in ways:
            if round_ < len(way.batches):
                runs[way.name].append(measure_round(way, way.batches[round_], round_ % 2 == 0))
    return {way.name: ThroughputResult(way.label, tuple(runs[way.name])) for way in ways}


@contextmanager
def scratch_folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="acs-triage-bench-") as folder:
        yield Path(folder)
