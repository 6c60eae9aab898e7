"""One delivery, end to end: read → dedupe → enrich → decide → send → remember.

Exactly-once alerts on an at-least-once transport rest on two records in the dedupe store:

- ``event:<digest>`` — the event was handled; a redelivery is a ``duplicate`` and sends nothing;
- ``sent:<alert id>:<sink>`` — that alert reached that sink; when one sink fails and the delivery
  is answered 503, the redelivery re-sends only to the sinks that have not got it yet.

Events are remembered only once every alert of the delivery has reached every sink, so a
delivery that fails (503) is processed again in full on redelivery, with the same alert ids.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from catalog.lookup import Catalog
from catalog.models import Match
from handlers.alerting.alert import Alert, build_alert
from handlers.alerting.delivery import AlertSink, SinkError, deliver
from handlers.alerting.policy import AlertPolicy
from handlers.errors import DestinationsFailed
from handlers.events.outcome import Outcome
from handlers.events.router import EventReader
from handlers.inbound.envelope import Envelope
from handlers.logs import log_event
from handlers.records import EventRecord, Verdict
from handlers.state.store import DedupeStore


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
            alerts=[t.alert for t in triages if t.alert is not None],
        )

    def summary(self) -> dict[str, Any]:
        return {
            "received": len(self.triages),
            "outcomes": dict(self.counts),
            "categories": dict(self.categories),
            "alerts": len(self.alerts),
            "events": [t.record().to_summary() for t in self.triages],
        }


def event_record_key(envelope: Envelope) -> str:
    return "event:" + hashlib.sha256(envelope.key.encode()).hexdigest()[:40]


def sent_record_key(alert: Alert, sink: AlertSink) -> str:
    return f"sent:{alert.id}:{sink.name}"


@dataclass
class Pipeline:
    reader: EventReader
    catalog: Catalog
    policy: AlertPolicy
    sinks: Sequence[AlertSink]
    dedupe: DedupeStore
    alert_source: str
    sink_max_attempts: int = 4
    sink_retry_budget_seconds: float = 20.0

    def run(self, envelopes: Sequence[Envelope], *, way_in: str) -> Delivery:
        started = time.perf_counter()
        keys = [event_record_key(envelope) for envelope in envelopes]
        already = self.dedupe.seen(list(dict.fromkeys(keys)))
        triages = self._triage(envelopes, keys, already)
        self._send(triages)
        fresh = [key for key, t in zip(keys, triages, strict=True) if t.verdict != "duplicate"]
        self.dedupe.remember(fresh)
        delivery = Delivery.of(triages, (time.perf_counter() - started) * 1000)
        self._log(delivery, way_in)
        return delivery

    def _triage(
        self, envelopes: Sequence[Envelope], keys: Sequence[str], already: set[str]
    ) -> list[Triage]:
        triages = []
        in_batch: set[str] = set()
        for envelope, key in zip(envelopes, keys, strict=True):
            outcome = self.reader.read(envelope)
            if key in already or key in in_batch:
                triages.append(Triage(outcome, "duplicate"))
                continue
            in_batch.add(key)
            triages.append(self._decide(outcome, envelope))
        return triages

    def _decide(self, outcome: Outcome, envelope: Envelope) -> Triage:
        match = None
        if outcome.status == "ok" and outcome.domain is not None and outcome.code is not None:
            match = self.catalog.lookup(outcome.domain, outcome.code, outcome.subcode)
        kind = self.policy.decide(outcome, match)
        if kind is None:
            return Triage(outcome, outcome.status, match)
        alert = build_alert(outcome, match, kind, event_key=envelope.key, source=self.alert_source)
        verdict: Verdict = "invalid" if kind == "invalid-event" else "alert"
        return Triage(outcome, verdict, match, alert)

    def _send(self, triages: Sequence[Triage]) -> None:
        alerts = [t.alert for t in triages if t.alert is not None]
        if not alerts or not self.sinks:
            return
        wanted = {(a.id, s.name): sent_record_key(a, s) for a in alerts for s in self.sinks}
        done = self.dedupe.seen(list(wanted.values()))
        pending = {
            sink: [a for a in alerts if wanted[(a.id, sink.name)] not in done]
            for sink in self.sinks
        }
        pending = {sink: batch for sink, batch in pending.items() if batch}
        # Destinations are tried side by side, each within the whole retry budget, so one
        # delivery takes as long as its slowest destination and stays inside Event Grid's 30 s.
        outcomes = self._deliver_all(pending)
        failed = [sink.name for sink, error in outcomes.items() if error is not None]
        for sink, error in outcomes.items():
            if error is None:
                self.dedupe.remember([wanted[(a.id, sink.name)] for a in pending[sink]])
            else:
                log_event(
                    "sink_failed", sink=sink.name, alerts=len(pending[sink]), error=str(error)
                )
        if failed:
            raise DestinationsFailed(failed)

    def _deliver_all(
        self, pending: dict[AlertSink, list[Alert]]
    ) -> dict[AlertSink, SinkError | None]:
        def attempt(sink: AlertSink) -> SinkError | None:
            try:
                deliver(
                    sink,
                    pending[sink],
                    max_attempts=self.sink_max_attempts,
                    budget_seconds=self.sink_retry_budget_seconds,
                )
            except SinkError as error:
                return error
            return None

        if len(pending) <= 1:
            return {sink: attempt(sink) for sink in pending}
        with ThreadPoolExecutor(max_workers=len(pending)) as pool:
            futures = {sink: pool.submit(attempt, sink) for sink in pending}
            return {sink: future.result() for sink, future in futures.items()}

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
