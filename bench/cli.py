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

from bench import coldstart, load, memory, peers, storm, throughput
from bench.azurite import AzuriteError
from bench.report import Results, print_json, print_table
from bench.throughput import BenchError, bench_runtime, scratch_folder
from bench.workload import Workload

DEFAULT_EVENTS = 12_000  # eight full batches each way: a steadier median of per-round ratios
PARTS = ("pipeline", "redelivery", "http", "peers", "coldstart", "memory", "load", "storm")


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure acs-triage the way its users judge it; a table, then a JSON line.",
    )
    cli.add_argument(
        "--quick", action="store_true",
        help="a fast run: 2 batches each way, 3 cold starts, 3 s of load, a 5,000-event storm",
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
        "--storm-events", type=int, default=storm.DEFAULT_STORM_EVENTS,
        help="storm: callbacks through the local host, per store "
        f"({storm.DEFAULT_STORM_EVENTS:,})",
    )
    cli.add_argument(
        "--storm-stores", nargs="+", choices=("memory", "table"), default=["memory", "table"],
        help="storm: the state stores to run it against (memory, and table on Azurite)",
    )
    cli.add_argument(
        "--only", nargs="+", choices=PARTS,
        help="measure only these parts",
    )
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.quick:
        args.events, args.coldstart_runs, args.seconds = 2_000, 3, 3.0
        args.requests = min(args.requests, 3_000)
        args.storm_events = min(args.storm_events, 5_000)
    parts = set(args.only or PARTS)
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
            if "storm" in parts:
                for store in args.storm_stores:
                    results.storms.append(storm.measure(folder, store, args.storm_events))
    except (BenchError, AzuriteError) as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    print_table(results, sys.stdout)
    print_json(results, sys.stdout)
    return 1 if results.load is not None and results.load.errors else 0


def measure_throughput(
    results: Results, parts: set[str], folder: Path, workload: Workload, events: int
) -> None:
    """Full batches: the app in process (fresh, then redelivered), over HTTP, and the peers, all
    taking turns batch by batch."""
    if not parts & {"pipeline", "redelivery", "http", "peers"}:
        return
    runtime = bench_runtime(folder)
    # One batch warms the runtime up (first-use costs inside pydantic and the catalog): a
    # function app pays them once per instance, not per delivery.
    first = next(workload.batches(1))
    warm_up = throughput.check_summary(*throughput.in_process(runtime)(first), first)
    careful = throughput.bench_runtime(folder, fast_path=False)
    second = next(workload.batches(1))
    warm_up += throughput.check_summary(*throughput.in_process(careful)(second), second)
    peers.warm_up(first)
    results.identical_batches = throughput.check_identical(folder, list(workload.batches(3_000)))
    fresh = list(workload.batches(events))
    with ExitStack() as stack:
        ways: list[throughput.Way] = []
        if parts & {"pipeline", "redelivery"}:
            deliver = throughput.in_process(runtime)
            ways.append(throughput.delivery_way("pipeline", "in process", deliver, fresh))
            ways.append(
                throughput.delivery_way(
                    "careful", "in process, careful path only", throughput.in_process(careful),
                    list(workload.batches(events)),
                )
            )
            if "redelivery" in parts:
                ways.append(
                    throughput.delivery_way(
                        "redelivery", "redelivered (all duplicates)", deliver, fresh, "duplicate"
                    )
                )
        if "http" in parts:
            over_http = stack.enter_context(throughput.over_http(runtime))
            ways.append(
                throughput.delivery_way(
                    "http", "over HTTP (local host)", over_http, list(workload.batches(events))
                )
            )
        if "peers" in parts:
            ways.extend(peers.peer_ways(fresh))
        results.throughput = throughput.run(ways)
    # The alerts wait in the outbox until the flusher's next pass; the peers flush their own.
    runtime.flush()
    careful.flush()
    throughput.check_alert_file(
        folder, warm_up + sum(result.alerts for result in results.throughput.values())
    )
