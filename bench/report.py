"""The benchmark's output: a table for people, then one JSON object (the last line) for programs."""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import dataclass
from typing import Any, TextIO

from bench.coldstart import ColdStart
from bench.load import LoadResult
from bench.memory import PeakMemory
from bench.throughput import ThroughputResult

# The goals this benchmark judges against.
MAX_RATIO_TO_JSON_LOADS = 3.0
MAX_COLD_START_MS = 300.0
MAX_LOAD_ERRORS = 0


@dataclass
class Results:
    """Whatever parts were measured (``--only``); a part not measured stays None."""

    in_process: ThroughputResult | None = None
    over_http: ThroughputResult | None = None
    cold_start: ColdStart | None = None
    memory: PeakMemory | None = None
    load: LoadResult | None = None


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def _round(value: float, digits: int = 2) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def figures(results: Results) -> dict[str, Any]:
    """The JSON line: flat keys, ms and MB, rounded; ``goals`` says which were met."""
    out: dict[str, Any] = {}
    goals: dict[str, bool] = {}
    if (run := results.in_process) is not None:
        out.update(
            events=run.events,
            bytes=run.bytes,
            batches=len(run.runs),
            events_per_batch=round(run.events / len(run.runs)),
            alerts=run.alerts,
            pipeline_ms=_round(run.ms_per_batch),
            json_loads_ms=_round(run.json_loads_ms),
            ratio=_round(run.ratio),
            wall_ratio=_round(run.wall_ratio),
            events_per_s=round(run.events_per_second),
        )
        goals["ratio"] = run.ratio <= MAX_RATIO_TO_JSON_LOADS
    if (run := results.over_http) is not None:
        out.update(
            http_events=run.events,
            http_ms=_round(run.ms_per_batch),
            http_json_loads_ms=_round(run.json_loads_ms),
            http_ratio=_round(run.ratio),
            http_wall_ratio=_round(run.wall_ratio),
            http_events_per_s=round(run.events_per_second),
        )
        goals["http_ratio"] = run.ratio <= MAX_RATIO_TO_JSON_LOADS
    if (cold := results.cold_start) is not None:
        out.update(
            import_ms=_round(cold.total_ms, 1),
            functions_import_ms=_round(cold.functions_ms, 1),
            app_import_ms=_round(cold.total_ms - cold.functions_ms, 1),
            import_ratio=_round(cold.ratio),
            eager_imports=list(cold.eager),
            import_heaviest={name: round(ms, 1) for name, ms in cold.by_package[:8]},
        )
        goals["import_ms"] = cold.total_ms < MAX_COLD_START_MS
        goals["lazy_imports"] = not cold.eager
    if (memory := results.memory) is not None:
        batch = memory.batch_mb
        out.update(
            peak_rss_mb=_round(memory.peak_rss_mb, 1),
            batch_rss_mb=None if batch is None else _round(batch, 1),
            startup_peak_rss_mb=_round(memory.startup_peak_mb, 1),
        )
    if (load := results.load) is not None:
        out.update(
            rps=round(load.rps),
            p50_ms=_round(load.p50_ms),
            p99_ms=_round(load.p99_ms),
            load_requests=load.requests,
            load_errors=load.errors,
            load_client=load.client,
            concurrency=load.concurrency,
            load_seconds=_round(load.seconds, 1),
            server_rss_mb=[_round(mb, 1) for mb in load.server_rss_mb],
        )
        goals["load_errors"] = load.errors <= MAX_LOAD_ERRORS
    out["goals"] = goals
    return out


def print_table(results: Results, out: TextIO) -> None:
    cpus = os.cpu_count() or 0
    print(f"acs-triage benchmark  (Python {platform.python_version()}, {cpus} CPUs)", file=out)
    _throughput(results, out)
    _cold_start(results.cold_start, out)
    _memory(results.memory, out)
    _load(results.load, out)


def _throughput(results: Results, out: TextIO) -> None:
    rows = [("in process", results.in_process), ("over HTTP (local host)", results.over_http)]
    present = [(name, run) for name, run in rows if run is not None]
    if not present:
        return
    first = present[0][1]
    per_batch = first.events / len(first.runs)
    alerted = first.alerts / first.events * 100
    kilobytes = first.bytes / len(first.runs) / 1024
    print(
        f"\nFull Event Grid batches: {per_batch:,.0f} events, {kilobytes:,.0f} KB each; whole "
        f"pipeline with the file sink ({alerted:.1f}% of events alerted)",
        file=out,
    )
    print(
        f"  {'':24}{'batches':>8}{'events':>8}{'ms/batch':>10}{'events/s':>10}"
        f"{'json.loads':>11}{'ratio':>7}{'(wall)':>8}   goal ≤ {MAX_RATIO_TO_JSON_LOADS:g}× (CPU)",
        file=out,
    )
    for name, run in present:
        print(
            f"  {name:24}{len(run.runs):8}{run.events:8,}{run.ms_per_batch:10.1f}"
            f"{run.events_per_second:10,.0f}{run.json_loads_ms:8.1f} ms{run.ratio:6.1f}×"
            f"{run.wall_ratio:7.1f}×   {_verdict(run.ratio <= MAX_RATIO_TO_JSON_LOADS)}",
            file=out,
        )


def _cold_start(cold: ColdStart | None, out: TextIO) -> None:
    if cold is None:
        return
    print("\nCold start (fresh interpreters, median)", file=out)
    print(
        f"  import function_app + runtime (settings, {cold.catalog_entries} catalog entries, "
        f"sinks): {cold.total_ms:6.1f} ms   goal < {MAX_COLD_START_MS:g} ms   "
        f"{_verdict(cold.total_ms < MAX_COLD_START_MS)}",
        file=out,
    )
    print(
        f"  import azure.functions alone: {cold.functions_ms:6.1f} ms   ratio {cold.ratio:.1f}×   "
        f"(the app's own share: {cold.total_ms - cold.functions_ms:.1f} ms)",
        file=out,
    )
    eager = ", ".join(cold.eager) or "none"
    print(f"  imported at cold start though needed only by some sinks: {eager}", file=out)
    heaviest = ", ".join(f"{name} {ms:.0f}" for name, ms in cold.by_package[:8])
    print(f"  where it goes (-X importtime, self ms): {heaviest}", file=out)


def _memory(memory: PeakMemory | None, out: TextIO) -> None:
    if memory is None:
        return
    print("\nPeak memory (one maximum batch, fresh interpreter, ru_maxrss)", file=out)
    batch = "not measurable here" if memory.batch_mb is None else f"+{memory.batch_mb:.1f} MB"
    print(
        f"  peak RSS {memory.peak_rss_mb:.1f} MB   (start-up peak {memory.startup_peak_mb:.1f} MB; "
        f"{memory.before_mb:.1f} MB before the batch, the batch {batch})",
        file=out,
    )


def _load(load: LoadResult | None, out: TextIO) -> None:
    if load is None:
        return
    print(
        f"\nLocal host under load ({load.client}, {load.concurrency} connections, one event per "
        f"delivery, {load.seconds:.1f} s)",
        file=out,
    )
    print(
        f"  {load.rps:,.0f} requests/s   p50 {load.p50_ms:.1f} ms   p99 {load.p99_ms:.1f} ms   "
        f"{load.requests:,} requests, {load.errors} errors   goal 0 errors   "
        f"{_verdict(load.errors <= MAX_LOAD_ERRORS)}",
        file=out,
    )
    before, after = load.server_rss_mb
    print(f"  server RSS {before:.1f} MB before, {after:.1f} MB after", file=out)
    for sample in load.error_samples:
        print(f"  error: {sample}", file=out)


def print_json(results: Results, out: TextIO) -> None:
    print(json.dumps(figures(results), separators=(", ", ": ")), file=out, flush=True)
