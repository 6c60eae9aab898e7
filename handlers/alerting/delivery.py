"""What every alert destination is, and the bounded retries around each of them.

Every sink takes all the alerts of one delivery in one ``send`` (one attempt). :func:`deliver`
owns the retries: exponential backoff with full jitter, bounded both by a number of attempts and
by a time budget that keeps the whole delivery inside Event Grid's 30 s answer window. The SDKs'
own retry policies are switched off so that retries are counted in one place only.

Log lines and exception texts carry sink names, counts, status codes and exception class names:
never a URL (a webhook URL may carry a token), a key, a secret or alert data.
"""

from __future__ import annotations

import logging
import random as _random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from handlers.alerting.cloudevent import CloudEvent
from handlers.deadlines import current_delivery_deadline
from handlers.logs import log_event

BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 8.0
DEFAULT_CONNECT_TIMEOUT_SECONDS = 3.0
DEFAULT_READ_TIMEOUT_SECONDS = 5.0
# HTTP answers after which an immediate retry is pointless; the delivery still fails (503)
# so Event Grid brings it back later, when someone may have fixed the receiver.
RETRYABLE_4XX = frozenset({408, 425, 429})


class SinkError(Exception):
    """One sink failed to take a delivery's alerts.

    ``reason`` is short and secret-free. ``permanent`` marks failures an immediate retry cannot
    fix (a 4xx answer, an alert too large for the topic): ``deliver`` gives up on them at once.
    ``retry_after`` is the receiver's own ``Retry-After``, in seconds, when it gave one.
    ``timed_out`` marks an attempt cut off at its deadline: the receiver may have taken the
    alerts all the same, so it is not retried at once (a receiver that always answers late
    would get every alert once per attempt); the redelivery sends the same ids.
    """

    def __init__(
        self,
        sink: str,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        timed_out: bool = False,
    ) -> None:
        super().__init__(f"alert sink {sink!r} failed: {reason}")
        self.sink = sink
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.timed_out = timed_out


class AlertSink(Protocol):
    """A destination for alerts. ``name`` is stable: the pipeline's ``sent:`` records use it."""

    name: str

    def send(self, alerts: Sequence[CloudEvent[Any]]) -> None:
        """Send all the alerts of one delivery together, once; raise SinkError on failure."""
        ...


def deliver(
    sink: AlertSink,
    alerts: Sequence[CloudEvent[Any]],
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
    one after the other add up), and within the delivery's own deadline when one is set.
    Raises the last SinkError when the attempts or the budget run out, or at once for a
    permanent failure or an attempt cut off at its deadline.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if not alerts:
        return
    attempt_seconds = float(getattr(sink, "timeout_seconds", 0.0))
    delivery = current_delivery_deadline()
    if delivery is not None:
        budget_seconds = min(budget_seconds, max(0.0, delivery.remaining()))
    started = clock()
    for attempt in range(1, max_attempts + 1):
        try:
            sink.send(alerts)
        except SinkError as error:
            delay = backoff_delay(attempt, random(), retry_after=error.retry_after)
            out_of_time = clock() - started + delay + attempt_seconds > budget_seconds
            final = error.permanent or error.timed_out or attempt == max_attempts
            if final or out_of_time:
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


def is_permanent_status(status: int) -> bool:
    """A 4xx answer an immediate retry cannot fix (408, 425 and 429 can be retried)."""
    return 400 <= status < 500 and status not in RETRYABLE_4XX
