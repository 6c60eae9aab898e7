"""``python -m bench``: measure acs-triage the way its users judge it.

Prints a table, then, as its last line, one JSON object with every figure. All traffic stays on
127.0.0.1; every part is bounded in requests and in time. Exit status: 0 when the figures were
taken (speed goals missed or not: a busy machine is no failure), 1 when the app answered wrongly
(a batch not handled as it must be, an error under load).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from bench import coldstart, load, memory, throughput
from bench.report import Results, print_json, print_table
from bench.throughput import BenchError, bench_runtime, scratch_folder
from bench.workload import Batch, Workload

DEFAULT_EVENTS = 8_000  # six full batches each way (at least 5,000 events): a steadier median


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure acs-triage the way its users judge it; a table, then a JSON line.",
    )
    cli.add_argument(
        "--quick", action="store_true",
        help="a fast run: 2 batches each way, 3 cold starts, 3 s of load",
    )
    cli.add_argument(
        "--events", type=int, default=DEFAULT_EVENTS,
        help=f"events through the pipeline each way, in full batches ({DEFAULT_EVENTS:,})",
    )
    cli.add_argument("--coldstart-runs", type=int, default=7, help="fresh interpreters (7)")
    cli.add_argument("--concurrency", type=int, default=16, help="load: connections (16)")
    cli.add_argument("--seconds", type=float, default=10.0, help="load: at most (10 s)")
    cli.add_argument(
        "--requests", type=int, default=20_000,
        help="load with http.client: at most this many requests (20,000)",
    )
    cli.add_argument(
        "--client", choices=("auto", "wrk", "http.client"), default="auto",
        help="load generator: wrk when installed (auto), else threads with http.client",
    )
    cli.add_argument(
        "--only", nargs="+", choices=("pipeline", "http", "coldstart", "memory", "load"),
        help="measure only these parts",
    )
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.quick:
        args.events, args.coldstart_runs, args.seconds = 2_000, 3, 3.0
        args.requests = min(args.requests, 3_000)
    parts = set(args.only or ("pipeline", "http", "coldstart", "memory", "load"))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    workload = Workload()
    results = Results()
    try:
        with scratch_folder() as folder:
            measure_throughput(results, parts, folder, workload, args.events)
            if "coldstart" in parts:
                results.cold_start = coldstart.measure(folder, args.coldstart_runs)
            if "memory" in parts:
                results.memory = memory.measure(folder, workload.batch("eventgrid"))
            if "load" in parts:
                results.load = load.measure(
                    folder, workload, concurrency=args.concurrency, seconds=args.seconds,
                    max_requests=args.requests, client=args.client,
                )
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    print_table(results, sys.stdout)
    print_json(results, sys.stdout)
    return 1 if results.load is not None and results.load.errors else 0


def measure_throughput(
    results: Results, parts: set[str], folder: Path, workload: Workload, events: int
) -> None:
    """Full batches in process and over HTTP, taking turns batch by batch."""
    runtime = bench_runtime(folder)
    # One batch warms the runtime up (first-use costs inside pydantic and the catalog): a
    # function app pays them once per instance, not per delivery.
    warm_up = throughput.measure_batch(throughput.in_process(runtime), next(workload.batches(1)))
    with ExitStack() as stack:
        ways: dict[str, tuple[throughput.Deliver, list[Batch]]] = {}
        if "pipeline" in parts:
            ways["pipeline"] = (throughput.in_process(runtime), list(workload.batches(events)))
        if "http" in parts:
            deliver = stack.enter_context(throughput.over_http(runtime))
            ways["http"] = (deliver, list(workload.batches(events)))
        measured = throughput.run(ways)
    results.in_process = measured.get("pipeline")
    results.over_http = measured.get("http")
    runtime.flush()  # the alerts wait in the outbox until the flusher's next pass
    throughput.check_alert_file(
        folder, warm_up.alerts + sum(result.alerts for result in measured.values())
    )
