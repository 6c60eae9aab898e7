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

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.azurite import (
    ACCOUNT,
    ACCOUNT_KEY,
    AZURITE_BIN,
    Azurite,
    AzuriteError,
    Service,
    free_port,
    start_azurite,
)

__all__ = ["ACCOUNT", "ACCOUNT_KEY", "AZURITE_BIN", "Azurite", "free_port", "running_azurite"]


@contextmanager
def running_azurite(workdir: Path, service: Service = "table") -> Iterator[Azurite]:
    """One emulator; a test that needs it fails, never skips, when it is missing or broken."""
    try:
        azurite = start_azurite(workdir, service)
    except AzuriteError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield azurite
    finally:
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
