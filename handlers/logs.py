"""Structured log lines: an event name plus key/values, one JSON object per line.

The one logging style of the app: every module logs through :func:`log_event`. The JSON text
is what the Functions host and Application Insights show; the same fields travel on the
record as ``record.structured`` (a dict), for the local console and for tests to read as data.
Log lines carry ids, codes and counts only: never a body, a phone number or a secret.
"""

from __future__ import annotations

import json
import logging
from typing import Any

logger = logging.getLogger("acs_triage")


def log_event(
    name: str, *, level: int = logging.INFO, exc_info: bool = False, **fields: Any
) -> None:
    if logger.isEnabledFor(level):
        structured = {"event": name, **fields}
        logger.log(
            level,
            json.dumps(structured, default=str, ensure_ascii=False),
            exc_info=exc_info,
            extra={"structured": structured},
        )


def structured_fields(record: logging.LogRecord) -> dict[str, Any] | None:
    """The fields :func:`log_event` gave a record; None for a record logged another way."""
    fields = getattr(record, "structured", None)
    return fields if isinstance(fields, dict) else None
