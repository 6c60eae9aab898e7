"""Structured log lines: an event name plus key/values, one JSON object per line.

Log lines carry ids, codes and counts only: never a body, a phone number or a secret.
"""

from __future__ import annotations

import json
import logging
from typing import Any

logger = logging.getLogger("acs_triage")


def log_event(name: str, *, level: int = logging.INFO, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, json.dumps({"event": name, **fields}, default=str, ensure_ascii=False))
