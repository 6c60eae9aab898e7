"""One JSON POST to a receiver, its answer turned into success or a SinkError.

Like the signed webhook: an azure-core pipeline without a retry policy (the outbox retries)
and without a redirect policy (a body that carries a routing key is never replayed to another
address). Errors name the receiver and the status, never the URL: Slack's and Teams' URLs are
their secrets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from handlers.alerting.delivery import (
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_READ_TIMEOUT_SECONDS,
    SinkError,
    is_permanent_status,
    parse_retry_after,
)

if TYPE_CHECKING:
    from azure.core import PipelineClient
    from azure.core.pipeline.transport import HttpTransport


def json_body(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class JsonPoster:
    """POSTs JSON bodies to one URL for one named receiver."""

    def __init__(
        self,
        receiver: str,
        url: str,
        *,
        transport: HttpTransport[Any, Any] | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
    ) -> None:
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import HeadersPolicy, UserAgentPolicy

        self.receiver = receiver
        self._url = url
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

    def post(self, payload: Any, headers: Mapping[str, str] | None = None) -> bytes:
        """Send ``payload``; the answer's body on 2xx, else SinkError (permanent on most 4xx,
        with the receiver's ``Retry-After`` when it gave one)."""
        from azure.core.exceptions import AzureError
        from azure.core.rest import HttpRequest

        request = HttpRequest(
            "POST",
            self._url,
            headers={"Content-Type": "application/json", **(headers or {})},
            content=json_body(payload),
        )
        try:
            response = self._client.send_request(request, **self._timeouts)
            body = response.read()
        except AzureError as error:
            raise SinkError(self.receiver, f"no answer ({type(error).__name__})") from None
        status = response.status_code
        if not 200 <= status < 300:
            raise SinkError(
                self.receiver,
                f"the receiver answered {status}",
                permanent=is_permanent_status(status),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        return bytes(body)
