"""Cold start: ``function_app`` imported with its runtime built, in fresh interpreters.

The figure is the median of several runs, and its ratio to importing ``azure.functions`` alone
(which every Python function app pays, and which this app cannot make cheaper). One more run
under ``python -X importtime`` says which packages the time goes to.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.stats import median

REPO = Path(__file__).resolve().parents[1]


def probe(what: str, env: Mapping[str, str], *args: str, importtime: bool = False) -> Any:
    """Run ``python -m bench.probes WHAT`` in a fresh interpreter and read its JSON line."""
    flags = ["-X", "importtime"] if importtime else []
    done = subprocess.run(
        [sys.executable, *flags, "-m", "bench.probes", what, *args],
        cwd=REPO,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"probe {what} failed ({done.returncode}): {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if importtime:
        result["importtime"] = done.stderr
    return result


def app_environment(folder: Path) -> dict[str, str]:
    """This process's environment less every app setting, plus production-like ones."""
    from handlers.settings import setting_names

    names = set(setting_names())
    env = {key: value for key, value in os.environ.items() if key.upper() not in names}
    env.update(
        {
            "ALERT_FILE": str(folder / "child-alerts.jsonl"),
            # As in Azure: callbacks need a JWT for this resource (its keys are fetched lazily).
            "CALLBACK_JWT_REQUIRED": "true",
            "CALLBACK_AUDIENCE": "00000000-0000-0000-0000-000000000000",
        }
    )
    return env


@dataclass(frozen=True)
class ColdStart:
    total_ms: float  # import function_app + runtime built (settings, catalog, sinks)
    import_ms: float
    runtime_ms: float
    functions_ms: float  # import azure.functions alone
    catalog_entries: int
    eager: tuple[str, ...]  # modules that should be lazy but were imported
    by_package: tuple[tuple[str, float], ...]  # self import time (ms), heaviest first

    @property
    def ratio(self) -> float:
        return self.total_ms / self.functions_ms


def measure(folder: Path, runs: int) -> ColdStart:
    env = app_environment(folder)
    probe("coldstart", env)  # the first run writes the bytecode caches: not a cold start's cost
    apps = [probe("coldstart", env) for _ in range(runs)]
    floors = [probe("functions", env)["total_ms"] for _ in range(runs)]
    profile = probe("coldstart", env, importtime=True)
    return ColdStart(
        total_ms=median([app["total_ms"] for app in apps]),
        import_ms=median([app["import_ms"] for app in apps]),
        runtime_ms=median([app["runtime_ms"] for app in apps]),
        functions_ms=median(floors),
        catalog_entries=int(apps[0]["catalog_entries"]),
        eager=tuple(apps[0]["eager"]),
        by_package=tuple(
            sorted(self_time_by_package(profile["importtime"]).items(), key=lambda kv: -kv[1])
        ),
    )


def self_time_by_package(importtime: str) -> dict[str, float]:
    """``-X importtime`` lines summed by package, in ms of self time.

    azure.* and handlers/catalog are split one level further (azure.functions, azure.core, …)
    so that the floor and the app's own modules stand apart.
    """
    totals: defaultdict[str, float] = defaultdict(float)
    for line in importtime.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        head, _cumulative, name = line.split("|")
        self_us = head.removeprefix("import time:").strip()
        if self_us.isdigit():  # not the header line
            totals[_package(name.strip())] += int(self_us) / 1000
    return totals


def _package(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "azure" and len(parts) > 1:
        return ".".join(parts[:2])
    if parts[0] in ("handlers", "catalog"):
        return ".".join(parts[:2])
    return parts[0]
