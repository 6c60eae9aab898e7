"""A decoded delivery as the pipeline triages it: ordinary events by a memoised verdict, the
rest by the careful path.

An event's verdict (what the catalog and the alert policy make of it) depends only on a few of
its values: for an SMS report its status, its details text and whether a segment failed; for a
Call Automation result its type, code and subcode; for a call's end its code and subcode. The
first event with given values is read by the careful path and its verdict kept; every later one
with the same values is counted with that verdict, unread. An event whose verdict alerts or
finds it unreadable is always read by the careful path, so its outcome and alert are exactly the
careful path's.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from catalog.models import Match
from handlers.errors import MalformedDelivery
from handlers.events.outcome import Family as EventFamily
from handlers.events.outcome import Outcome
from handlers.events.router import CALL_AUTOMATION_EVENTS, EventReader
from handlers.fast import decode
from handlers.inbound.envelope import (
    MAX_EVENTS_PER_DELIVERY,
    MAX_NESTING_DEPTH,
    Envelope,
    Schema,
    decode_body,
    nesting_depth,
)
from handlers.inbound.handshake import normalized_topic
from handlers.pipeline import (
    CarefulEvent,
    Decide,
    PipelineEvent,
    Triage,
    Triaged,
    record_key,
)
from handlers.records import EventRecord, Verdict

ACS = "Microsoft.Communication."
# Verdicts kept per process: values come from events, so anyone can send new ones; past this
# many, a new value is read by the careful path each time instead of being remembered.
MAX_VERDICTS = 4096
MAX_TOPICS = 1024
# The careful path refuses a body nested deeper than MAX_NESTING_DEPTH; an event's data sits two
# levels down (the delivery's array, the event).
MAX_DATA_DEPTH = MAX_NESTING_DEPTH - 2


@dataclass(frozen=True, slots=True)
class Family:
    """An event family the typed records cover: its data decoder and what its verdict rests on."""

    name: str
    decoder: msgspec.json.Decoder[Any]
    verdict_key: Callable[[str, Any], Hashable]


def _sms_key(_type: str, data: decode.SmsData) -> Hashable:
    return ("sms", data.deliveryStatus, data.deliveryStatusDetails, data.failed_segments)


def _call_automation_key(event_type: str, data: decode.CallAutomationData) -> Hashable:
    result = data.resultInformation
    return ("call-automation", event_type, result and result.code, result and result.subCode)


def _call_event_key(_type: str, data: decode.CallEventData) -> Hashable:
    reason = data.reason
    return ("call-end", reason and reason.code, reason and reason.subCode)


# Named as the router names the families (a record says which family read its event).
SMS = Family(EventFamily.SMS_DELIVERY, decode.SMS, _sms_key)
CALL_AUTOMATION = Family(EventFamily.CALL_AUTOMATION, decode.CALL_AUTOMATION, _call_automation_key)
CALL_EVENT = Family(EventFamily.CALL_END, decode.CALL_EVENT, _call_event_key)
# Exact spellings only: the router matches types without regard to case, so another spelling is
# read by the careful path, which is right whatever the case. The Call Automation types are the
# router's own list, named one by one: a name the router sends elsewhere (a Job Router
# "...Failed") is never taken for one here. Email, WhatsApp and Job Router events have no typed
# record: the careful path reads them.
FAMILIES: dict[str, Family] = {
    f"{ACS}SMSDeliveryReportReceived": SMS,
    f"{ACS}CallEnded": CALL_EVENT,
    f"{ACS}CallParticipantRemoved": CALL_EVENT,
    **{f"{ACS}{name}": CALL_AUTOMATION for name in CALL_AUTOMATION_EVENTS},
}


@dataclass(frozen=True, slots=True)
class Known:
    """What the careful path made of the first event with given verdict values."""

    verdict: Verdict
    match: Match | None
    code: int | None
    subcode: int | None
    ordinary: bool  # neither alerted nor unreadable: later events are only counted

    @classmethod
    def of(cls, triage: Triage) -> Known:
        outcome = triage.outcome
        ordinary = triage.verdict not in ("alert", "invalid")
        return cls(triage.verdict, triage.match, outcome.code, outcome.subcode, ordinary)


class FastEvent:
    """An event whose data a family's typed record read; the careful path reads it on demand."""

    __slots__ = ("_envelope", "_raw", "family", "index", "key", "reading", "schema", "typed")

    def __init__(  # noqa: PLR0917 - built in one place, from one event's parts
        self,
        reading: FastReader,
        index: int,
        schema: Schema,
        envelope: decode.Envelope,
        family: Family,
        typed: Any,
        key: str,
    ) -> None:
        self.reading = reading
        self.index = index
        self.schema = schema
        self._raw = envelope
        self.family = family
        self.typed = typed
        self.key = key
        self._envelope: Envelope | None = None

    @property
    def event_id(self) -> str:
        return self._raw.id

    @property
    def event_type(self) -> str:
        return self._raw.type

    def envelope(self) -> Envelope:
        """The careful path's envelope of this event (its data read as the careful path does)."""
        if self._envelope is None:
            raw = self._raw
            # The typed record read these bytes whole: valid UTF-8, no lone surrogate, every
            # number in range, shallow. So plain json.loads gives what decode_body would.
            data = json.loads(bytes(raw.data))
            self._envelope = Envelope(
                self.index, self.schema, raw.id, raw.type, raw.source, raw.subject, raw.time, data
            )
        return self._envelope

    def outcome(self) -> Outcome:
        return self.reading.reader.read(self.envelope())

    def passed_over(self, verdict: Verdict) -> Triaged:
        """A duplicate (or an event held elsewhere): its record needs only its code, subcode."""
        known = self.reading.verdicts.get(self.family.verdict_key(self._raw.type, self.typed))
        if known is None:
            return Triage(self.outcome(), verdict)
        return OrdinaryTriage(self, verdict, None, known.code, known.subcode)

    def triaged(self, decide: Decide) -> Triaged:
        key = self.family.verdict_key(self._raw.type, self.typed)
        known = self.reading.verdicts.get(key)
        if known is not None and known.ordinary:
            return OrdinaryTriage(self, known.verdict, known.match, known.code, known.subcode)
        triage = decide(self.outcome(), self.envelope())
        if known is None:
            self.reading.remember(key, Known.of(triage))
        return triage


@dataclass(slots=True)
class OrdinaryTriage:
    """An event counted by its memoised verdict; its careful outcome is read only if asked for."""

    event: FastEvent
    verdict: Verdict
    match: Match | None
    code: int | None
    subcode: int | None
    alert: None = None  # an ordinary event never alerts

    @property
    def outcome(self) -> Outcome:
        return self.event.outcome()

    def record(self) -> EventRecord:
        return EventRecord.of_values(
            self.event.event_id,
            self.event.event_type,
            family=self.event.family.name,
            verdict=self.verdict,
            code=self.code,
            subcode=self.subcode,
            reason=None,  # an ordinary outcome ("ok") has no reason
            match=self.match,
        )


class FastReader:
    """Reads delivery bodies by typed records, with the memo of verdicts (one per runtime)."""

    def __init__(self, reader: EventReader) -> None:
        self.reader = reader
        self.verdicts: dict[Hashable, Known] = {}
        self._topics: dict[str | None, str] = {}
        self._lock = threading.Lock()

    def read(self, body: bytes, allowed_topics: Sequence[str] = ()) -> list[PipelineEvent] | None:
        """The delivery's events, or None when the careful path must read the body whole: it is
        not an array of strict envelopes of one schema, an event's data would make the careful
        path refuse the body, a topic is not allowed, or it is a validation event."""
        envelopes: Sequence[decode.Envelope] | None = decode.decode_batch(body)
        if not envelopes or len(envelopes) > MAX_EVENTS_PER_DELIVERY:
            return None
        schema: Schema = "eventgrid" if isinstance(envelopes[0], decode.EventGridEvent) else (
            "cloudevents"
        )
        if allowed_topics and not self._all_allowed(envelopes, allowed_topics):
            return None  # the careful path names the event refused (403)
        events: list[PipelineEvent] = []
        families, topics = FAMILIES, self._topics
        # One loop, its lookups held in locals: this is the per-event cost of a delivery.
        for index, envelope in enumerate(envelopes):
            family = families.get(envelope.type)
            typed = None
            if family is not None:
                try:
                    typed = family.decoder.decode(envelope.data)
                except (msgspec.MsgspecError, ValueError, RecursionError):
                    typed = None  # read by the careful path, below
            if family is None or typed is None:
                careful = self._careful_event(index, schema, envelope)
                if careful is None:
                    return None
                events.append(careful)
                continue
            source = envelope.source
            topic = topics.get(source) or self.topic(source)
            key = record_key(f"{topic}\n{envelope.id}")
            events.append(FastEvent(self, index, schema, envelope, family, typed, key))
        return events

    def _careful_event(
        self, index: int, schema: Schema, envelope: decode.Envelope
    ) -> PipelineEvent | None:
        """An event no typed record covers, for the careful path: None when its data would make
        the careful path refuse the whole body (too deep, a number out of range, …)."""
        if envelope.type.lower() == "microsoft.eventgrid.subscriptionvalidationevent":
            return None  # the careful path knows the handshake from a validation in a batch
        raw = bytes(envelope.data)
        if nesting_depth(raw) > MAX_DATA_DEPTH:
            return None
        try:
            data = decode_body(raw)
        except MalformedDelivery:
            return None
        careful = Envelope(
            index, schema, envelope.id, envelope.type, envelope.source, envelope.subject,
            envelope.time, data,
        )
        event: PipelineEvent = CarefulEvent(careful, self.reader, record_key(careful.key))
        return event

    def _all_allowed(self, envelopes: Sequence[decode.Envelope], allowed: Sequence[str]) -> bool:
        accepted = frozenset(normalized_topic(topic) for topic in allowed)
        return all(
            e.source is not None and normalized_topic(e.source) in accepted for e in envelopes
        )

    def topic(self, source: str | None) -> str:
        """``normalized_topic``, remembered: a delivery's events share a handful of topics."""
        known = self._topics.get(source)
        if known is None:
            known = normalized_topic(source or "")
            if len(self._topics) < MAX_TOPICS:
                self._topics[source] = known
        return known

    def remember(self, key: Hashable, known: Known) -> None:
        """Keep the verdict of the events with these values (a bounded number of them)."""
        with self._lock:
            if len(self.verdicts) < MAX_VERDICTS:
                self.verdicts[key] = known
