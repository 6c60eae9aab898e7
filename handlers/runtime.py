"""The composition root: every part of the app built from the settings, once per process.

This is the one module that knows which concrete store, destinations and authenticator the
settings choose; everything else receives them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from catalog import get_catalog
from catalog.models import Domain
from handlers.alerting.delivery import AlertSink
from handlers.alerting.file_sink import FileSink
from handlers.alerting.policy import AlertPolicy
from handlers.alerting.topic_sink import EventGridTopicSink
from handlers.alerting.webhook_sink import WebhookSink
from handlers.events.router import EventReader
from handlers.flusher import Flusher, FlushReport
from handlers.inbound.callback_auth import CallbackAuthenticator
from handlers.notify.notifier import Notifier, Timers
from handlers.notify.silences import Silences
from handlers.pipeline import Pipeline
from handlers.settings import Settings, SettingsError, load_settings
from handlers.state.groups import GroupStore, MemoryGroupStore
from handlers.state.memory import MemoryDedupeStore
from handlers.state.outbox import MemoryOutbox, Outbox
from handlers.state.store import DedupeStore
from handlers.state.table import TableDedupeStore

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    pipeline: Pipeline
    authenticator: CallbackAuthenticator
    flusher: Flusher | None = None  # None when no destination is configured

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        sinks: Sequence[AlertSink] | None = None,
        dedupe: DedupeStore | None = None,
    ) -> Runtime:
        catalog = get_catalog()

        def is_known_sms_code(code: int) -> bool:
            return catalog.lookup(Domain.SMS_DELIVERY, code, None).rule != "none"

        destinations = list(build_sinks(settings) if sinks is None else sinks)
        store = build_dedupe_store(settings) if dedupe is None else dedupe
        outbox = build_outbox(store) if destinations else None
        notifier = build_notifier(settings, store) if destinations else None
        pipeline = Pipeline(
            reader=EventReader(is_known_sms_code),
            catalog=catalog,
            policy=AlertPolicy.from_settings(settings),
            outbox=outbox,
            notifier=notifier,
            dedupe=store,
            alert_source=settings.alert_source,
        )
        flusher = None
        if outbox is not None:
            flusher = Flusher(
                outbox=outbox,
                dedupe=store,
                sinks=destinations,
                source=settings.alert_source,
                max_attempts=settings.sink_max_attempts,
                budget_seconds=settings.sink_retry_budget_seconds,
                notifier=notifier,
            )
        return cls(settings, pipeline, CallbackAuthenticator.from_settings(settings), flusher)

    def flush(self) -> list[FlushReport]:
        """Send what the outbox holds (the timer trigger, the local host's thread, tests)."""
        return self.flusher.flush_all() if self.flusher is not None else []


_lock = threading.Lock()
_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    """The process's runtime, built on first use from the environment (raises SettingsError)."""
    global _runtime  # noqa: PLW0603 - one runtime per process is the point
    if _runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = Runtime.build(load_settings())
    return _runtime


def reset_runtime(runtime: Runtime | None = None) -> None:
    """Replace the process's runtime (tests, and the local host after reading its flags)."""
    global _runtime  # noqa: PLW0603
    with _lock:
        _runtime = runtime


# --- destinations ----------------------------------------------------------------------


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


# --- state -----------------------------------------------------------------------------


def build_dedupe_store(settings: Settings) -> DedupeStore:
    """Memory by default; the Azure table when DEDUPE_STORE is 'table'."""
    window = timedelta(hours=settings.dedupe_window_hours)
    if settings.dedupe_store == "memory":
        return MemoryDedupeStore(window)
    table_name = settings.dedupe_table_name
    if not _TABLE_NAME.match(table_name):
        raise SettingsError(
            "DEDUPE_TABLE_NAME: 3 to 63 letters and digits, starting with a letter"
        )
    secret = settings.dedupe_table_connection_string
    connection_string = secret.get_secret_value() if secret else ""
    if connection_string:
        try:
            return TableDedupeStore.from_connection_string(
                connection_string, table_name, window=window
            )
        except ValueError:
            # The SDK's message may quote the string, account key included: never repeat it.
            raise SettingsError(
                "DEDUPE_TABLE_CONNECTION_STRING: not a valid storage connection string"
            ) from None
    service_uri = settings.dedupe_table_service_uri
    if not service_uri:
        raise SettingsError(
            "DEDUPE_TABLE_SERVICE_URI: required when DEDUPE_STORE is 'table' "
            "(or DEDUPE_TABLE_CONNECTION_STRING, for Azurite)"
        )
    parts = urlsplit(service_uri)
    if parts.scheme != "https" or not parts.hostname:
        raise SettingsError("DEDUPE_TABLE_SERVICE_URI: must be an https URL")
    return TableDedupeStore.from_service_uri(
        service_uri, table_name, window=window, client_id=settings.azure_client_id or None
    )


def build_outbox(store: DedupeStore) -> Outbox:
    """The outbox lives where the claims do: in the shared table, or in this process."""
    if isinstance(store, TableDedupeStore):
        return store.outbox()
    return MemoryOutbox()


def _documents(store: DedupeStore, kind: str) -> GroupStore:
    if isinstance(store, TableDedupeStore):
        return store.groups(kind)
    return MemoryGroupStore()


def build_notifier(settings: Settings, store: DedupeStore) -> Notifier:
    """Groups live where the claims do, so only the claimant of an event counts it."""
    return Notifier(
        groups=_documents(store, "groups"),
        silences=Silences(_documents(store, "silences")),
        source=settings.alert_source,
        group_by=settings.group_by,
        timers=Timers(
            group_wait=settings.group_wait_seconds,
            group_interval=settings.group_interval_seconds,
            repeat_interval=settings.repeat_interval_seconds,
            resolve_timeout=settings.resolve_timeout_seconds,
        ),
    )
