"""One HTTP POST to a destination, its answer turned into success or a SinkError.

Shared by every HTTP destination (the signed webhook, the on-call receivers): an azure-core
pipeline without a retry policy (``deliver`` and the outbox retry) and without a redirect
policy (a body that carries a signature or a routing key is never replayed to another
address), and a wall-clock deadline on each attempt, however slowly the far side answers.
Errors name the destination and the status, never the URL: some URLs are their own secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from handlers.alerting.delivery import (
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_READ_TIMEOUT_SECONDS,
    SinkError,
    is_permanent_status,
    parse_retry_after,
)
from handlers.deadlines import DeadlinePassed, call_deadline, cut_off_at, deadline_transport

if TYPE_CHECKING:
    from azure.core import PipelineClient
    from azure.core.pipeline.transport import HttpTransport
    from azure.core.rest import HttpRequest, HttpResponse


def send_within_deadline(
    name: str,
    client: PipelineClient[Any, Any],
    request: HttpRequest,
    options: Mapping[str, Any],
    seconds: float,
) -> HttpResponse:
    """One request, cut off at ``seconds`` of wall time; a failure to answer is a SinkError
    (``timed_out`` when it was sent but not answered: the far side may have taken it)."""
    from azure.core.exceptions import AzureError, ServiceResponseError

    try:
        with cut_off_at(call_deadline(seconds)):
            response: HttpResponse = client.send_request(request, **options)
    except DeadlinePassed:
        raise SinkError(name, "no complete answer in time", timed_out=True) from None
    except ServiceResponseError as error:  # sent, unanswered: it may have been taken
        raise SinkError(name, f"no answer ({type(error).__name__})", timed_out=True) from None
    except AzureError as error:
        raise SinkError(name, f"no answer ({type(error).__name__})") from None
    return response


class HttpPoster:
    """POSTs bodies to one URL on behalf of one named destination."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        transport: HttpTransport[Any, Any] | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
    ) -> None:
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import HeadersPolicy, UserAgentPolicy

        self.name = name
        self._url = url
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

    def post(self, body: bytes, headers: Mapping[str, str]) -> None:
        """One attempt; SinkError unless answered 2xx (``permanent`` on most 4xx, the answer's
        ``Retry-After``, ``timed_out`` when it was sent but not answered in time)."""
        from azure.core.rest import HttpRequest

        request = HttpRequest("POST", self._url, headers=dict(headers), content=body)
        response = send_within_deadline(
            self.name, self._client, request, self._timeouts, self.timeout_seconds
        )
        status = response.status_code
        if not 200 <= status < 300:
            raise SinkError(
                self.name,
                f"the receiver answered {status}",
                permanent=is_permanent_status(status),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
