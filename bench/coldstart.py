"""Cold start: ``function_app`` imported with its runtime built, against ``azure.functions`` alone.

Every Python function app pays for ``import azure.functions``; the goal is a ratio to it. Both are
measured two ways, in rounds that take turns (one of each, then the next round), and each figure
is the median of the per-round ratios:

- in process: ``python -m bench.probes coldstart`` times its own ``import function_app`` (and
  ``get_runtime()``) with ``perf_counter``; ``bench.probes functions`` times ``import
  azure.functions`` the same way;
- from outside: the wall time of a fresh interpreter running ``import function_app``, minus that
  of a bare one (``pass``), against the same for ``import azure.functions``. This counts what the
  in-process figure cannot see: interpreter start-up work the import triggers, and exit.

Each is taken with the app's bytecode caches present (the usual case: a warm-up run writes them)
and absent (a copy of the app's sources without ``__pycache__``, run with ``-B`` so that none is
written: a deployment without ``.pyc``). Installed packages keep their caches either way. One
more run under ``python -X importtime`` says which packages the time goes to.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.stats import median

REPO = Path(__file__).resolve().parents[1]
# What the app needs to start, copied without bytecode for the "absent" runs (and the probes).
APP_SOURCES = ("function_app.py", "handlers", "catalog", "bench")
IMPORT_APP = "import function_app"
IMPORT_FUNCTIONS = "import azure.functions"
BARE = "pass"


def probe(
    what: str,
    env: Mapping[str, str],
    *args: str,
    importtime: bool = False,
    cwd: Path = REPO,
    flags: Sequence[str] = (),
) -> Any:
    """Run ``python -m bench.probes WHAT`` in a fresh interpreter and read its JSON line."""
    extra = ["-X", "importtime"] if importtime else []
    done = subprocess.run(
        [sys.executable, *flags, *extra, "-m", "bench.probes", what, *args],
        cwd=cwd,
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
    env = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in names and key not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")
    }
    env.update(
        {
            "ALERT_FILE": str(folder / "child-alerts.jsonl"),
            # As in Azure: callbacks need a JWT for this resource (its keys are fetched lazily).
            "CALLBACK_JWT_REQUIRED": "true",
            "CALLBACK_AUDIENCE": "00000000-0000-0000-0000-000000000000",
        }
    )
    return env


def outside_seconds(code: str, env: Mapping[str, str], cwd: Path, flags: Sequence[str]) -> float:
    """Wall time of a fresh interpreter that runs ``code`` and exits, seen from here."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *flags, "-c", code],
        cwd=cwd, env=dict(env), capture_output=True, check=False, timeout=120,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"python -c {code!r} failed: {done.stderr[-2000:]!r}")
    return elapsed


@dataclass(frozen=True)
class Variant:
    """One way of starting (bytecode present or absent): medians and median per-round ratios."""

    pyc: str  # "present" or "absent"
    app_ms: float  # in process: import function_app + runtime built
    functions_ms: float  # in process: import azure.functions alone
    ratio: float
    outside_app_ms: float  # fresh interpreter with the app, minus a bare one
    outside_functions_ms: float  # fresh interpreter with azure.functions, minus a bare one
    outside_ratio: float


@dataclass(frozen=True)
class ColdStart:
    variants: tuple[Variant, ...]
    catalog_entries: int
    eager: tuple[str, ...]  # modules that should be lazy but were imported
    by_package: tuple[tuple[str, float], ...]  # self import time (ms), heaviest first

    @property
    def present(self) -> Variant:
        return self.variants[0]

    @property
    def worst_ratio(self) -> float:
        return max(max(v.ratio, v.outside_ratio) for v in self.variants)


def measure_variant(pyc: str, env: Mapping[str, str], cwd: Path, runs: int) -> tuple[
    Variant, dict[str, Any]
]:
    flags = ["-B"] if pyc == "absent" else []
    apps: list[dict[str, Any]] = []
    floors: list[float] = []
    outside: list[tuple[float, float, float]] = []
    for _ in range(runs):
        apps.append(probe("coldstart", env, cwd=cwd, flags=flags))
        floors.append(probe("functions", env, cwd=cwd, flags=flags)["total_ms"])
        outside.append(
            (
                outside_seconds(IMPORT_APP, env, cwd, flags),
                outside_seconds(IMPORT_FUNCTIONS, env, cwd, flags),
                outside_seconds(BARE, env, cwd, flags),
            )
        )
    app_ms = [app["total_ms"] for app in apps]
    outside_app = [(app - bare) * 1000 for app, _, bare in outside]
    outside_functions = [(functions - bare) * 1000 for _, functions, bare in outside]
    variant = Variant(
        pyc=pyc,
        app_ms=median(app_ms),
        functions_ms=median(floors),
        ratio=median([a / f for a, f in zip(app_ms, floors, strict=True)]),
        outside_app_ms=median(outside_app),
        outside_functions_ms=median(outside_functions),
        outside_ratio=median(
            [a / max(f, 1e-3) for a, f in zip(outside_app, outside_functions, strict=True)]
        ),
    )
    return variant, apps[0]


def copy_without_bytecode(folder: Path) -> Path:
    """The app's sources in ``folder/app``, no ``__pycache__``: a start without ``.pyc``."""
    target = folder / "app-without-pyc"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name in APP_SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / name)
    return target


def measure(folder: Path, runs: int) -> ColdStart:
    env = app_environment(folder)
    probe("coldstart", env)  # the first run writes the bytecode caches: not a cold start's cost
    present, first = measure_variant("present", env, REPO, runs)
    absent, _ = measure_variant("absent", env, copy_without_bytecode(folder), runs)
    profile = probe("coldstart", env, importtime=True)
    return ColdStart(
        variants=(present, absent),
        catalog_entries=int(first["catalog_entries"]),
        eager=tuple(first["eager"]),
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
