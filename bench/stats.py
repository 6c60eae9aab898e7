"""Small statistics and process figures the benchmark reports."""

from __future__ import annotations

import math
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
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


def timed(function: Callable[[], T]) -> tuple[float, T]:
    """Milliseconds one call takes, and its result."""
    started = time.perf_counter()
    result = function()
    return (time.perf_counter() - started) * 1000, result


def best_of(function: Callable[[], object], runs: int) -> float:
    """The fastest of ``runs`` calls, in ms: the cost of the work itself, not of the machine."""
    return min(timed(function)[0] for _ in range(runs))


def peak_rss_mb() -> float:
    """This process's peak resident set size (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def current_rss_mb(pid: int | str = "self") -> float:
    """Resident set size now (Linux ``/proc``; the peak on other systems, for ``self`` only)."""
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return peak_rss_mb()
