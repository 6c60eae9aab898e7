"""The signed HTTPS webhook destination (Standard Webhooks).

Signatures are made by the reference library itself (``standardwebhooks``), so a receiver that
verifies with any conforming library accepts them; the secret is checked at start-up by the
settings model (``ALERT_WEBHOOK_SECRET``), never here at the first alert.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from standardwebhooks import Webhook

from handlers.alerting.cloudevent import CloudEvent, json_batch
from handlers.alerting.delivery import DEFAULT_CONNECT_TIMEOUT_SECONDS, DEFAULT_READ_TIMEOUT_SECONDS
from handlers.alerting.http_post import HttpPoster

if TYPE_CHECKING:
    from azure.core.pipeline.transport import HttpTransport

BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"


def webhook_message_id(alerts: Sequence[CloudEvent[Any]]) -> str:
    """The same alerts give the same id, so a receiver can drop a retried batch it already has."""
    digest = hashlib.sha256("\n".join(sorted(a.id for a in alerts)).encode("utf-8"))
    return f"msg_{digest.hexdigest()[:32]}"


class WebhookSink:
    """POSTs a delivery's alerts as one CloudEvents JSON batch, signed the Standard Webhooks way.

    HTTP goes through :class:`~handlers.alerting.http_post.HttpPoster`: no retry policy
    (``deliver`` retries), no redirect policy (a signed body is never replayed to another
    address), and each attempt ends by ``connect_timeout + read_timeout`` of wall time, however
    slowly the receiver answers.
    """

    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        transport: HttpTransport[Any, Any] | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signer = Webhook(secret)
        self._clock = clock
        self._http = HttpPoster(
            self.name,
            url,
            transport=transport,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self.timeout_seconds = self._http.timeout_seconds

    def send(self, alerts: Sequence[CloudEvent[Any]]) -> None:
        body = json_batch(alerts)
        message_id = webhook_message_id(alerts)
        timestamp = int(self._clock())
        signature = self._signer.sign(
            message_id, datetime.fromtimestamp(timestamp, UTC), body.decode("utf-8")
        )
        headers = {
            "Content-Type": BATCH_CONTENT_TYPE,
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature,
        }
        self._http.post(body, headers)
