"""The composition root: every part of the app built from the settings, once per process.

This is the one module that knows which concrete store, destinations and authenticator the
settings choose; everything else receives them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from pydantic import SecretStr

from catalog import get_catalog
from catalog.models import Domain
from handlers.alerting.delivery import AlertSink
from handlers.alerting.file_sink import FileSink
from handlers.alerting.policy import AlertPolicy
from handlers.alerting.topic_sink import EventGridTopicSink
from handlers.alerting.webhook_sink import WebhookSink
from handlers.board import NotificationBoard, ReceiverSink, alarm_views
from handlers.events.router import EventReader
from handlers.fast.reading import FastReader
from handlers.flusher import Flusher, FlushReport, Outages, Receives
from handlers.inbound.callback_auth import CallbackAuthenticator
from handlers.notify.alarms import RateAlarms
from handlers.notify.history import NotificationHistory
from handlers.notify.notifier import Notifier, Timers
from handlers.notify.severity import SeverityRule
from handlers.notify.silences import Silences
from handlers.oncall.alertmanager import AlertmanagerReceiver
from handlers.oncall.pagerduty import PagerDutyReceiver
from handlers.oncall.receivers import Receiver
from handlers.oncall.slack import Pacer, SlackReceiver
from handlers.oncall.status import StatusSource
from handlers.oncall.teams import TeamsReceiver
from handlers.pipeline import Pipeline
from handlers.settings import Settings, load_settings
from handlers.state.groups import GroupStore, MemoryGroupStore
from handlers.state.memory import MemoryDedupeStore
from handlers.state.outbox import MemoryOutbox, Outbox
from handlers.state.store import DedupeStore
from handlers.state.table import TableDedupeStore


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    pipeline: Pipeline
    authenticator: CallbackAuthenticator
    fast: FastReader | None = None  # None: every body is read by the careful path
    # Where notifications go besides the alert sinks; served by the notification flusher.
    receivers: tuple[Receiver, ...] = ()
    # What the status page shows and where its silences go: the notification state (None:
    # no destination is configured, so nothing is grouped or notified).
    status_source: StatusSource | None = None
    flusher: Flusher | None = None  # None when no destination is configured

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        sinks: Sequence[AlertSink] | None = None,
        dedupe: DedupeStore | None = None,
        fast_path: bool = True,
    ) -> Runtime:
        catalog = get_catalog()

        def is_known_sms_code(code: int) -> bool:
            return catalog.lookup(Domain.SMS_DELIVERY, code, None).rule != "none"

        receivers = tuple(build_receivers(settings))
        # The on-call receivers are destinations of the flusher too: they get the notifications.
        destinations = [
            *(build_sinks(settings) if sinks is None else sinks),
            *(ReceiverSink(receiver) for receiver in receivers),
        ]
        store = build_dedupe_store(settings) if dedupe is None else dedupe
        outbox = build_outbox(store) if destinations else None
        notifier = build_notifier(settings, store) if destinations else None
        history = NotificationHistory(_documents(store, "history")) if notifier else None
        alarms = build_alarms(settings, store, notifier)
        flusher = build_flusher(
            settings, store, outbox, destinations, notifier, history=history, alarms=alarms
        )
        pipeline = Pipeline(
            reader=EventReader(is_known_sms_code, catalog.action_for_event),
            catalog=catalog,
            policy=AlertPolicy.from_settings(settings),
            outbox=outbox,
            notifier=notifier,
            alarms=alarms,
            # The flusher knows what each destination takes: alerts no one takes are not kept.
            keeps_alerts=flusher is None or any(flusher.takes_alerts(d) for d in destinations),
            dedupe=store,
            alert_source=settings.alert_source,
        )
        return cls(
            settings,
            pipeline,
            CallbackAuthenticator.from_settings(settings),
            FastReader(pipeline.reader) if fast_path else None,
            receivers,
            build_board(notifier, history, alarms),
            flusher,
        )

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
# The settings model has checked every value these factories read: they only build.


def build_sinks(settings: Settings) -> list[AlertSink]:
    """Every sink the settings configure (none, one, or several at once)."""
    sinks: list[AlertSink] = []
    if settings.alert_file is not None:
        sinks.append(FileSink(settings.alert_file))
    if settings.alert_webhook_url and settings.alert_webhook_secret is not None:
        secret = settings.alert_webhook_secret.get_secret_value()
        sinks.append(WebhookSink(settings.alert_webhook_url, secret))
    if settings.alert_topic_endpoint:
        key = settings.alert_topic_key.get_secret_value() if settings.alert_topic_key else None
        sinks.append(
            EventGridTopicSink(
                settings.alert_topic_endpoint,
                key=key or None,
                client_id=settings.azure_client_id or None,
            )
        )
    return sinks


# --- on-call receivers ----------------------------------------------------------------


def build_receivers(settings: Settings) -> list[Receiver]:
    """Every on-call receiver the settings configure. Each secret is read here and handed to
    its receiver only: settings and receivers print as ``**********``."""
    status_url = settings.status_page_url
    receivers: list[Receiver] = []
    if settings.pagerduty_routing_key is not None:
        receivers.append(
            PagerDutyReceiver(
                settings.pagerduty_routing_key.get_secret_value(),
                status_url=status_url,
                url=settings.pagerduty_events_url,
            )
        )
    teams_url = _secret(settings.teams_workflow_url)
    if teams_url:
        receivers.append(TeamsReceiver(teams_url, status_url=status_url))
    slack_url = _secret(settings.slack_webhook_url)
    if slack_url:
        pacer = Pacer(settings.slack_min_interval_seconds)
        receivers.append(SlackReceiver(slack_url, status_url=status_url, pacer=pacer))
    if settings.alertmanager_webhook_url:
        receivers.append(
            AlertmanagerReceiver(
                settings.alertmanager_webhook_url,
                receiver=settings.alertmanager_receiver,
                status_url=status_url,
                bearer_token=_secret(settings.alertmanager_webhook_token) or None,
            )
        )
    return receivers


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


# --- state -----------------------------------------------------------------------------


def build_dedupe_store(settings: Settings) -> DedupeStore:
    """Memory by default; the Azure table when DEDUPE_STORE is 'table'."""
    window = timedelta(hours=settings.dedupe_window_hours)
    if settings.dedupe_store == "memory":
        return MemoryDedupeStore(window)
    table_name = settings.dedupe_table_name
    if settings.dedupe_table_connection_string is not None:
        return TableDedupeStore.from_connection_string(
            settings.dedupe_table_connection_string.get_secret_value(), table_name, window=window
        )
    return TableDedupeStore.from_service_uri(
        settings.dedupe_table_service_uri,
        table_name,
        window=window,
        client_id=settings.azure_client_id or None,
    )


def build_flusher(
    settings: Settings,
    store: DedupeStore,
    outbox: Outbox | None,
    destinations: Sequence[AlertSink],
    notifier: Notifier | None,
    *,
    history: NotificationHistory | None = None,
    alarms: RateAlarms | None = None,
) -> Flusher | None:
    """The outbox's sender; none when there is no outbox (no destination configured)."""
    if outbox is None:
        return None
    return Flusher(
        outbox=outbox,
        dedupe=store,
        sinks=destinations,
        source=settings.alert_source,
        max_attempts=settings.sink_max_attempts,
        budget_seconds=settings.sink_retry_budget_seconds,
        notifier=notifier,
        history=history,
        outages=Outages(_documents(store, "outages")),
        receives=destination_choices(settings, destinations),
        alarms=alarms,
    )


def destination_choices(
    settings: Settings, destinations: Sequence[AlertSink]
) -> dict[str, Receives]:
    """What each destination receives, by its name: the settings choose for the file, the
    webhook and the topic (whichever sink objects stand for them); on-call receivers are for
    people, who get notifications."""
    return {
        FileSink.name: settings.alert_file_receives,
        WebhookSink.name: settings.alert_webhook_receives,
        EventGridTopicSink.name: settings.alert_topic_receives,
        **{d.name: "notifications" for d in destinations if isinstance(d, ReceiverSink)},
    }


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
        severity=SeverityRule.from_settings(settings),
    )


# --- rate alarms -------------------------------------------------------------------------


def build_alarms(
    settings: Settings, store: DedupeStore, notifier: Notifier | None
) -> RateAlarms | None:
    """The rate alarms, beside the groups and muted by the same silences; none without a
    rule, or without the notifier (no destination: nobody to tell)."""
    if notifier is None or not settings.alarm_rules:
        return None
    return RateAlarms.from_settings(
        settings,
        counts=_documents(store, "alarmcounts"),
        states=_documents(store, "alarms"),
        silences=notifier.silences,
    )


def build_board(
    notifier: Notifier | None, history: NotificationHistory | None, alarms: RateAlarms | None
) -> StatusSource | None:
    """The status page's source: the notification state itself, wherever there is one."""
    if notifier is None or notifier.silences is None or history is None:
        return None
    board = NotificationBoard(notifier, notifier.silences, history)
    return board if alarms is None else replace(board, alarms=alarm_views(alarms))
