"""The per-process runtime: settings, catalog, pipeline, authenticator; built once at cold start."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from catalog import get_catalog
from catalog.models import Domain
from handlers.alerts import AlertPolicy
from handlers.callback_auth import CallbackAuthenticator
from handlers.dedupe import DedupeStore, build_dedupe_store
from handlers.events import EventReader
from handlers.pipeline import Pipeline
from handlers.settings import Settings, load_settings
from handlers.sinks import AlertSink, build_sinks


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    pipeline: Pipeline
    authenticator: CallbackAuthenticator

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

        pipeline = Pipeline(
            reader=EventReader(is_known_sms_code),
            catalog=catalog,
            policy=AlertPolicy.from_settings(settings),
            sinks=list(build_sinks(settings) if sinks is None else sinks),
            dedupe=build_dedupe_store(settings) if dedupe is None else dedupe,
            alert_source=settings.alert_source,
            sink_max_attempts=settings.sink_max_attempts,
            sink_retry_budget_seconds=settings.sink_retry_budget_seconds,
        )
        return cls(settings, pipeline, CallbackAuthenticator.from_settings(settings))


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
