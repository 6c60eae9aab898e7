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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

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
from handlers.notify.notifier import Notifier
from handlers.state.outbox import Outbox
from handlers.state.store import Claim, DedupeStore

Verdict = Literal["alert", "ok", "ignored", "invalid", "duplicate", "in-progress"]
# How long a claim protects an event from a second sender. Longer than any attempt can take
# (its deadline is well under Event Grid's 30 s), so a live holder never loses its claim; short
# enough that the events of a crashed holder are handled on one of Event Grid's next retries.
CLAIM_LEASE = timedelta(seconds=60)
# Event Grid waits 30 s for an answer; aim well inside it (a release after a failure may add a
# store call's few seconds).
DELIVERY_DEADLINE_SECONDS = 20.0


@dataclass(slots=True)
class Triage:
    """Everything acs-triage concluded about one event of a delivery."""

    outcome: Outcome
    verdict: Verdict
    match: Match | None = None
    alert: Alert | None = None

    def record(self, *, with_alert: bool) -> dict[str, Any]:
        """The per-event record of ``replay --json`` (with the alert) and of the summary."""
        match = self.match
        record: dict[str, Any] = {
            "id": self.outcome.event_id,
            "type": self.outcome.event_type,
            "outcome": self.verdict,
            "code": self.outcome.code,
            "subcode": self.outcome.subcode,
            "category": match.category.value if match and match.category else None,
            "match": match.rule if match else None,
            "source": match.entry.source if match and match.entry else None,
            "message": match.message if match else None,
            "advice": match.advice if match else None,
            "reason": self.outcome.reason,
        }
        if with_alert:
            record["alert"] = self.alert.to_cloudevent() if self.alert else None
        elif self.alert:
            record["alert_id"] = self.alert.id
        return record


@dataclass(frozen=True, slots=True)
class Delivery:
    """A handled delivery; its tallies are taken once, for the log line and the answer alike."""

    triages: list[Triage]
    elapsed_ms: float
    counts: Counter[str]
    categories: Counter[str]
    alerts: list[Alert]

    @classmethod
    def of(cls, triages: list[Triage], elapsed_ms: float) -> Delivery:
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
        return {
            "received": len(self.triages),
            "outcomes": dict(self.counts),
            "categories": dict(self.categories),
            "alerts": len(self.alerts),
            "events": [t.record(with_alert=False) for t in self.triages],
        }


def alerts_of(triages: Sequence[Triage]) -> list[Alert]:
    """The delivery's alerts, each once (its unreadable events share one)."""
    return list({t.alert.id: t.alert for t in triages if t.alert is not None}.values())


def event_record_key(envelope: Envelope) -> str:
    return "event:" + hashlib.sha256(envelope.key.encode()).hexdigest()[:40]


@dataclass
class Pipeline:
    reader: EventReader
    catalog: Catalog
    policy: AlertPolicy
    outbox: Outbox | None  # None when no destination is configured: nothing to keep
    dedupe: DedupeStore
    alert_source: str
    notifier: Notifier | None = None
    claim_lease: timedelta = CLAIM_LEASE
    deadline_seconds: float = DELIVERY_DEADLINE_SECONDS

    def run(self, envelopes: Sequence[Envelope], *, way_in: str) -> Delivery:
        started = time.perf_counter()
        keys = [event_record_key(envelope) for envelope in envelopes]
        claim: Claim | None = None
        try:
            # Every store call and every destination attempt ends by this deadline, so the
            # delivery is answered inside Event Grid's 30 s whatever the far sides do.
            with delivery_deadline(self.deadline_seconds):
                claim = self.dedupe.claim(list(dict.fromkeys(keys)), self.claim_lease)
                triages = self._triage(envelopes, keys, claim)
                self._record(triages)
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
        self, envelopes: Sequence[Envelope], keys: Sequence[str], claim: Claim
    ) -> list[Triage]:
        triages = []
        in_batch: set[str] = set()
        for envelope, key in zip(envelopes, keys, strict=True):
            outcome = self.reader.read(envelope)
            if key in claim.held:
                triages.append(Triage(outcome, "in-progress"))
                continue
            if key not in claim.won or key in in_batch:
                triages.append(Triage(outcome, "duplicate"))
                continue
            in_batch.add(key)
            triages.append(self._decide(outcome, envelope))
        self._one_alert_for_the_unreadable(triages, envelopes)
        return triages

    def _one_alert_for_the_unreadable(
        self, triages: Sequence[Triage], envelopes: Sequence[Envelope]
    ) -> None:
        unreadable = [
            (triage, envelope)
            for triage, envelope in zip(triages, envelopes, strict=True)
            if triage.verdict == "invalid"
        ]
        if not unreadable:
            return
        alert = build_invalid_events_alert(
            [triage.outcome for triage, _ in unreadable],
            event_keys=[envelope.key for _, envelope in unreadable],
            source=self.alert_source,
        )
        for triage, _ in unreadable:
            triage.alert = alert

    def _decide(self, outcome: Outcome, envelope: Envelope) -> Triage:
        match = None
        if outcome.status == "ok" and outcome.domain is not None and outcome.code is not None:
            match = self.catalog.lookup(outcome.domain, outcome.code, outcome.subcode)
        kind = self.policy.decide(outcome, match)
        if kind is None:
            return Triage(outcome, outcome.status, match)
        if kind == "invalid-event":
            return Triage(outcome, "invalid", match)  # one alert for all: see below
        alert = build_alert(outcome, match, kind, event_key=envelope.key, source=self.alert_source)
        return Triage(outcome, "alert", match, alert)

    def _record(self, triages: Sequence[Triage]) -> None:
        """Put the delivery's alerts in the outbox: durable before the delivery is answered.
        The flusher sends them; no destination is called while Event Grid waits."""
        alerts = alerts_of(triages)
        if alerts and self.outbox is not None:
            self.outbox.put([(alert.id, to_json(alert)) for alert in alerts])
        if alerts and self.notifier is not None:
            self.notifier.record(alerts)  # only the claimant counts: counts stay exact

    def _log(self, delivery: Delivery, way_in: str) -> None:
        log_event(
            "delivery",
            way_in=way_in,
            received=len(delivery.triages),
            outcomes=dict(delivery.counts),
            categories=dict(delivery.categories),
            elapsed_ms=round(delivery.elapsed_ms, 2),
        )
        for alert in delivery.alerts:
            data = alert.data
            log_event(
                "alert",
                alert_id=alert.id,
                kind=data["kind"],
                code=data["code"],
                subcode=data["subcode"],
                category=data["category"],
                event_id=data["event"]["id"],
                event_type=data["event"]["type"],
            )
