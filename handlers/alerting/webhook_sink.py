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
from handlers.alerting.delivery import (
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_READ_TIMEOUT_SECONDS,
    SinkError,
    is_permanent_status,
    parse_retry_after,
)
from handlers.deadlines import DeadlinePassed, call_deadline, cut_off_at, deadline_transport

if TYPE_CHECKING:
    from azure.core.pipeline.transport import HttpTransport

BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"


def webhook_message_id(alerts: Sequence[CloudEvent[Any]]) -> str:
    """The same alerts give the same id, so a receiver can drop a retried batch it already has."""
    digest = hashlib.sha256("\n".join(sorted(a.id for a in alerts)).encode("utf-8"))
    return f"msg_{digest.hexdigest()[:32]}"


class WebhookSink:
    """POSTs a delivery's alerts as one CloudEvents JSON batch, signed the Standard Webhooks way.

    HTTP goes through an azure-core pipeline without a retry policy (``deliver`` retries) and
    without a redirect policy (a signed body is never replayed to another address). Each attempt
    ends by ``connect_timeout + read_timeout`` of wall time, however slowly the receiver answers.
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
        self._signer = Webhook(secret)
        self._clock = clock
        self._timeouts: dict[str, Any] = {
            "connection_timeout": connect_timeout,
            "read_timeout": read_timeout,
        }
        self.timeout_seconds = connect_timeout + read_timeout
        self._client: PipelineClient[Any, Any] = PipelineClient(
            base_url=url,
            policies=[HeadersPolicy(), UserAgentPolicy(base_user_agent="acs-triage")],
            transport=transport or deadline_transport(),
        )

    def send(self, alerts: Sequence[CloudEvent[Any]]) -> None:
        from azure.core.exceptions import AzureError, ServiceResponseError
        from azure.core.rest import HttpRequest

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
        request = HttpRequest("POST", self._url, headers=headers, content=body)
        try:
            with cut_off_at(call_deadline(self.timeout_seconds)):
                response = self._client.send_request(request, **self._timeouts)
        except DeadlinePassed:
            raise SinkError(self.name, "no complete answer in time", timed_out=True) from None
        except ServiceResponseError as error:  # sent, unanswered: it may have been taken
            reason = f"no answer ({type(error).__name__})"
            raise SinkError(self.name, reason, timed_out=True) from None
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
