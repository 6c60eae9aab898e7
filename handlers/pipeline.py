"""One delivery, end to end: read → claim → enrich → decide → record → complete.

Exactly-once alerts on an at-least-once transport rest on the state store:

- ``event:<digest>`` — claimed before anything is recorded for the event, completed once its
  alert is in the outbox. Only the caller that won the claim records; a redelivery of a
  completed event is a ``duplicate``; one that arrives while another attempt holds the claim
  (Event Grid gave up waiting on a slow first attempt, or another instance has it) is answered
  :class:`~handlers.errors.EventsInProgress` (503) for the held events, so it comes back later
  and finds them completed, or their lease lapsed if the holder crashed;
- the outbox — the alerts, recorded durably before the delivery is answered; the flusher
  (:mod:`handlers.flusher`) sends them later, and its ``sent:<id>:<destination>`` records make
  each destination get each id once.

No destination is called while Event Grid waits: a destination that is down costs the delivery
nothing. Only a state store that cannot record fails it (503). Claims are released when the
attempt fails, so the redelivery records the same alert ids again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from catalog.lookup import Catalog
from catalog.models import Match
from handlers.alerting.alert import Alert, build_alert, build_invalid_events_alert
from handlers.alerting.policy import AlertPolicy
from handlers.deadlines import delivery_deadline
from handlers.errors import EventsInProgress, StateUnavailable
from handlers.events.outcome import Outcome
from handlers.events.router import EventReader
from handlers.flusher import to_json
from handlers.inbound.envelope import Envelope
from handlers.logs import log_event
from handlers.notify.alarms import RateAlarms, tally
from handlers.notify.notifier import Notifier
from handlers.records import EventRecord, Verdict
from handlers.state.outbox import Outbox
from handlers.state.store import Claim, DedupeStore

# How long a claim protects an event from a second sender. Longer than any attempt can take
# (its deadline is well under Event Grid's 30 s), so a live holder never loses its claim; short
# enough that the events of a crashed holder are handled on one of Event Grid's next retries.
CLAIM_LEASE = timedelta(seconds=60)
# Event Grid waits 30 s for an answer; aim well inside it (a release after a failure may add a
# store call's few seconds).
DELIVERY_DEADLINE_SECONDS = 20.0


# The verdicts a 200's summary lists event by event; the others are only counted.
NEEDS_ATTENTION: frozenset[str] = frozenset({"alert", "invalid", "duplicate", "in-progress"})


class Triaged(Protocol):
    """What the pipeline concluded about one event: a :class:`Triage` (the careful path) or the
    fast path's record of an ordinary event (``handlers.fast``)."""

    @property
    def verdict(self) -> Verdict: ...

    @property
    def match(self) -> Match | None: ...

    @property
    def alert(self) -> Alert | None: ...

    @property
    def outcome(self) -> Outcome: ...

    def record(self) -> EventRecord: ...


@dataclass(slots=True)
class Triage:
    """Everything acs-triage concluded about one event of a delivery."""

    outcome: Outcome
    verdict: Verdict
    match: Match | None = None
    alert: Alert | None = None

    def record(self) -> EventRecord:
        """What the 200 answer and ``replay`` say about this event."""
        return EventRecord.of(self.outcome, self.verdict, self.match, self.alert)


Decide = Callable[[Outcome, Envelope], Triage]


class PipelineEvent(Protocol):
    """One event as the pipeline triages it, whichever path read it.

    ``key`` is its ``event:`` record key, ``event_type`` its envelope's type. ``passed_over``
    is its triage when another attempt holds it or it was handled before; ``triaged`` when
    this attempt handles it, ``decide`` being the pipeline's own catalog lookup and alert
    policy.
    """

    @property
    def key(self) -> str: ...

    @property
    def event_type(self) -> str | None: ...

    def passed_over(self, verdict: Verdict) -> Triaged: ...

    def triaged(self, decide: Decide) -> Triaged: ...


@dataclass(frozen=True, slots=True)
class CarefulEvent:
    """An envelope read by the careful path: the handlers of ``handlers.events``."""

    envelope: Envelope
    reader: EventReader
    key: str

    @property
    def event_type(self) -> str | None:
        return self.envelope.type

    def passed_over(self, verdict: Verdict) -> Triage:
        return Triage(self.reader.read(self.envelope), verdict)

    def triaged(self, decide: Decide) -> Triage:
        return decide(self.reader.read(self.envelope), self.envelope)



@dataclass(frozen=True, slots=True)
class Delivery:
    """A handled delivery; its tallies are taken once, for the log line and the answer alike."""

    triages: list[Triaged]
    elapsed_ms: float
    counts: Counter[str]
    categories: Counter[str]
    alerts: list[Alert]

    @classmethod
    def of(cls, triages: list[Triaged], elapsed_ms: float) -> Delivery:
        return cls(
            triages=triages,
            elapsed_ms=elapsed_ms,
            counts=Counter(t.verdict for t in triages),
            categories=Counter(
                t.match.category.value for t in triages if t.match and t.match.category
            ),
            alerts=alerts_of(triages),
        )

    def summary(self) -> dict[str, Any]:
        """The 200's answer: the tallies, and the records of the events that need attention
        (alerted, unreadable, duplicate, held by another attempt); ``replay --json`` keeps
        every record."""
        return {
            "received": len(self.triages),
            "outcomes": dict(self.counts),
            "categories": dict(self.categories),
            "alerts": len(self.alerts),
            "events": [
                t.record().to_summary() for t in self.triages if t.verdict in NEEDS_ATTENTION
            ],
        }


def alerts_of(triages: Sequence[Triaged]) -> list[Alert]:
    """The delivery's alerts, each once (its unreadable events share one)."""
    return list({t.alert.id: t.alert for t in triages if t.alert is not None}.values())


def recipients_of(triages: Sequence[Triaged]) -> dict[str, str]:
    """Each alert's recipient as the event wrote it, for the notifier to count distinct ones.

    Handed over beside the alerts, not inside them: an alert is what leaves the app, and a raw
    number kept in it, even unserialised, is one copy or dump away from leaving too. The
    outcome already holds the event's own words and never leaves.
    """
    return {
        t.alert.id: t.outcome.recipient
        for t in triages
        if t.alert is not None and t.verdict == "alert" and t.outcome.recipient
    }


def record_key(identity: str) -> str:
    """The ``event:`` record of an event's identity (:attr:`Envelope.key`)."""
    return "event:" + hashlib.sha256(identity.encode()).hexdigest()[:40]


def event_record_key(envelope: Envelope) -> str:
    return record_key(envelope.key)


@dataclass
class Pipeline:
    reader: EventReader
    catalog: Catalog
    policy: AlertPolicy
    outbox: Outbox | None  # None when no destination is configured: nothing to keep
    dedupe: DedupeStore
    alert_source: str
    notifier: Notifier | None = None
    alarms: RateAlarms | None = None
    # False when no destination takes alerts (only notifications): an alert is then counted in
    # its group but not kept in the outbox, which every destination would pass over.
    keeps_alerts: bool = True
    claim_lease: timedelta = CLAIM_LEASE
    deadline_seconds: float = DELIVERY_DEADLINE_SECONDS

    def run(self, envelopes: Sequence[Envelope], *, way_in: str) -> Delivery:
        """A delivery read by the careful path."""
        events = [CarefulEvent(e, self.reader, event_record_key(e)) for e in envelopes]
        return self.run_events(events, way_in=way_in)

    def run_events(self, events: Sequence[PipelineEvent], *, way_in: str) -> Delivery:
        """A delivery read by either path (``handlers.fast`` reads the ordinary ones)."""
        started = time.perf_counter()
        keys = [event.key for event in events]
        claim: Claim | None = None
        try:
            # Every store call and every destination attempt ends by this deadline, so the
            # delivery is answered inside Event Grid's 30 s whatever the far sides do.
            with delivery_deadline(self.deadline_seconds):
                claim = self.dedupe.claim(list(dict.fromkeys(keys)), self.claim_lease)
                triages = self._triage(events, keys, claim)
                self._record(triages)
                self._count_results(events, triages)
                self.dedupe.complete(claim)
        except BaseException:
            if claim is not None:
                self._release(claim)  # its own short limit: outside the spent deadline
            raise
        delivery = Delivery.of(triages, (time.perf_counter() - started) * 1000)
        self._log(delivery, way_in)
        if claim.held:
            raise EventsInProgress(len(claim.held))
        return delivery

    def _release(self, claim: Claim) -> None:
        """Give the claims back after a failed attempt; if even that fails, their lease lapses."""
        try:
            self.dedupe.release(claim)
        except StateUnavailable:
            log_event("claim_release_failed", level=logging.WARNING, events=len(claim.won))

    def _triage(
        self, events: Sequence[PipelineEvent], keys: Sequence[str], claim: Claim
    ) -> list[Triaged]:
        triages: list[Triaged] = []
        in_batch: set[str] = set()
        for event, key in zip(events, keys, strict=True):
            if key in claim.held:
                triages.append(event.passed_over("in-progress"))
                continue
            if key not in claim.won or key in in_batch:
                triages.append(event.passed_over("duplicate"))
                continue
            in_batch.add(key)
            triages.append(event.triaged(self._decide))
        self._one_alert_for_the_unreadable(triages, keys)
        return triages

    def _one_alert_for_the_unreadable(
        self, triages: Sequence[Triaged], keys: Sequence[str]
    ) -> None:
        # Unreadable events only ever come from the careful path, as Triage records.
        unreadable = [
            (triage, key)
            for triage, key in zip(triages, keys, strict=True)
            if isinstance(triage, Triage) and triage.verdict == "invalid"
        ]
        if not unreadable:
            return
        alert = build_invalid_events_alert(
            [triage.outcome for triage, _ in unreadable],
            event_keys=[key for _, key in unreadable],
            source=self.alert_source,
        )
        for triage, _ in unreadable:
            triage.alert = alert

    def _decide(self, outcome: Outcome, envelope: Envelope) -> Triage:
        match = None
        explainable = outcome.code is not None or outcome.report_status is not None
        if outcome.status == "ok" and outcome.domain is not None and explainable:
            match = self.catalog.lookup(
                outcome.domain,
                outcome.code,
                outcome.subcode,
                action=outcome.action,
                status=outcome.report_status,
            )
        kind = self.policy.decide(outcome, match)
        if kind is None:
            return Triage(outcome, outcome.status, match)
        if kind == "invalid-event":
            return Triage(outcome, "invalid", match)  # one alert for all: see below
        alert = build_alert(outcome, match, kind, event_key=envelope.key, source=self.alert_source)
        return Triage(outcome, "alert", match, alert)

    def _record(self, triages: Sequence[Triaged]) -> None:
        """Put the delivery's alerts in the outbox: durable before the delivery is answered.
        The flusher sends them; no destination is called while Event Grid waits."""
        alerts = alerts_of(triages)
        if alerts and self.outbox is not None and self.keeps_alerts:
            self.outbox.put([(alert.id, to_json(alert)) for alert in alerts])
        if alerts and self.notifier is not None:
            # Only the claimant counts: counts stay exact.
            self.notifier.record(alerts, recipients_of(triages))

    def _count_results(self, events: Sequence[PipelineEvent], triages: Sequence[Triaged]) -> None:
        """The rate alarms' results: only the events this attempt won are results (a duplicate
        or an event held elsewhere is ``duplicate`` / ``in-progress``), so counts stay exact;
        one change per channel, whatever the delivery's size."""
        if self.alarms is not None:
            pairs = zip(events, triages, strict=True)
            self.alarms.count(tally((event.event_type, t.verdict) for event, t in pairs))

    def _log(self, delivery: Delivery, way_in: str) -> None:
        log_event(
            "delivery",
            way_in=way_in,
            received=len(delivery.triages),
            outcomes=dict(delivery.counts),
            categories=dict(delivery.categories),
            alerts=len(delivery.alerts),
            elapsed_ms=round(delivery.elapsed_ms, 2),
        )
        for alert in delivery.alerts:
            data = alert.data
            log_event(
                "alert",
                alert_id=alert.id,
                kind=data.kind,
                code=data.code,
                subcode=data.subcode,
                category=data.category,
                event_id=data.event.id,
                event_type=data.event.type,
            )
