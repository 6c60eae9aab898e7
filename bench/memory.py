"""Memory: one maximum batch's own high-water mark, and what the memory dedupe store costs.

- The batch: delivered in a fresh interpreter (``python -m bench.probes memory``) that does
  nothing else; its ``VmHWM`` is restarted just before the delivery, so the figure is the
  batch's own peak above the process's resident size before it.
- The dedupe store: ``MemoryDedupeStore`` filled with keys in the pipeline's own form
  (``event:`` and 40 hex digits), measured with ``tracemalloc`` in this process: bytes per key,
  and so the most it can hold at its bound (``max_entries``).
"""

from __future__ import annotations

import hashlib
import inspect
import tracemalloc
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bench.coldstart import app_environment, probe
from bench.workload import Batch
from handlers.state.memory import MemoryDedupeStore

STORE_SAMPLE_KEYS = 100_000
# The store's bound as the app builds it (its constructor's default).
DEFAULT_MAX_ENTRIES: int = inspect.signature(MemoryDedupeStore).parameters["max_entries"].default


@dataclass(frozen=True)
class PeakMemory:
    peak_rss_mb: float  # the child's high-water mark: interpreter, app, one batch
    before_mb: float  # RSS before the batch: interpreter, app, runtime, the body read
    startup_peak_mb: float  # the high-water mark before the batch (loading the catalog)
    batch_peak_mb: float | None  # the high-water mark while the batch ran (None: not here)
    store_bytes_per_key: float  # the memory dedupe store, per remembered key
    store_max_entries: int

    @property
    def batch_mb(self) -> float | None:
        """What one maximum batch adds to the process at its worst."""
        return None if self.batch_peak_mb is None else self.batch_peak_mb - self.before_mb

    @property
    def store_bound_mb(self) -> float:
        return self.store_bytes_per_key * self.store_max_entries / (1024 * 1024)


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
        store_bytes_per_key=dedupe_store_bytes_per_key(STORE_SAMPLE_KEYS),
        store_max_entries=DEFAULT_MAX_ENTRIES,
    )


def dedupe_store_bytes_per_key(count: int) -> float:
    """Bytes the memory dedupe store holds per key remembered (keys, expiry and order)."""
    keys = [
        "event:" + hashlib.sha256(str(index).encode()).hexdigest()[:40] for index in range(count)
    ]
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        store = MemoryDedupeStore(timedelta(hours=24), max_entries=count)
        # Copies made while tracing: the store keeps the strings the pipeline hands it.
        store.remember([key.encode().decode() for key in keys])
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    if len(store) != count:
        raise RuntimeError(f"the store kept {len(store)} of {count} keys")
    return (after - before) / count
