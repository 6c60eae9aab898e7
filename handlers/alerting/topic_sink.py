"""The Event Grid custom topic destination (CloudEvents 1.0 schema)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from handlers.alerting.cloudevent import CloudEvent, json_batch
from handlers.alerting.delivery import (
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_READ_TIMEOUT_SECONDS,
    SinkError,
    is_permanent_status,
)
from handlers.alerting.http_post import send_within_deadline
from handlers.deadlines import deadline_transport

if TYPE_CHECKING:
    from azure.core import PipelineClient

# Event Grid custom topics accept at most 1 MB per publish request (and per event).
TOPIC_MAX_REQUEST_BYTES = 1_000_000
TOPIC_API_VERSION = "2018-01-01"
TOPIC_CONTENT_TYPE = "application/cloudevents-batch+json; charset=utf-8"
TOPIC_KEY_HEADER = "aeg-sas-key"
TOPIC_TOKEN_SCOPE = "https://eventgrid.azure.net/.default"


class EventGridTopicSink:
    """Publishes alerts to an Event Grid custom topic in the CloudEvents 1.0 schema.

    Authenticates with the topic key when one is given (local use), else with Microsoft Entra ID
    through ``DefaultAzureCredential`` (the app's managed identity in Azure). A delivery is
    split into requests under the topic's 1 MB limit. When a later request of a delivery fails,
    the alerts that earlier requests already published are remembered (bounded, per process)
    and not published again on the retry.

    The request goes through an azure-core pipeline with azure-core's own key and token
    policies, without a retry policy (``deliver`` retries) and with short timeouts, like the
    webhook. The body is the alerts' one CloudEvent serialisation, byte for byte what the file
    and the webhook carry, so each request's size is measured, not estimated. (azure-eventgrid's
    publisher would re-serialise every event, ignores client options for basic topics, and
    logs a warning per event for per-call ones.)
    """

    name = "topic"
    _ACCEPTED_MEMORY = 10_000

    def __init__(
        self,
        endpoint: str,
        *,
        key: str | None,
        client_id: str | None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
        max_request_bytes: int = TOPIC_MAX_REQUEST_BYTES,
    ) -> None:
        self._endpoint = endpoint
        self._key = key
        self._client_id = client_id
        self._client: PipelineClient[Any, Any] | None = None
        self._options: dict[str, Any] = {
            "connection_timeout": connect_timeout,
            "read_timeout": read_timeout,
        }
        self._max_request_bytes = max_request_bytes
        self.timeout_seconds = connect_timeout + read_timeout
        self._accepted: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def _publisher(self) -> PipelineClient[Any, Any]:
        """The HTTP pipeline, made on the first send: azure.core and azure.identity stay out of
        cold start, which most invocations (no alert) never need."""
        with self._lock:
            if self._client is None:
                from azure.core import PipelineClient
                from azure.core.pipeline.policies import HeadersPolicy, UserAgentPolicy

                self._client = PipelineClient(
                    base_url=self._endpoint,
                    policies=[
                        HeadersPolicy(),
                        UserAgentPolicy(base_user_agent="acs-triage"),
                        self._authentication(),
                    ],
                    transport=deadline_transport(),
                )
            return self._client

    def _authentication(self) -> Any:
        if self._key:
            from azure.core.credentials import AzureKeyCredential
            from azure.core.pipeline.policies import AzureKeyCredentialPolicy

            return AzureKeyCredentialPolicy(AzureKeyCredential(self._key), TOPIC_KEY_HEADER)
        from azure.core.pipeline.policies import BearerTokenCredentialPolicy
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential(managed_identity_client_id=self._client_id or None)
        return BearerTokenCredentialPolicy(credential, TOPIC_TOKEN_SCOPE)

    def send(self, alerts: Sequence[CloudEvent[Any]]) -> None:
        from azure.core.rest import HttpRequest

        pending = [alert for alert in alerts if not self._already_accepted(alert.id)]
        if not pending:
            return
        client = self._publisher()
        for chunk, body in self._requests(pending):
            request = HttpRequest(
                "POST",
                self._endpoint,
                params={"api-version": TOPIC_API_VERSION},
                headers={"Content-Type": TOPIC_CONTENT_TYPE},
                content=body,
            )
            response = send_within_deadline(
                self.name, client, request, self._options, self.timeout_seconds
            )
            status = response.status_code
            if status != 200:
                raise SinkError(
                    self.name,
                    f"the topic answered {status}",
                    permanent=is_permanent_status(status),
                )
            self._mark_accepted(alert.id for alert in chunk)

    def _requests(
        self, alerts: Sequence[CloudEvent[Any]]
    ) -> Iterator[tuple[list[CloudEvent[Any]], bytes]]:
        """Greedy split into requests whose body (a JSON array) stays under the limit."""
        chunk: list[CloudEvent[Any]] = []
        size = 2  # "[" and "]"
        for alert in alerts:
            event_size = len(alert.to_json())
            if event_size + 2 > self._max_request_bytes:
                raise SinkError(
                    self.name,
                    f"alert {alert.id} is {event_size} bytes, over the topic's request limit",
                    permanent=True,
                )
            if chunk and size + 1 + event_size > self._max_request_bytes:
                yield chunk, json_batch(chunk)
                chunk, size = [], 2
            size += event_size + (1 if chunk else 0)  # "," between events
            chunk.append(alert)
        if chunk:
            yield chunk, json_batch(chunk)

    def _already_accepted(self, alert_id: str) -> bool:
        with self._lock:
            return alert_id in self._accepted

    def _mark_accepted(self, alert_ids: Iterable[str]) -> None:
        with self._lock:
            for alert_id in alert_ids:
                self._accepted[alert_id] = None
                self._accepted.move_to_end(alert_id)
            while len(self._accepted) > self._ACCEPTED_MEMORY:
                self._accepted.popitem(last=False)
