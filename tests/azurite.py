"""Start and stop the Azurite storage emulator (table or blob service) for the tests.

``npm ci`` at the repository root installs the pinned Azurite into ``node_modules``. Tests that
use it fail, never skip, when it is missing: a dedupe store nobody tested must not look green.

    with running_azurite(tmp_path) as azurite:
        TableDedupeStore.from_connection_string(azurite.connection_string, ...)
        azurite.stop()      # an outage, on purpose

    with running_azurite(tmp_path, service="blob") as azurite:
        ContainerClient.from_connection_string(azurite.connection_string, "dead-letters")

Fixtures (import them into a test module or into ``conftest.py``): ``azurite`` gives one test its
own table service, ``shared_azurite`` one per module; ``azurite_blob`` and ``shared_azurite_blob``
do the same for the blob service. All keep their data in memory, so there is nothing to clean up.
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

import pytest

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
        pytest.fail(NOT_INSTALLED, pytrace=False)
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
    pytest.fail(f"Azurite did not start; its last output:\n{last_error}", pytrace=False)


@contextmanager
def running_azurite(workdir: Path, service: Service = "table") -> Iterator[Azurite]:
    azurite = start_azurite(workdir, service)
    try:
        yield azurite
    finally:
        with suppress(ProcessLookupError):
            azurite.stop()


@pytest.fixture(name="azurite")
def azurite_fixture(tmp_path: Path) -> Iterator[Azurite]:
    """A fresh Azurite table service for one test, stopped after it (it may stop it earlier)."""
    with running_azurite(tmp_path) as emulator:
        yield emulator


@pytest.fixture(name="shared_azurite", scope="module")
def shared_azurite_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """One emulator for a module's tests that leave it running (each should use its own table)."""
    with running_azurite(tmp_path_factory.mktemp("azurite")) as emulator:
        yield emulator


@pytest.fixture(name="azurite_blob")
def azurite_blob_fixture(tmp_path: Path) -> Iterator[Azurite]:
    """A fresh Azurite blob service for one test, stopped after it."""
    with running_azurite(tmp_path, service="blob") as emulator:
        yield emulator


@pytest.fixture(name="shared_azurite_blob", scope="module")
def shared_azurite_blob_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """One blob service for a module's tests (each should use its own container)."""
    with running_azurite(tmp_path_factory.mktemp("azurite-blob"), service="blob") as emulator:
        yield emulator
