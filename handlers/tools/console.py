"""What ``serve`` tells the person watching it: the destinations in use, and one readable line
per delivery (what came in, what went out), read from the pipeline's structured log records.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, TextIO
from urllib.parse import urlsplit

from handlers.logs import structured_fields
from handlers.settings import Settings


def destinations(settings: Settings) -> list[str]:
    """Every alert destination in use, as a person recognises it. URLs are shown by scheme and
    host only: a webhook's path or query may carry a token."""
    found = []
    if settings.alert_file is not None:
        found.append(f"file {settings.alert_file}" + _only(settings.alert_file_receives))
    if settings.alert_webhook_url:
        webhook = _origin(settings.alert_webhook_url)
        found.append(f"signed webhook {webhook}" + _only(settings.alert_webhook_receives))
    if settings.alert_topic_endpoint:
        topic = _origin(settings.alert_topic_endpoint)
        found.append(f"Event Grid topic {topic}" + _only(settings.alert_topic_receives))
    return found


def _only(receives: str) -> str:
    """What a destination that does not take both receives: `` (notifications only)``."""
    return "" if receives == "both" else f" ({receives} only)"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def delivery_line(fields: dict[str, Any], sinks: Sequence[str]) -> str:
    """``eventgrid: 3 events in (2 ok, 1 alert) -> 1 alert out to file``."""
    received = int(fields.get("received", 0))
    outcomes = fields.get("outcomes") or {}
    tally = ", ".join(f"{count} {name}" for name, count in outcomes.items())
    came_in = f"{received} event{'' if received == 1 else 's'} in"
    if tally:
        came_in += f" ({tally})"
    alerts = int(fields.get("alerts", 0))
    if alerts == 0:
        went_out = "nothing out"
    else:
        went_out = f"{alerts} alert{'' if alerts == 1 else 's'} out to {', '.join(sinks)}"
    return f"{fields.get('way_in', '?')}: {came_in} -> {went_out}"


class DeliveryLines(logging.Handler):
    """Prints :func:`delivery_line` for each ``delivery`` record; ignores every other record."""

    def __init__(self, sinks: Sequence[str], stream: TextIO) -> None:
        super().__init__(logging.INFO)
        self.sinks = list(sinks)
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        fields = structured_fields(record)
        if fields is None or fields.get("event") != "delivery":
            return
        self.stream.write(delivery_line(fields, self.sinks) + "\n")
        self.stream.flush()
