"""What every on-call receiver is: a named destination that takes one notification at a time.

A receiver sends one notification once and raises ``SinkError`` when the far side did not take
it (``permanent`` for an answer a retry cannot change, ``retry_after`` when the far side said
when to come back). It never retries by itself: the notification outbox does, with the same
notification, so PagerDuty sees the same ``dedup_key`` and nothing is sent twice once taken.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from handlers.alerting.http_post import HttpPoster
from handlers.oncall.views import NotificationView


class Receiver(Protocol):
    """A destination for notifications. ``name`` is stable: the outbox records sends by it."""

    name: str

    def send(self, notification: NotificationView) -> None:
        """Send one notification, once; raise SinkError when it was not taken."""
        ...


def post_json(http: HttpPoster, payload: Any, headers: Mapping[str, str] | None = None) -> None:
    """One JSON POST: compact, UTF-8, never NaN (every receiver here takes JSON)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    http.post(body.encode("utf-8"), {"Content-Type": "application/json", **(headers or {})})
