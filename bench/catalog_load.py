"""Cold-start cost of the catalog: import, load and validate every table (goal: load < 50 ms).

Also the cost of one lookup once loaded.

Each figure comes from a fresh interpreter, so nothing is cached; run from the repository root:

    python bench/catalog_load.py [RUNS]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Runs in a fresh interpreter: the package import, the loader's imports (pydantic), the load.
PROBE = """
import json, time
started = time.perf_counter()
import catalog
imported_package = time.perf_counter()
import catalog.loader
imported_loader = time.perf_counter()
loaded = catalog.get_catalog()
done = time.perf_counter()
from catalog.models import Domain
queries = [(Domain.CALL_AUTOMATION, 503, 560503), (Domain.CALL_AUTOMATION, 500, 9999),
           (Domain.CALL_END, 410, 3100), (Domain.SMS_DELIVERY, 4007, None), (Domain.CALL_END, 1, 1)]
rounds = 2000
before = time.perf_counter()
for _ in range(rounds):
    for domain, code, subcode in queries:
        loaded.lookup(domain, code, subcode)
per_lookup = (time.perf_counter() - before) / (rounds * len(queries))
print(json.dumps({
    "import catalog (ms)": (imported_package - started) * 1e3,
    "import catalog.loader, pydantic (ms)": (imported_loader - imported_package) * 1e3,
    "load every table (ms)": (done - imported_loader) * 1e3,
    "one lookup (us)": per_lookup * 1e6,
    "entries": len(loaded.entries),
}))
"""


def main(runs: int) -> None:
    samples = [_sample() for _ in range(runs)]
    print(f"{runs} cold starts, median (max):")
    for name in samples[0]:
        values = [sample[name] for sample in samples]
        print(f"  {name:<40} {statistics.median(values):8.1f} ({max(values):.1f})")


def _sample() -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, float] = json.loads(output)
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
