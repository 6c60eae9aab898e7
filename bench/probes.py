"""What the benchmark runs in fresh interpreters: ``python -m bench.probes WHAT [ARG]``.

Each probe prints one JSON object on standard output. Only the standard library is imported
before the thing measured, so nothing is warm that a real cold start would find cold.

- ``coldstart``: import ``function_app`` (which builds the runtime: settings, catalog, sinks)
  and, should the import not have done it, ``get_runtime()``; the modules left unimported.
- ``functions``: import ``azure.functions`` alone, the floor every Python function app pays.
- ``memory FILE``: deliver the batch in FILE in process; RSS before, the high-water mark
  (``VmHWM``) of start-up, of the batch alone (restarted just before it), and of all.
- ``serve``: the local host on 127.0.0.1 (a free port); prints ``{"port": N}``, then serves.
"""

from __future__ import annotations

import json
import sys
import time

# Not needed on every invocation, so kept out of a cold start (imported when first used).
LAZY_MODULES = ("azure.identity", "azure.eventgrid", "azure.data.tables", "azure.core")


def coldstart() -> dict[str, object]:
    started = time.perf_counter()
    import function_app  # noqa: F401

    imported = time.perf_counter()
    from handlers.runtime import get_runtime

    runtime = get_runtime()
    ready = time.perf_counter()
    return {
        "import_ms": (imported - started) * 1000,
        "runtime_ms": (ready - imported) * 1000,
        "total_ms": (ready - started) * 1000,
        "catalog_entries": len(runtime.pipeline.catalog.entries),
        "eager": [name for name in LAZY_MODULES if name in sys.modules],
    }


def functions() -> dict[str, object]:
    started = time.perf_counter()
    import azure.functions  # noqa: F401

    return {"total_ms": (time.perf_counter() - started) * 1000}


def memory(path: str) -> dict[str, object]:
    """Deliver one batch; the process's high-water marks (``VmHWM``) before and during it.

    ``VmHWM`` belongs to this process's own address space, started afresh at ``exec``: unlike
    ``ru_maxrss``, it never carries the peak of the process that started this one.
    """
    from pathlib import Path

    from bench.stats import proc_status_mb
    from handlers.http import routes as webhook
    from handlers.http.messages import Headers, Request
    from handlers.runtime import get_runtime

    runtime = get_runtime()
    body = Path(path).read_bytes()
    startup_peak = proc_status_mb("VmHWM")  # loading the catalog peaks higher than it stays
    before = proc_status_mb("VmRSS")
    batch_only = _reset_peak_rss()
    response = webhook.eventgrid(Request("POST", body, Headers({})), runtime)
    batch_peak = proc_status_mb("VmHWM")
    return {
        "status": response.status,
        "before_mb": before,
        "startup_peak_mb": startup_peak,
        "peak_rss_mb": max(startup_peak, batch_peak),
        "batch_peak_mb": batch_peak if batch_only else None,
    }


def _reset_peak_rss() -> bool:
    """Linux: restart this process's high-water mark at its RSS now (``clear_refs`` 5)."""
    from pathlib import Path

    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def serve() -> None:
    from handlers.runtime import get_runtime
    from handlers.tools.localhost import FlusherThread, make_server

    server = make_server("127.0.0.1", 0, access_log=False)
    flusher = FlusherThread(get_runtime())  # as `python -m handlers serve` runs it
    flusher.start()
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        flusher.stop()


def main(argv: list[str]) -> int:
    match argv:
        case ["coldstart"]:
            print(json.dumps(coldstart()))
        case ["functions"]:
            print(json.dumps(functions()))
        case ["memory", path]:
            print(json.dumps(memory(path)))
        case ["serve"]:
            serve()
        case _:
            print(__doc__, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
