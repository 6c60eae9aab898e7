"""The Event Grid custom topic destination (CloudEvents 1.0 schema)."""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from handlers.alerting.alert import Alert
from handlers.alerting.delivery import (
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_READ_TIMEOUT_SECONDS,
    SinkError,
    is_permanent_status,
)
from handlers.logs import log_event

if TYPE_CHECKING:
    from azure.core.messaging import CloudEvent
    from azure.eventgrid import EventGridPublisherClient

# Event Grid custom topics accept at most 1 MB per publish request (and per event).
TOPIC_MAX_REQUEST_BYTES = 1_000_000
# The SDK re-serialises each event (``time`` in its own format); room for that per event.
_TOPIC_EVENT_MARGIN_BYTES = 64


class EventGridTopicSink:
    """Publishes alerts to an Event Grid custom topic in the CloudEvents 1.0 schema.

    Authenticates with the topic key when one is given (local use), else with Microsoft Entra ID
    through ``DefaultAzureCredential`` (the app's managed identity in Azure). A delivery is
    split into requests under the topic's 1 MB limit. When a later request of a delivery fails,
    the alerts that earlier requests already published are remembered (bounded, per process)
    and not published again on the retry.

    The SDK's retries are off (``retry_total=0`` on every send) and its timeouts short. The
    public client drops constructor keyword arguments for basic topics (azure-eventgrid
    4.22.1), so both go with each ``send`` call; that call also hands them to the SDK's model
    constructor, which logs a spurious warning per event: a narrow filter drops exactly those.
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
        self._client: EventGridPublisherClient | None = None
        self._options: dict[str, Any] = {
            "retry_total": 0,
            "connection_timeout": connect_timeout,
            "read_timeout": read_timeout,
        }
        self._max_request_bytes = max_request_bytes
        self.timeout_seconds = connect_timeout + read_timeout
        self._accepted: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        _silence_per_call_option_warnings(self._options)

    def _publisher(self) -> EventGridPublisherClient:
        """The SDK client, made on the first send: azure.eventgrid and azure.identity stay out
        of cold start, which most invocations (no alert) never need."""
        with self._lock:
            if self._client is None:
                from azure.eventgrid import EventGridPublisherClient

                credential: Any
                if self._key:
                    from azure.core.credentials import AzureKeyCredential

                    credential = AzureKeyCredential(self._key)
                else:
                    from azure.identity import DefaultAzureCredential

                    credential = DefaultAzureCredential(
                        managed_identity_client_id=self._client_id or None
                    )
                self._client = EventGridPublisherClient(self._endpoint, credential)
            return self._client

    def send(self, alerts: Sequence[Alert]) -> None:
        from azure.core.exceptions import AzureError, HttpResponseError

        pending = [alert for alert in alerts if not self._already_accepted(alert.id)]
        if not pending:
            return
        client = self._publisher()
        for chunk in self._requests(pending):
            try:
                client.send([to_azure_cloud_event(alert) for alert in chunk], **self._options)
            except HttpResponseError as error:
                status = error.status_code or 0
                raise SinkError(
                    self.name,
                    f"the topic answered {status}",
                    permanent=is_permanent_status(status),
                ) from None
            except AzureError as error:
                raise SinkError(self.name, f"no answer ({type(error).__name__})") from None
            self._mark_accepted(alert.id for alert in chunk)

    def _requests(self, alerts: Sequence[Alert]) -> Iterator[list[Alert]]:
        """Greedy split into requests whose JSON array stays under the limit."""
        chunk: list[Alert] = []
        size = 2  # "[" and "]"
        for alert in alerts:
            # The SDK writes ASCII escapes; strict: a non-finite number never reaches the topic.
            event_size = (
                len(json.dumps(alert.to_cloudevent(), allow_nan=False)) + _TOPIC_EVENT_MARGIN_BYTES
            )
            if event_size + 2 > self._max_request_bytes:
                raise SinkError(
                    self.name,
                    f"alert {alert.id} is {event_size} bytes, over the topic's request limit",
                    permanent=True,
                )
            if chunk and size + 2 + event_size > self._max_request_bytes:
                yield chunk
                chunk, size = [], 2
            size += event_size + (2 if chunk else 0)  # ", " between events
            chunk.append(alert)
        if chunk:
            yield chunk

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


def to_azure_cloud_event(alert: Alert) -> CloudEvent[dict[str, Any]]:
    """The alert as azure-core's CloudEvent (``time`` parsed; None when the alert has none)."""
    from azure.core.messaging import CloudEvent

    return CloudEvent(
        source=alert.source,
        type=alert.type,
        data=alert.data,
        id=alert.id,
        subject=alert.subject or None,
        time=_parse_time(alert.time),
        datacontenttype="application/json",
    )


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        log_event("alert_time_unreadable", level=logging.WARNING, action="published without time")
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _PerCallOptionWarningFilter(logging.Filter):
    """Drops the SDK's "<option> is not a known attribute of class ..." for our own options."""

    def __init__(self, options: frozenset[str]) -> None:
        super().__init__()
        self.options = options

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.msg == "%s is not a known attribute of class %s and will be ignored"
            and isinstance(record.args, tuple)
            and bool(record.args)
            and record.args[0] in self.options
        )


_SDK_MODEL_LOGGER = "azure.eventgrid._legacy._generated._serialization"


def _silence_per_call_option_warnings(options: dict[str, Any]) -> None:
    sdk_logger = logging.getLogger(_SDK_MODEL_LOGGER)
    if not any(isinstance(f, _PerCallOptionWarningFilter) for f in sdk_logger.filters):
        sdk_logger.addFilter(_PerCallOptionWarningFilter(frozenset(options)))
