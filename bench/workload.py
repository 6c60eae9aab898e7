"""Realistic traffic for the benchmark: what an ACS resource sends, in the proportions it sends it.

Per 100 events, roughly: 60 SMS delivery reports, 30 Call Automation results, 10 ``CallEnded``.
Most are successes; about 9 in 100 are failures the catalog calls expected (opted-out numbers,
declined or unreachable calls) and about 2 in 100 are unexpected (server errors, codes the catalog
does not know): those are the ones that raise alerts. Recipient numbers vary, as they do in
production, so phone masking works on distinct values.

Every event id a :class:`Workload` makes is new (a counter in its low bits): a repeated id would be
answered from the dedupe store and flatter the figures. Workloads with different seeds make
different ids.
"""

from __future__ import annotations

import itertools
import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from bench.events import ACS_TOPIC, as_cloudevent, call_result, sms_report

Schema = Literal["eventgrid", "cloudevents"]
# Event Grid's largest preferred batch size (1,024 KB): about 1,400 SMS delivery reports.
MAX_BATCH_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Batch:
    """One delivery body and what is in it."""

    body: bytes
    events: int
    schema: Schema
    texts: tuple[str, ...] = ()  # each event's own JSON text, as the Functions host hands it over


def _weighted(rng: random.Random, table: list[tuple[float, Any]]) -> Any:
    draw = rng.random() * sum(weight for weight, _ in table)
    for weight, value in table:
        draw -= weight
        if draw < 0:
            return value
    return table[-1][1]


# (weight, (deliveryStatus, deliveryStatusDetails, failed segments))
SMS_OUTCOMES: list[tuple[float, tuple[str, str | None, int]]] = [
    (82, ("Delivered", "2000: No Error", 0)),
    (6, ("Delivered", "No error.", 0)),  # the older wording: no number at all
    (2, ("Delivered", "5002: Carrier does not support delivery report", 0)),
    (4, ("Failed", "4007: Destination/To number has opted out", 1)),
    (2, ("Failed", "4001: Invalid Source/From number format", 1)),
    (2, ("Failed", "4006: Unreachable destination", 1)),
    (1, ("Failed", "5000: Message failed to deliver", 1)),  # unexpected: alerts
    (0.5, ("Failed", "9999: Unknown error", 1)),  # unexpected: alerts
]

# (weight, (event name, code, subcode))
CALL_AUTOMATION_OUTCOMES: list[tuple[float, tuple[str, int | None, int | None]]] = [
    (70, ("CallDisconnected", 200, 0)),
    (12, ("CallDisconnected", 200, 7015)),
    (4, ("PlayCompleted", 200, 0)),
    (4, ("CallDisconnected", 487, 10024)),  # declined by every callee: a success
    (3, ("CreateCallFailed", 480, 10037)),  # expected: the callee has no endpoint online
    (3, ("PlayFailed", 400, 8536)),  # expected: the media file could not be downloaded
    (2, ("CallDisconnected", 503, 560503)),  # unexpected: alerts
    (1, ("AddParticipantFailed", 500, 9999)),  # unexpected: alerts
]

# (weight, (code, subcode, phrase))
CALL_END_OUTCOMES: list[tuple[float, tuple[int, int, str]]] = [
    (85, (0, 0, "Call ended successfully by local participant.")),
    (8, (487, 560487, "Call canceled by the caller.")),
    (5, (486, 560486, "Call ended because remote PSTN participant was busy.")),
    (2, (500, 560500, "Call ended because of an internal server error.")),  # alerts
]


def call_ended(event_id: str, code: int, subcode: int, phrase: str) -> dict[str, Any]:
    """A ``CallEnded`` in the Event Grid schema, with the newer ``reason``."""
    return {
        "id": event_id,
        "topic": ACS_TOPIC,
        "subject": f"call/{event_id}/startedBy/8:acs:bench",
        "eventType": "Microsoft.Communication.CallEnded",
        "eventTime": "2026-11-21T10:00:00Z",
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "data": {
            "reason": {"code": code, "subCode": subcode, "phrase": phrase},
            "callDurationInSeconds": 42.5,
            "serverCallId": "aHR0cHM6Ly9hcGk",
            "correlationId": event_id,
            "group": None,
            "room": None,
            "isTwoParty": True,
            "isRoomsCall": False,
        },
    }


def as_eventgrid(event: dict[str, Any]) -> dict[str, Any]:
    """A CloudEvents 1.0 event in the Event Grid schema (the inverse of ``as_cloudevent``)."""
    if "eventType" in event:
        return event
    return {
        "id": event["id"],
        "topic": event["source"],
        "subject": event.get("subject", ""),
        "eventType": event["type"],
        "eventTime": event["time"],
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "data": event["data"],
    }


def in_schema(event: dict[str, Any], schema: Schema) -> dict[str, Any]:
    if schema == "eventgrid":
        return as_eventgrid(event)
    return event if "specversion" in event else as_cloudevent(event)


class Workload:
    """A seeded source of realistic events whose ids never repeat."""

    def __init__(self, seed: int = 20261121) -> None:
        self._rng = random.Random(seed)
        self._seed_bits = random.Random(seed).getrandbits(48) << 80
        self._count = itertools.count()

    def event_id(self) -> str:
        """A UUID v4 in form; unique by construction, so nothing grows to keep it so.

        The seed fills the top bits and the counter the low 62 (a version 4 UUID overwrites bits
        62-63 and 76-79, which neither uses).
        """
        return str(uuid.UUID(int=self._seed_bits | next(self._count), version=4))

    def phone(self) -> str:
        return f"+1555{self._rng.randrange(10**7):07d}"

    def event(self) -> dict[str, Any]:
        """One event, in whichever schema its builder writes (converted by :func:`in_schema`)."""
        family = _weighted(self._rng, [(60, self._sms), (30, self._call_automation),
                                       (10, self._call_ended)])
        maker: Callable[[], dict[str, Any]] = family
        return maker()

    def _sms(self) -> dict[str, Any]:
        status, details, failed = _weighted(self._rng, SMS_OUTCOMES)
        event = sms_report(self.event_id(), status=status, details=details, failed_segments=failed)
        to = self.phone()
        event["subject"] = f"/phonenumber/{to.removeprefix('+')}"
        event["data"]["to"] = to
        return event

    def _call_automation(self) -> dict[str, Any]:
        name, code, subcode = _weighted(self._rng, CALL_AUTOMATION_OUTCOMES)
        connection = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        message = "" if code == 200 else f"Call failed with {code}/{subcode}."
        return call_result(
            self.event_id(), name, code=code, subcode=subcode, message=message,
            connection=connection,
        )

    def _call_ended(self) -> dict[str, Any]:
        code, subcode, phrase = _weighted(self._rng, CALL_END_OUTCOMES)
        return call_ended(self.event_id(), code, subcode, phrase)

    def batch(self, schema: Schema, max_bytes: int = MAX_BATCH_BYTES,
              max_events: int | None = None) -> Batch:
        """The largest array of fresh events that fits ``max_bytes`` (and ``max_events``)."""
        parts: list[str] = []
        size = 2  # "[" and "]"
        while max_events is None or len(parts) < max_events:
            part = json.dumps(in_schema(self.event(), schema))
            if size + len(part) + (1 if parts else 0) > max_bytes:
                break  # this one event is lost from the run; its id is never reused
            parts.append(part)
            size += len(part) + (1 if len(parts) > 1 else 0)
        body = ("[" + ",".join(parts) + "]").encode()
        return Batch(body, len(parts), schema, tuple(parts))

    def batches(self, total_events: int, max_bytes: int = MAX_BATCH_BYTES) -> Iterator[Batch]:
        """Full batches, schemas alternating, until at least ``total_events`` are out."""
        sent = 0
        index = 0
        while sent < total_events:
            batch = self.batch("eventgrid" if index % 2 == 0 else "cloudevents", max_bytes)
            sent += batch.events
            index += 1
            yield batch
