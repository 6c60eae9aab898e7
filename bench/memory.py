"""Peak memory of one maximum batch, delivered in a fresh interpreter (``ru_maxrss``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.coldstart import app_environment, probe
from bench.workload import Batch


@dataclass(frozen=True)
class PeakMemory:
    peak_rss_mb: float  # the whole process at its peak: interpreter, app, one batch
    before_mb: float  # RSS before the batch: interpreter, app, runtime, the body read
    startup_peak_mb: float  # the peak before the batch (loading the catalog)
    batch_peak_mb: float | None  # the peak while the batch ran (None: not measurable here)

    @property
    def batch_mb(self) -> float | None:
        """What one maximum batch adds to the process at its worst."""
        return None if self.batch_peak_mb is None else self.batch_peak_mb - self.before_mb


def measure(folder: Path, batch: Batch) -> PeakMemory:
    body = folder / "max-batch.json"
    body.write_bytes(batch.body)
    env = app_environment(folder)
    env["CALLBACK_JWT_REQUIRED"] = "false"
    result = probe("memory", env, str(body))
    if result["status"] != 200:
        raise RuntimeError(f"the memory probe's batch was answered {result['status']}")
    batch_peak = result["batch_peak_mb"]
    return PeakMemory(
        peak_rss_mb=float(result["peak_rss_mb"]),
        before_mb=float(result["before_mb"]),
        startup_peak_mb=float(result["startup_peak_mb"]),
        batch_peak_mb=None if batch_peak is None else float(batch_peak),
    )
