"""The JSON-lines alert file: the embedded default destination."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from handlers.alerting.cloudevent import CloudEvent, json_lines
from handlers.alerting.delivery import SinkError


class FileSink:
    """Appends each alert as one CloudEvent per line (JSON Lines); the embedded default sink.

    One ``write`` and one ``fsync`` per send, under a lock, so concurrent deliveries in one
    process never interleave their lines. The file is its own record of what it received: an
    alert whose id is already in it is not appended again, so replaying the same payloads, or
    restarting ``serve`` (whose dedupe memory starts empty) and being sent them again, adds no
    duplicate line. The ids are read once, on the first send, then kept as alerts are written.
    """

    name = "file"
    timeout_seconds = 0.0

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._written: set[str] | None = None

    def send(self, alerts: Sequence[CloudEvent[Any]]) -> None:
        try:
            with self._lock:
                written = self._ids_in_file()
                fresh = list({a.id: a for a in alerts if a.id not in written}.values())
                if not fresh:
                    return
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("ab") as file:
                    file.write(json_lines(fresh))
                    file.flush()
                    os.fsync(file.fileno())
                written.update(alert.id for alert in fresh)
        except OSError as error:
            reason = f"cannot append to the alert file ({type(error).__name__}: {error.strerror})"
            raise SinkError(self.name, reason) from None

    def _ids_in_file(self) -> set[str]:
        if self._written is None:
            self._written = set()
            if self.path.is_file():
                with self.path.open("rb") as file:
                    self._written.update(_alert_id(line) for line in file)
                self._written.discard("")
        return self._written


def _alert_id(line: bytes) -> str:
    """The id of one line of the file; "" for a line that is not an alert (kept, not read)."""
    try:
        event = json.loads(line)
    except ValueError:
        return ""
    alert_id = event.get("id") if isinstance(event, dict) else None
    return alert_id if isinstance(alert_id, str) else ""
