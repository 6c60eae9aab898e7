"""Small statistics and process figures the benchmark reports."""

from __future__ import annotations

import math
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` 0.99 is p99): a value that was actually observed."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Cost:
    """What one call took: wall time, and this process's CPU time (all its threads), in ms."""

    wall_ms: float
    cpu_ms: float


def timed(function: Callable[[], T]) -> tuple[Cost, T]:
    """What one call costs, and its result.

    CPU time is the steadier figure on a shared machine: other processes slow the wall clock,
    not the work this process does.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    cost = Cost((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)
    return cost, result


def peak_rss_mb() -> float:
    """This process's peak resident set size (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def proc_status_mb(field: str, pid: int | str = "self") -> float:
    """A memory figure of ``/proc/PID/status`` (``VmRSS``, ``VmHWM``) in MB; NaN elsewhere."""
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return math.nan


def current_rss_mb(pid: int | str = "self") -> float:
    """Resident set size now (Linux ``/proc``; the peak on other systems, for ``self`` only)."""
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return peak_rss_mb()
