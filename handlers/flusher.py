"""The flusher: sends what the outbox holds to every destination, oldest first, exactly once
per destination and id, and never while Event Grid waits.

It runs as the Functions timer trigger (the platform runs a timer on one instance at a time)
and, in the local host, on a thread with the same code. A claim on one key in the state store
keeps it single even where the platform does not (two local hosts on one table).

Each pass reads the oldest entries, sends each destination the ones it has not got (its
``sent:`` records), in order, within the pass's deadline, records what each accepted, and
removes the entries every destination has. A destination that fails keeps its entries: they go
out, in order and under the same ids, when it recovers; the others are not held up. One that
keeps failing past ``alarm_after`` produces one notification about itself (``firing``), and one
more when it takes entries again (``resolved``). Each pass records, in one change, which
notifications it handed which destination and how that ended (the status page's list).

Each destination chooses what it receives (``receives``: alerts, notifications or both). An
entry a destination does not take counts as done for it, with no ``sent:`` record: it is never
sent there, and it leaves the outbox once every destination that takes it has it. Each
destination still gets what it takes in the outbox's order, each id once.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any, Literal, Protocol, TypeVar

from handlers.alerting.cloudevent import CloudEvent
from handlers.alerting.delivery import AlertSink, SinkError, deliver
from handlers.deadlines import delivery_deadline, in_this_context
from handlers.errors import StateUnavailable
from handlers.logs import log_event
from handlers.notify.alarms import RateAlarms
from handlers.notify.history import Attempt, NotificationHistory
from handlers.notify.notification import (
    Notification,
    NotificationData,
    iso_time,
    outgoing_from_json,
)
from handlers.notify.notifier import Notifier
from handlers.state.groups import GroupStore, MemoryGroupStore
from handlers.state.outbox import Outbox, OutboxEntry
from handlers.state.store import DedupeStore

FLUSHER_KEY = "flusher:singleton"
# Longer than a pass can take (its deadline), so a live flusher keeps it; a crashed one's
# lapses in a minute.
FLUSHER_LEASE = timedelta(seconds=60)
PASS_DEADLINE_SECONDS = 20.0
PASS_ENTRIES = 500
DESTINATION_ALARM_AFTER = timedelta(minutes=5)
_NOTIFICATION_NAMESPACE = uuid.UUID("9d5c2a61-4f0e-4d8b-a7f3-0c1e2b3a4d5e")
# What a destination receives (the settings' ALERT_*_RECEIVES); a destination not named takes both.
Receives = Literal["alerts", "notifications", "both"]


class DueNotification(Protocol):
    """A group's or an alarm's notification that is due."""

    @property
    def notification(self) -> Notification: ...


D = TypeVar("D", bound=DueNotification)


def sent_record_key(event_id: str, sink: AlertSink) -> str:
    return f"sent:{event_id}:{sink.name}"


@dataclass
class Outage:
    """A destination's current run of failures."""

    since: float
    reason: str
    notified: bool = False


@dataclass
class Outages:
    """Each destination's current run of failures, kept in the state store beside the groups:
    the timer trigger may run its next pass on another instance, which must continue the same
    outage (one notification when it starts, one when it ends, under the same ids), not start
    one of its own. Read once per pass that sent something; written only when an outage starts,
    is notified or ends."""

    store: GroupStore = field(default_factory=MemoryGroupStore)

    def current(self) -> dict[str, Outage]:
        return {
            doc["sink"]: Outage(since=doc["since"], reason=doc["reason"], notified=doc["notified"])
            for doc in self.store.documents()
        }

    def keep(self, sink: str, outage: Outage) -> None:
        self.store.change(sink, lambda _: {"sink": sink, **asdict(outage)})

    def end(self, sink: str) -> None:
        self.store.change(sink, lambda _: None)


@dataclass(frozen=True)
class FlushReport:
    ran: bool
    sent: dict[str, int] = field(default_factory=dict)
    failed: tuple[str, ...] = ()
    removed: int = 0


@dataclass
class Flusher:
    outbox: Outbox
    dedupe: DedupeStore
    sinks: Sequence[AlertSink]
    source: str
    max_attempts: int = 4
    budget_seconds: float = 20.0
    alarm_after: timedelta = DESTINATION_ALARM_AFTER
    pass_deadline_seconds: float = PASS_DEADLINE_SECONDS
    clock: Callable[[], float] = time.time
    notifier: Notifier | None = None
    history: NotificationHistory | None = None
    outages: Outages = field(default_factory=Outages)
    alarms: RateAlarms | None = None
    receives: Mapping[str, Receives] = field(default_factory=dict)

    def takes(self, sink: AlertSink, event: CloudEvent[Any]) -> bool:
        """Whether ``sink`` receives ``event`` (an alert or a notification)."""
        chosen = self.receives.get(sink.name, "both")
        if chosen == "both":
            return True
        return chosen == ("notifications" if isinstance(event, Notification) else "alerts")

    def takes_alerts(self, sink: AlertSink) -> bool:
        return self.receives.get(sink.name, "both") != "notifications"

    def flush(self) -> FlushReport:
        """One pass, if no other flusher is running one."""
        turn = self.dedupe.claim([FLUSHER_KEY], FLUSHER_LEASE)
        if not turn.won:
            return FlushReport(ran=False)
        try:
            with delivery_deadline(self.pass_deadline_seconds):
                return self._pass()
        finally:
            self.dedupe.release(turn)

    def flush_all(self, max_passes: int = 100) -> list[FlushReport]:
        """Passes until the outbox is empty, a pass removes nothing, or ``max_passes``."""
        reports = []
        for _ in range(max_passes):
            report = self.flush()
            reports.append(report)
            if not report.ran or report.removed == 0 or len(self.outbox) == 0:
                break
        return reports

    def _pass(self) -> FlushReport:
        self._queue_due_notifications()
        entries = self.outbox.pending(PASS_ENTRIES)
        events = _unique_in_order(entries)
        if not events:
            return FlushReport(ran=True)
        # The sent: record of each entry at each destination that takes it; no other pair is
        # ever sent or waited for.
        wanted = {
            (e.id, s.name): sent_record_key(e.id, s)
            for e in events
            for s in self.sinks
            if self.takes(s, e)
        }
        done = self.dedupe.seen(list(wanted.values())) if wanted else set()

        def pending(event_id: str, sink: AlertSink) -> bool:
            key = wanted.get((event_id, sink.name))
            return key is not None and key not in done

        todo = {sink: [e for e in events if pending(e.id, sink)] for sink in self.sinks}
        outcomes = self._send_all({sink: batch for sink, batch in todo.items() if batch})
        for sink, error in outcomes.items():
            if error is None:
                done |= {wanted[(e.id, sink.name)] for e in todo[sink]}
        delivered = [
            entry for entry in entries if not any(pending(entry.id, s) for s in self.sinks)
        ]
        self.outbox.remove(delivered)
        self._record_notifications(todo, outcomes)
        failed = tuple(sink.name for sink, error in outcomes.items() if error is not None)
        self._watch_outages(outcomes)
        return FlushReport(
            ran=True,
            sent={sink.name: len(todo[sink]) for sink, e in outcomes.items() if e is None},
            failed=failed,
            removed=len(delivered),
        )

    def _queue_due_notifications(self) -> None:
        """Group and alarm notifications join the outbox behind what is already there; their
        groups and alarms move on only once they are recorded (a crash in between gives the
        same ids again)."""
        if self.notifier is not None:
            self._queue(self.notifier.due(), self.notifier.mark_sent)
        if self.alarms is not None:
            self._queue(self.alarms.due(), self.alarms.mark_sent)

    def _queue(self, due: Sequence[D], mark_sent: Callable[[D], None]) -> None:
        if not due:
            return
        self.outbox.put([(d.notification.id, to_json(d.notification)) for d in due])
        for item in due:
            mark_sent(item)
            log_event(
                "notification",
                id=item.notification.id,
                status=item.notification.data.status,
                reason=item.notification.data.reason,
                total=item.notification.data.total,
            )

    def _record_notifications(
        self,
        todo: dict[AlertSink, list[CloudEvent[Any]]],
        outcomes: dict[AlertSink, SinkError | None],
    ) -> None:
        """Where this pass's notifications went, in one change; the sends stand whether or not
        the record is kept (the history is for people, the ``sent:`` records for the outbox)."""
        if self.history is None:
            return
        attempts = [
            Attempt(event, sink.name, sent=error is None)
            for sink, error in outcomes.items()
            for event in todo[sink]
            if isinstance(event, Notification)
        ]
        try:
            self.history.record(attempts, self.clock())
        except StateUnavailable:
            log_event("notification_history_lost", level=logging.WARNING, count=len(attempts))

    def _send_all(
        self, todo: dict[AlertSink, list[CloudEvent[Any]]]
    ) -> dict[AlertSink, SinkError | None]:
        def attempt(sink: AlertSink) -> SinkError | None:
            try:
                deliver(
                    sink,
                    todo[sink],
                    max_attempts=self.max_attempts,
                    budget_seconds=self.budget_seconds,
                )
            except SinkError as error:
                log_event("sink_failed", sink=sink.name, events=len(todo[sink]), error=str(error))
                return error
            # Recorded as soon as this destination has them: a crash while a slower one is
            # still trying does not send them to this one again.
            self.dedupe.remember([sent_record_key(e.id, sink) for e in todo[sink]])
            return None

        if len(todo) <= 1:
            return {sink: attempt(sink) for sink in todo}
        with ThreadPoolExecutor(max_workers=len(todo)) as pool:
            futures = {sink: pool.submit(in_this_context(attempt), sink) for sink in todo}
            return {sink: future.result() for sink, future in futures.items()}

    def _watch_outages(self, outcomes: dict[AlertSink, SinkError | None]) -> None:
        now = self.clock()
        known = self.outages.current() if outcomes else {}
        for sink, error in outcomes.items():
            outage = known.get(sink.name)
            if error is None:
                if outage is not None:
                    self.outages.end(sink.name)
                    log_event("destination_recovered", sink=sink.name,
                              down_seconds=round(now - outage.since))
                    if outage.notified:  # who heard it was down hears it is back
                        self._notify_outage(sink.name, outage, recovered=True)
                continue
            if outage is None:
                outage = Outage(since=now, reason=error.reason)
                self.outages.keep(sink.name, outage)
            if not outage.notified and now - outage.since >= self.alarm_after.total_seconds():
                outage.reason = error.reason
                self._notify_outage(sink.name, outage)
                outage.notified = True
                self.outages.keep(sink.name, outage)

    def _notify_outage(self, sink: str, outage: Outage, *, recovered: bool = False) -> None:
        since = iso_time(outage.since)
        key = f"destination:{sink}:{since}" + (":resolved" if recovered else "")
        if recovered:
            summary = f"Destination {sink}, failing since {since}, takes entries again."
        else:
            summary = (
                f"Destination {sink} has been failing since {since}; its alerts and "
                "notifications wait in the outbox and go out, in order, when it recovers."
            )
        notification = Notification(
            id=str(uuid.uuid5(_NOTIFICATION_NAMESPACE, key)),
            source=self.source,
            subject=f"destination/{sink}",
            time=iso_time(self.clock()),
            data=NotificationData(
                status="resolved" if recovered else "firing",
                about="destination",
                destination=sink,
                failing_since=since,
                # The sink error's reason: a status or an exception class, no payload text.
                reason=outage.reason,
                pending=len(self.outbox),
                summary=summary,
            ),
        )
        try:
            self.outbox.put([(notification.id, to_json(notification))])
        except StateUnavailable:
            log_event("outage_notification_lost", level=logging.WARNING, sink=sink)
            return
        if not recovered:
            log_event("destination_down", level=logging.WARNING, sink=sink, since=since)


def to_json(event: CloudEvent[Any]) -> str:
    """An outbox entry's body: the event's one CloudEvent serialisation (masked, strict JSON)."""
    return event.to_json().decode("utf-8")


def _unique_in_order(entries: Sequence[OutboxEntry]) -> list[CloudEvent[Any]]:
    events: dict[str, CloudEvent[Any]] = {}
    for entry in entries:
        if entry.id not in events:
            body: dict[str, Any] = json.loads(entry.body)
            events[entry.id] = outgoing_from_json(body)
    return list(events.values())
