"""Alert sinks: where alerts go, and the bounded retries around each of them.

Every sink takes all the alerts of one delivery in one ``send`` (one attempt). ``deliver`` owns the
retries: exponential backoff with full jitter, bounded both by a number of attempts and by a time
budget that keeps the whole delivery inside Event Grid's 30 s answer window. The SDKs' own retry
policies are switched off so that retries are counted in one place only.

Import cost matters at cold start: this module imports neither ``azure.eventgrid`` nor
``azure.identity`` (nor even ``azure.core``); each sink imports what it needs when it is built.

Log lines and exception texts carry sink names, counts, status codes and exception class names:
never a URL (a webhook URL may carry a token), a key, a secret or alert data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import random as _random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from handlers.alerts import Alert
from handlers.logs import log_event
from handlers.settings import Settings, SettingsError

if TYPE_CHECKING:
    from azure.core.messaging import CloudEvent
    from azure.core.pipeline.transport import HttpTransport
    from azure.eventgrid import EventGridPublisherClient

BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"
# Event Grid custom topics accept at most 1 MB per publish request (and per event).
TOPIC_MAX_REQUEST_BYTES = 1_000_000
# The SDK re-serialises each event (``time`` in its own format); room for that per event.
_TOPIC_EVENT_MARGIN_BYTES = 64
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 8.0
DEFAULT_CONNECT_TIMEOUT_SECONDS = 3.0
DEFAULT_READ_TIMEOUT_SECONDS = 5.0
WEBHOOK_SECRET_PREFIX = "whsec_"
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# HTTP answers after which an immediate retry is pointless; the delivery still fails (503)
# so Event Grid brings it back later, when someone may have fixed the receiver.
_RETRYABLE_4XX = frozenset({408, 425, 429})


class SinkError(Exception):
    """One sink failed to take a delivery's alerts.

    ``reason`` is short and secret-free. ``permanent`` marks failures an immediate retry cannot
    fix (a 4xx answer, an alert too large for the topic): ``deliver`` gives up on them at once.
    ``retry_after`` is the receiver's own ``Retry-After``, in seconds, when it gave one.
    """

    def __init__(
        self,
        sink: str,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"alert sink {sink!r} failed: {reason}")
        self.sink = sink
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


class AlertSink(Protocol):
    """A destination for alerts. ``name`` is stable: the pipeline's ``sent:`` records use it."""

    name: str

    def send(self, alerts: Sequence[Alert]) -> None:
        """Send all the alerts of one delivery together, once; raise SinkError on failure."""
        ...


# --- retries -----------------------------------------------------------------------------


def deliver(
    sink: AlertSink,
    alerts: Sequence[Alert],
    *,
    max_attempts: int,
    budget_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    random: Callable[[], float] = _random.random,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Send ``alerts`` to ``sink``, retrying with exponential backoff and full jitter.

    The budget is wall time from the first attempt. A retry is started only if its backoff plus
    the sink's worst-case attempt (its ``timeout_seconds``, when it declares one) still ends
    inside the budget: one sink's delivery ends within ``budget_seconds`` (several sinks called
    one after the other add up). Raises the last SinkError when the attempts or the budget run
    out, or at once for a permanent failure.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if not alerts:
        return
    attempt_seconds = float(getattr(sink, "timeout_seconds", 0.0))
    started = clock()
    for attempt in range(1, max_attempts + 1):
        try:
            sink.send(alerts)
        except SinkError as error:
            delay = backoff_delay(attempt, random(), retry_after=error.retry_after)
            out_of_time = clock() - started + delay + attempt_seconds > budget_seconds
            if error.permanent or attempt == max_attempts or out_of_time:
                log_event(
                    "sink_gave_up", level=logging.WARNING, sink=sink.name, attempts=attempt,
                    alerts=len(alerts), permanent=error.permanent, reason=error.reason,
                )
                raise
            log_event(
                "sink_attempt_failed", level=logging.WARNING, sink=sink.name, attempt=attempt,
                max_attempts=max_attempts, alerts=len(alerts), retry_in=round(delay, 3),
                reason=error.reason,
            )
            sleep(delay)
        else:
            return


def backoff_delay(attempt: int, draw: float, *, retry_after: float | None = None) -> float:
    """Full jitter (a uniform draw below the exponential ceiling), at least the receiver's ask."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** (attempt - 1))
    delay: float = draw * ceiling
    return max(delay, retry_after) if retry_after is not None else delay


# --- local file ----------------------------------------------------------------------------


class FileSink:
    """Appends each alert as one CloudEvent per line (JSON Lines); the embedded default sink.

    One ``write`` and one ``fsync`` per send, under a lock, so concurrent deliveries in one
    process never interleave their lines.
    """

    name = "file"
    timeout_seconds = 0.0

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def send(self, alerts: Sequence[Alert]) -> None:
        lines = "".join(
            json.dumps(alert.to_cloudevent(), ensure_ascii=False, separators=(",", ":")) + "\n"
            for alert in alerts
        )
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as file:
                    file.write(lines)
                    file.flush()
                    os.fsync(file.fileno())
        except OSError as error:
            reason = f"cannot append to the alert file ({type(error).__name__}: {error.strerror})"
            raise SinkError(self.name, reason) from None


# --- signed webhook ------------------------------------------------------------------------


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

        body = json.dumps(
            [alert.to_cloudevent() for alert in alerts], ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")
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
                permanent=400 <= status < 500 and status not in _RETRYABLE_4XX,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# --- Event Grid custom topic ---------------------------------------------------------------


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
                    permanent=400 <= status < 500 and status not in _RETRYABLE_4XX,
                ) from None
            except AzureError as error:
                raise SinkError(self.name, f"no answer ({type(error).__name__})") from None
            self._mark_accepted(alert.id for alert in chunk)

    def _requests(self, alerts: Sequence[Alert]) -> Iterator[list[Alert]]:
        """Greedy split into requests whose JSON array stays under the limit."""
        chunk: list[Alert] = []
        size = 2  # "[" and "]"
        for alert in alerts:
            event_size = len(json.dumps(alert.to_cloudevent())) + _TOPIC_EVENT_MARGIN_BYTES
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


# --- from settings -------------------------------------------------------------------------


def build_sinks(settings: Settings) -> list[AlertSink]:
    """Every sink the settings configure (none, one, or several at once)."""
    sinks: list[AlertSink] = []
    if settings.alert_file is not None:
        sinks.append(FileSink(settings.alert_file))
    if settings.alert_webhook_url:
        sinks.append(_webhook_from_settings(settings))
    if settings.alert_topic_endpoint:
        _require_secure_url(settings.alert_topic_endpoint, "ALERT_TOPIC_ENDPOINT")
        key = settings.alert_topic_key.get_secret_value() if settings.alert_topic_key else None
        sinks.append(
            EventGridTopicSink(
                settings.alert_topic_endpoint,
                key=key or None,
                client_id=settings.azure_client_id or None,
            )
        )
    return sinks


def _webhook_from_settings(settings: Settings) -> WebhookSink:
    _require_secure_url(settings.alert_webhook_url, "ALERT_WEBHOOK_URL")
    secret = settings.alert_webhook_secret
    if secret is None or not secret.get_secret_value():
        raise SettingsError(
            "ALERT_WEBHOOK_SECRET: required when ALERT_WEBHOOK_URL is set (alerts are signed)"
        )
    try:
        return WebhookSink(settings.alert_webhook_url, secret.get_secret_value())
    except ValueError as error:
        raise SettingsError(f"ALERT_WEBHOOK_SECRET: {error}") from None


def _require_secure_url(url: str, variable: str) -> None:
    """https anywhere; plain http only to this machine (local runs and tests)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise SettingsError(f"{variable}: not a valid URL") from None
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and host in _LOOPBACK_HOSTS:
        return
    raise SettingsError(f"{variable}: must be an https URL (http only to 127.0.0.1/localhost)")
