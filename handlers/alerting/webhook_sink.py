"""The signed HTTPS webhook destination (Standard Webhooks)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from handlers.alerting.alert import Alert
from handlers.alerting.cloudevent import json_batch
from handlers.alerting.delivery import (
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_READ_TIMEOUT_SECONDS,
    SinkError,
    is_permanent_status,
    parse_retry_after,
)

if TYPE_CHECKING:
    from azure.core.pipeline.transport import HttpTransport

BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"
WEBHOOK_SECRET_PREFIX = "whsec_"


def webhook_secret_key(secret: str) -> bytes:
    """The HMAC key: ``whsec_<base64>`` as Standard Webhooks writes it, else the raw text."""
    if not secret.startswith(WEBHOOK_SECRET_PREFIX):
        key = secret.encode("utf-8")
    else:
        encoded = secret[len(WEBHOOK_SECRET_PREFIX):].rstrip("=")
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error:
            raise ValueError("a whsec_ secret must be base64 after its prefix") from None
    if not key:
        raise ValueError("the webhook secret is empty")
    return key


def webhook_message_id(alerts: Sequence[Alert]) -> str:
    """The same alerts give the same id, so a receiver can drop a retried batch it already has."""
    digest = hashlib.sha256("\n".join(sorted(a.id for a in alerts)).encode("utf-8"))
    return f"msg_{digest.hexdigest()[:32]}"


def webhook_signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` (Standard Webhooks)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class WebhookSink:
    """POSTs a delivery's alerts as one CloudEvents JSON batch, signed the Standard Webhooks way.

    HTTP goes through an azure-core pipeline without a retry policy (``deliver`` retries) and
    without a redirect policy (a signed body is never replayed to another address).
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
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import HeadersPolicy, UserAgentPolicy

        self._url = url
        self._key = webhook_secret_key(secret)
        self._clock = clock
        self._timeouts: dict[str, Any] = {
            "connection_timeout": connect_timeout,
            "read_timeout": read_timeout,
        }
        self.timeout_seconds = connect_timeout + read_timeout
        self._client: PipelineClient[Any, Any] = PipelineClient(
            base_url=url,
            policies=[HeadersPolicy(), UserAgentPolicy(base_user_agent="acs-triage")],
            transport=transport,
        )

    def send(self, alerts: Sequence[Alert]) -> None:
        from azure.core.exceptions import AzureError
        from azure.core.rest import HttpRequest

        body = json_batch(alerts)
        message_id = webhook_message_id(alerts)
        timestamp = int(self._clock())
        headers = {
            "Content-Type": BATCH_CONTENT_TYPE,
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": webhook_signature(self._key, message_id, timestamp, body),
        }
        request = HttpRequest("POST", self._url, headers=headers, content=body)
        try:
            response = self._client.send_request(request, **self._timeouts)
        except AzureError as error:
            raise SinkError(self.name, f"no answer ({type(error).__name__})") from None
        status = response.status_code
        if not 200 <= status < 300:
            raise SinkError(
                self.name,
                f"the receiver answered {status}",
                permanent=is_permanent_status(status),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
