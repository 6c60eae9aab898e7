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
from itertools import islice

from bench import coldstart, load, memory, throughput
from bench.report import Results, print_json, print_table
from bench.throughput import BenchError, bench_runtime, scratch_folder
from bench.workload import Workload

MIN_EVENTS = 5_000


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    cli.add_argument(
        "--quick", action="store_true",
        help="a fast run: 2 batches each way, 3 cold starts, 3 s of load",
    )
    cli.add_argument(
        "--events", type=int, default=MIN_EVENTS,
        help=f"events through the pipeline each way, in full batches (default {MIN_EVENTS:,})",
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
            runtime = bench_runtime(folder)
            # One batch to warm the runtime up (first-use costs inside pydantic and the
            # catalog); a function app pays them once per instance, not per delivery.
            throughput.run_in_process(list(islice(workload.batches(1), 1)), runtime)
            if "pipeline" in parts:
                batches = list(workload.batches(args.events))
                results.in_process = throughput.run_in_process(batches, runtime)
            if "http" in parts:
                batches = list(workload.batches(args.events))
                results.over_http = throughput.run_over_http(batches, runtime)
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

