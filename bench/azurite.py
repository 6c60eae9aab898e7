"""Start and stop the Azurite storage emulator (table or blob service) on 127.0.0.1.

``npm ci`` at the repository root installs the pinned Azurite into ``node_modules``. The tests
(``tests/azurite.py``, its fixtures) and the storm benchmark both start it through this module;
each emulator keeps its data in memory and is stopped by its own process id.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal


class AzuriteError(RuntimeError):
    """Azurite is not installed, or did not start."""


REPO_ROOT = Path(__file__).resolve().parent.parent
AZURITE_BIN = REPO_ROOT / "node_modules" / ".bin"
Service = Literal["table", "blob"]
# Azurite's well-known development account (public, the same in every Azurite install).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
START_TIMEOUT_SECONDS = 30.0
NOT_INSTALLED = (
    "Azurite is not installed: run `npm ci` at the repository root (package.json pins it); "
    "the Table Storage dedupe tests and the dead-letter replay tests need it."
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Azurite:
    """One running emulator process serving one service (table or blob)."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path
    service: Service = "table"
    stopped: bool = field(default=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def table_endpoint(self) -> str:
        assert self.service == "table", "this emulator serves blobs"
        return self.endpoint

    @property
    def blob_endpoint(self) -> str:
        assert self.service == "blob", "this emulator serves tables"
        return self.endpoint

    @property
    def connection_string(self) -> str:
        endpoint = "TableEndpoint" if self.service == "table" else "BlobEndpoint"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"{endpoint}={self.endpoint};"
        )

    def stop(self) -> None:
        """Stop the emulator, by its own pid only."""
        if self.stopped:
            return
        self.stopped = True
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_azurite(workdir: Path, service: Service = "table") -> Azurite:
    """Start one Azurite service on a free loopback port and wait until it listens."""
    program = AZURITE_BIN / f"azurite-{service}"
    if not program.exists():
        raise AzuriteError(NOT_INSTALLED)
    last_error = ""
    for _ in range(3):  # a free port can be taken between the probe and the start
        port = free_port()
        log = workdir / f"azurite-{service}-{port}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [
                    str(program),
                    f"--{service}Host",
                    "127.0.0.1",
                    f"--{service}Port",
                    str(port),
                    "--skipApiVersionCheck",
                    "--disableTelemetry",
                    "--inMemoryPersistence",
                    "--silent",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=workdir,
            )
        azurite = Azurite(port=port, process=process, log=log, service=service)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline and process.poll() is None:
            if _listening(port):
                return azurite
            time.sleep(0.1)
        azurite.stop()
        last_error = log.read_text(errors="replace")[-2000:]
    raise AzuriteError(f"Azurite did not start; its last output:\n{last_error}")


@contextmanager
def running_azurite(workdir: Path, service: Service = "table") -> Iterator[Azurite]:
    azurite = start_azurite(workdir, service)
    try:
        yield azurite
    finally:
        with suppress(ProcessLookupError):
            azurite.stop()
