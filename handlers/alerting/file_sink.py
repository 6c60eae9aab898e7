"""The JSON-lines alert file: the embedded default destination."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from handlers.alerting.alert import Alert
from handlers.alerting.cloudevent import json_lines
from handlers.alerting.delivery import SinkError


class FileSink:
    """Appends each alert as one CloudEvent per line (JSON Lines); the embedded default sink.

    One ``write`` and one ``fsync`` per send, under a lock, so concurrent deliveries in one
    process never interleave their lines.
    """

    name = "file"
    timeout_seconds = 0.0

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def send(self, alerts: Sequence[Alert]) -> None:
        lines = json_lines(alerts)
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("ab") as file:
                    file.write(lines)
                    file.flush()
                    os.fsync(file.fileno())
        except OSError as error:
            reason = f"cannot append to the alert file ({type(error).__name__}: {error.strerror})"
            raise SinkError(self.name, reason) from None
