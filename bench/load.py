"""The local host under load: concurrent deliveries on 127.0.0.1, as Event Grid sends them.

Event Grid's default is one event per delivery (batching off), so each request carries one fresh
event of the realistic mix. The server runs in its own process (``python -m bench.probes serve``)
so that the load generator does not share its interpreter. The generator is ``wrk`` when it is
installed (``apt-get install wrk``), else threads with ``http.client``; both are bounded in time,
the threads also in number of requests. An error is a failed connection or an answer of 400 or
more (wrk's rule; the threads count any answer but 200).
"""

from __future__ import annotations

import http.client
import itertools
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.coldstart import REPO, app_environment
from bench.stats import current_rss_mb, percentile
from bench.throughput import EVENTGRID_HEADERS
from bench.workload import Workload, in_schema

ID_PLACEHOLDER = "@@EVENTID@@"  # no Lua pattern magic characters


@dataclass
class LoadResult:
    client: str  # "wrk" or "http.client"
    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_rss_mb: tuple[float, float] = (0.0, 0.0)  # before and after the load
    error_samples: list[str] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@contextmanager
def server_process(folder: Path) -> Iterator[tuple[int, int]]:
    """The local host in a child process: yields (port, pid); stopped (by its pid) on exit."""
    env = app_environment(folder)
    env["CALLBACK_JWT_REQUIRED"] = "false"
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.probes", "serve"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise RuntimeError("the local host did not start")
        yield int(json.loads(line)["port"]), child.pid
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def one_event_bodies(workload: Workload, count: int) -> list[bytes]:
    return [json.dumps([in_schema(workload.event(), "eventgrid")]).encode() for _ in range(count)]


def run_threads(
    port: int, bodies: Sequence[bytes], *, concurrency: int, max_seconds: float
) -> LoadResult:
    """``concurrency`` keep-alive connections posting ``bodies`` until done or out of time."""
    next_index = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    unanswered = 0
    deadline = time.monotonic() + max_seconds

    def worker() -> None:
        nonlocal unanswered
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        failures: list[str] = []
        lost = 0
        while time.monotonic() < deadline:
            index = next(next_index)
            if index >= len(bodies):
                break
            started = time.perf_counter()
            try:
                connection.request("POST", "/api/eventgrid", bodies[index], EVENTGRID_HEADERS)
                response = connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as error:
                failures.append(f"{type(error).__name__}: {error}")
                lost += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            mine.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                failures.append(f"{response.status}: {answer[:200]!r}")
        connection.close()
        with lock:
            latencies.extend(mine)
            errors.extend(failures)
            unanswered += lost

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return LoadResult(
        client="http.client",
        concurrency=concurrency,
        requests=len(latencies) + unanswered,
        errors=len(errors),
        seconds=seconds,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        error_samples=errors[:5],
    )


# wrk runs one Lua state per thread: each numbers its requests, so every event id is new.
WRK_SCRIPT = """
local templates = {%(templates)s}
local counter = 0
local tid = 0
local created = 0
function setup(thread)
  created = created + 1
  thread:set("tid", created)
end
function init(args)
  tid = tonumber(wrk.thread:get("tid")) or 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["aeg-event-type"] = "Notification"
end
function request()
  counter = counter + 1
  local id = string.format("%%08x-0000-4000-8000-%%012x", tid, counter)
  local body = templates[(counter %% #templates) + 1]:gsub("%(placeholder)s", id)
  return wrk.format("POST", "/api/eventgrid", nil, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\n{"requests": %%d, "duration_us": %%d, "errors": %%d, "status_errors": %%d, '
    .. '"p50_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    e.status, latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_script(workload: Workload, folder: Path, variants: int = 50) -> Path:
    templates = []
    for _ in range(variants):
        event = in_schema(workload.event(), "eventgrid")
        event["id"] = ID_PLACEHOLDER
        templates.append(f"[==[{json.dumps([event])}]==]")  # a Lua long string: no escapes
    script = folder / "load.lua"
    script.write_text(
        WRK_SCRIPT % {"templates": ", ".join(templates), "placeholder": ID_PLACEHOLDER}
    )
    return script


def run_wrk(port: int, script: Path, *, concurrency: int, seconds: float) -> LoadResult:
    wrk = shutil.which("wrk")
    assert wrk is not None
    done = subprocess.run(
        [wrk, "-t2", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
         "-s", str(script), f"http://127.0.0.1:{port}/api/eventgrid"],
        capture_output=True, text=True, check=False, timeout=seconds + 60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-1000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return LoadResult(
        client="wrk",
        concurrency=concurrency,
        requests=int(figures["requests"]),
        errors=int(figures["errors"]),
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        error_samples=[f"{figures['status_errors']} answers >= 400"] if figures["errors"] else [],
    )


def measure(
    folder: Path,
    workload: Workload,
    *,
    concurrency: int,
    seconds: float,
    max_requests: int,
    client: str = "auto",
) -> LoadResult:
    """Load the local host; ``client`` is "wrk", "http.client" or "auto" (wrk when installed)."""
    use_wrk = client == "wrk" or (client == "auto" and shutil.which("wrk") is not None)
    script = wrk_script(workload, folder) if use_wrk else None
    bodies = [] if use_wrk else one_event_bodies(workload, max_requests)
    with server_process(folder) as (port, pid):
        warm_up(port)
        before = current_rss_mb(pid)
        if script is not None:
            result = run_wrk(port, script, concurrency=concurrency, seconds=seconds)
        else:
            result = run_threads(port, bodies, concurrency=concurrency, max_seconds=seconds)
        result.server_rss_mb = (before, current_rss_mb(pid))
    return result


def warm_up(port: int) -> None:
    """One health check: the host answers, and the runtime is built before the clock starts."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/api/health")
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"the local host is not ready ({response.status})")
    finally:
        connection.close()
