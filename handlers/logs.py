"""Structured log lines: an event name plus key/values, one JSON object per line.

The one logging style of the app: every module logs through :func:`log_event`. The JSON text
is what the Functions host and Application Insights show; the same fields travel on the
record as ``record.structured`` (a dict), for the local console and for tests to read as data.
Log lines carry ids, codes and counts only: never a body, a phone number or a secret. They are
strict JSON like everything else that leaves: a non-finite number is written as null.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

logger = logging.getLogger("acs_triage")


def log_event(
    name: str, *, level: int = logging.INFO, exc_info: bool = False, **fields: Any
) -> None:
    if logger.isEnabledFor(level):
        structured = {"event": name, **fields}
        logger.log(
            level,
            json_line(structured),
            exc_info=exc_info,
            extra={"structured": structured},
        )


def structured_fields(record: logging.LogRecord) -> dict[str, Any] | None:
    """The fields :func:`log_event` gave a record; None for a record logged another way."""
    fields = getattr(record, "structured", None)
    return fields if isinstance(fields, dict) else None


def json_line(record: dict[str, Any]) -> str:
    """``record`` as one line of strict JSON (a line never fails to be written)."""
    try:
        return _strict(record)
    except ValueError:  # a non-finite number somewhere: rare, so only then walk the record
        return _strict(_finite(record))


def _strict(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
