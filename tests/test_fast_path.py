"""The fast path answers exactly as the careful path does, for every body it accepts.

Two runtimes on the same settings, one with the fast path and one without, each with its own
dedupe store and a sink that keeps what it is sent. Every body is delivered to both, twice (the
second time every event is a duplicate): the status, the answer's bytes and every alert sent
must be the same. The fast runtime lives for the whole module, so its memo of verdicts is warm
with other bodies' events when a new body arrives: a memoised verdict is trusted only if every
event that shares its values gets the careful path's answer.

Bodies come from hypothesis (events of every covered family with values of any type, keys
spelled otherwise, extra keys, other event types, both schemas) and from thousands of mutations
of real events (the samples and the benchmark's realistic mix). The tests also check that the
fast path did accept most of them, so that the comparison is not between two careful paths.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.events import ACS_TOPIC
from bench.workload import Workload, in_schema
from handlers.alerting.alert import ALERT_TYPE
from handlers.alerting.cloudevent import CloudEvent
from handlers.fast.reading import FastEvent
from handlers.http import routes
from handlers.http.messages import Headers, Request
from handlers.runtime import Runtime
from handlers.settings import load_settings
from handlers.state.memory import MemoryDedupeStore
from tests.conftest import SAMPLES
from tests.test_robustness import PROPERTY

HEADERS = Headers({"aeg-event-type": "Notification", "Content-Type": "application/json"})


@dataclass(eq=False)  # hashable: the pipeline keys its pending alerts by sink
class KeepingSink:
    """A destination that keeps every alert it is sent, as the alert's CloudEvent."""

    name: str = "keep"
    sent: list[dict[str, Any]] = field(default_factory=list)

    def send(self, alerts: Sequence[CloudEvent[Any]]) -> None:
        self.sent.extend(alert.to_dict() for alert in alerts)


@dataclass
class Side:
    runtime: Runtime
    sink: KeepingSink

    def deliver(self, body: bytes) -> tuple[int, bytes, list[dict[str, Any]]]:
        self.sink.sent.clear()
        response = routes.eventgrid(Request("POST", body, HEADERS), self.runtime)
        self.runtime.flush()  # the outbox to the sink, as the flusher's next pass would
        # Only the alerts: a group's notification depends on when each side saw it first.
        alerts = [event for event in self.sink.sent if event["type"] == ALERT_TYPE]
        return response.status, response.body, alerts


def side(*, fast_path: bool) -> Side:
    sink = KeepingSink()
    runtime = Runtime.build(
        load_settings(callback_jwt_required=False, alert_file=""),
        sinks=[sink],
        dedupe=MemoryDedupeStore(timedelta(hours=1)),
        fast_path=fast_path,
    )
    return Side(runtime, sink)


CAREFUL = side(fast_path=False)
FAST = side(fast_path=True)  # one for the module: its memo of verdicts stays warm


@dataclass
class Tally:
    bodies: int = 0
    accepted: int = 0  # bodies the fast path read
    typed: int = 0  # events it counted by a typed record (the rest: the careful path, per event)
    alerts: int = 0  # alerts sent (the same both ways)


def compare(body: bytes, tally: Tally | None = None) -> None:
    """Both paths give the same answers and alerts, fresh and redelivered."""
    for store in (CAREFUL, FAST):
        store.runtime.pipeline.dedupe = MemoryDedupeStore(timedelta(hours=1))
    if tally is not None:
        assert FAST.runtime.fast is not None
        events = FAST.runtime.fast.read(body)
        tally.bodies += 1
        if events is not None:
            tally.accepted += 1
            tally.typed += sum(isinstance(event, FastEvent) for event in events)
    for attempt in ("first", "redelivered"):
        careful, fast = CAREFUL.deliver(body), FAST.deliver(body)
        assert fast[0] == careful[0], (attempt, fast[0], careful[0], body[:400])
        assert fast[1] == careful[1], (attempt, body[:400])
        assert fast[2] == careful[2], (attempt, body[:400])
        if tally is not None:
            tally.alerts += len(fast[2])


def test_the_fast_path_is_on_by_default_and_reads_the_realistic_mix() -> None:
    workload = Workload(seed=14)
    tally = Tally()
    for schema in ("eventgrid", "cloudevents"):
        batch = workload.batch(schema, max_events=300)
        compare(batch.body, tally)
    assert (tally.bodies, tally.accepted, tally.typed) == (2, 2, 600)


# ---- hypothesis: events of the covered families, values of any type --------------------------

ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                   max_size=3),
    max_leaves=6,
)
CODES = st.sampled_from([0, 200, 400, 404, 480, 487, 500, 503, 2000, 4007, 5000, 9999, 8536,
                         7015, 10004, 10037, 560503, 3100, 1])


# Hypothesis leans towards the first of a sampled list: the usual case comes first.
SOMETIMES = st.sampled_from([False] * 5 + [True])
RARELY = st.sampled_from([False] * 29 + [True])


def maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a well-typed value (so that most events reach the fast path), sometimes null,
    sometimes any JSON at all."""
    return st.sampled_from([0] * 12 + [1, 2]).flatmap(
        lambda pick: (values, st.none(), ANY_JSON)[pick]
    )


def optional_keys(draw: st.DrawFn, fields: dict[str, Any]) -> dict[str, Any]:
    """Some of the fields, sometimes a key spelled otherwise, sometimes an extra key."""
    kept = {key: value for key, value in fields.items() if not draw(SOMETIMES)}
    if draw(RARELY) and kept:
        key = draw(st.sampled_from(sorted(kept)))
        kept[draw(st.sampled_from([key.upper(), key[0].upper() + key[1:], key.lower()]))] = (
            kept.pop(key)
        )
    if draw(RARELY):
        kept[draw(st.sampled_from(["extra", "sub_code", "call_connection_id", "Tag"]))] = draw(
            ANY_JSON
        )
    return kept


@st.composite
def sms_data(draw: st.DrawFn) -> dict[str, Any]:
    details = st.one_of(
        st.sampled_from(["2000: No Error", "No error.", "4007: Opted out", "5000: failed",
                         "Failed with 4001 then", "9999", " 4006: x", ""]),
        st.text(max_size=20),
    )
    attempt = st.builds(
        lambda ok, failed: {"timestamp": "2026-11-21T10:00:00Z", "segmentsSucceeded": ok,
                            "segmentsFailed": failed},
        maybe(st.integers(-1, 3)), maybe(st.integers(-1, 3)),
    )
    return optional_keys(draw, {
        "messageId": draw(maybe(st.text(max_size=8))),
        "from": draw(maybe(st.just("+15555550100"))),
        "to": draw(maybe(st.sampled_from(["+15555550123", "15555550199", "x"]))),
        "deliveryStatus": draw(maybe(st.sampled_from(["Delivered", "Failed", "delivered ",
                                                       "Success", "Sending", ""]))),
        "deliveryStatusDetails": draw(maybe(details)),
        "deliveryAttempts": draw(maybe(st.lists(attempt, max_size=2))),
        "receivedTimestamp": "2026-11-21T10:00:00Z",
        "tag": draw(maybe(st.text(max_size=5))),
    })


@st.composite
def result_data(draw: st.DrawFn) -> dict[str, Any]:
    details = st.builds(lambda c, m: {"code": c, "message": m}, maybe(CODES),
                        maybe(st.sampled_from(["", "call +15555550123 failed"])))
    result = optional_keys(draw, {
        "code": draw(maybe(CODES)),
        "subCode": draw(maybe(CODES)),
        "message": draw(maybe(st.sampled_from(["", "Call failed.", "to +15555550123"]))),
        "sipDetails": draw(maybe(details)),
        "q850Details": draw(maybe(details)),
    })
    return optional_keys(draw, {
        "callConnectionId": "421f3500-f5de-4c12-bf61-9e2641433687",
        "serverCallId": draw(maybe(st.just("aHR0cHM6Ly9hcGk"))),
        "correlationId": "b880bd5a-1916-470a-b43d-aabf3caff91c",
        "operationContext": draw(maybe(st.sampled_from(["ctx", "+15555550123"]))),
        "resultInformation": draw(maybe(st.just(result))),
        "type": "playFailed",
    })


@st.composite
def call_end_data(draw: st.DrawFn) -> dict[str, Any]:
    reason = optional_keys(draw, {"code": draw(maybe(CODES)), "subCode": draw(maybe(CODES)),
                                  "phrase": draw(maybe(st.text(max_size=10)))})
    return optional_keys(draw, {
        "reason": draw(maybe(st.just(reason))),
        "callDurationInSeconds": draw(maybe(st.floats(0, 1e6) | st.integers(0, 10**6))),
        "serverCallId": "aHR0cHM6Ly9hcGk",
        "correlationId": draw(maybe(st.text(max_size=6))),
        "group": draw(maybe(st.builds(lambda i: {"id": i}, maybe(st.text(max_size=4))))),
        "room": None,
        "isTwoParty": draw(maybe(st.booleans())),
        "isRoomsCall": draw(maybe(st.booleans())),
    })


TYPES = {
    "Microsoft.Communication.SMSDeliveryReportReceived": sms_data(),
    "Microsoft.Communication.CallDisconnected": result_data(),
    "Microsoft.Communication.PlayFailed": result_data(),
    "Microsoft.Communication.RecognizeCompleted": result_data(),
    "Microsoft.Communication.AddParticipantFailed": result_data(),
    "microsoft.communication.callDisconnected": result_data(),
    "Microsoft.Communication.CallEnded": call_end_data(),
    "Microsoft.Communication.CallParticipantRemoved": call_end_data(),
    "Microsoft.Communication.IncomingCall": st.just({"to": {"rawId": "4:+15555550123"}}),
    # Families the fast path leaves to the careful path, whatever the router makes of them.
    "Microsoft.Communication.EmailDeliveryReportReceived": st.just(
        {"messageId": "m", "status": "Failed", "deliveryStatusDetails": {"statusMessage": "x"}}
    ),
    "Microsoft.Communication.AdvancedMessageDeliveryStatusUpdated": st.just(
        {"status": "failed", "error": {"channelCode": 131026, "channelMessage": "x"}}
    ),
    "Microsoft.Communication.RouterJobCompleted": result_data(),
    "Microsoft.EventGrid.SubscriptionDeletedEvent": st.just({}),
    "Microsoft.EventGrid.SubscriptionValidationEvent": st.just({"validationCode": "abc"}),
}


COVERED = [name for name in sorted(TYPES) if name.startswith("Microsoft.Communication.")]


@st.composite
def event(draw: st.DrawFn, schema: str) -> dict[str, Any]:
    event_type = draw(st.sampled_from(COVERED * 3 + sorted(TYPES)))
    event_id = draw(st.sampled_from([*(f"e-{n}" for n in range(12)), "E-1", ""]))
    base: dict[str, Any]
    if schema == "eventgrid":
        base = {"id": event_id, "topic": draw(st.sampled_from([ACS_TOPIC, ACS_TOPIC + "/", ""])),
                "subject": draw(st.sampled_from(["/phonenumber/15555550123", None, ""])),
                "eventType": event_type, "eventTime": "2026-11-21T10:00:00Z",
                "dataVersion": "1.0", "metadataVersion": "1"}
    else:
        base = {"id": event_id, "source": draw(st.sampled_from(["calling/x", ACS_TOPIC])),
                "type": event_type, "specversion": draw(st.sampled_from(["1.0"] * 29 + ["0.3"])),
                "subject": "calling/callConnections/x", "time": "2026-11-21T10:00:00Z",
                "datacontenttype": "application/json"}
    base["data"] = draw(TYPES[event_type])
    if draw(RARELY):
        base[draw(st.sampled_from(["extension", "data", "id", "eventType", "type"]))] = draw(
            ANY_JSON
        )
    return base


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    schema = draw(st.sampled_from(["eventgrid", "cloudevents"]))
    events = draw(st.lists(event(schema), min_size=1, max_size=6))
    return json.dumps(events).encode()


HYPOTHESIS_TALLY = Tally()


@PROPERTY
@given(body=bodies())
def test_generated_bodies_get_the_same_answer_both_ways(body: bytes) -> None:
    compare(body, HYPOTHESIS_TALLY)


def test_the_generated_bodies_reached_the_fast_path() -> None:
    tally = HYPOTHESIS_TALLY
    if tally.bodies == 0:
        pytest.skip("run with the property above")
    assert tally.accepted >= tally.bodies // 3, tally
    assert tally.typed >= tally.bodies // 3, tally
    assert tally.alerts >= 10, tally


# ---- mutated real events --------------------------------------------------------------------


def real_events() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for path in sorted(SAMPLES.glob("Microsoft.Communication.*.json")):
        loaded = json.loads(path.read_text(encoding="utf-8"))
        events.extend(loaded if isinstance(loaded, list) else [loaded])
    workload = Workload(seed=5000)
    events.extend(workload.event() for _ in range(60))
    return events


def mutate(rng: random.Random, value: Any, depth: int = 0) -> Any:
    """One small change somewhere in ``value``: a key dropped, renamed or added, a value of
    another type, a number nudged, a string edited."""
    if isinstance(value, dict) and value and rng.random() < 0.7:
        key = rng.choice(sorted(value))
        change = rng.random()
        copy = dict(value)
        if change < 0.15:
            del copy[key]
        elif change < 0.3:
            copy[rng.choice([key.upper(), key.lower(), key[:1].upper() + key[1:], key + "_"])] = (
                copy.pop(key)
            )
        elif change < 0.4:
            copy[rng.choice(["extra", "sub_code", "version"])] = rng.choice([1, "x", None, []])
        else:
            copy[key] = mutate(rng, copy[key], depth + 1)
        return copy
    if isinstance(value, list) and value and rng.random() < 0.7:
        index = rng.randrange(len(value))
        return [*value[:index], mutate(rng, value[index], depth + 1), *value[index + 1 :]]
    return rng.choice([
        None, True, 0, -1, 1.5, 10**20, "", "x", "4007: opted out", [], {}, [value],
        str(value), 2000, 503, 560503, "Failed", "+15555550123",
        value + 1 if isinstance(value, int) and not isinstance(value, bool) else 7,
    ])


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
def test_five_thousand_mutated_real_events_get_the_same_answer_both_ways(schema: str) -> None:
    """2 × 2,500 mutated events, 10 to a body. Most changes are to an event's data: the fast path
    reads the body and hands those events to the careful path; a change to an envelope (Event
    Grid writes those, so it is rarer) sends the whole body to the careful path."""
    rng = random.Random(f"fast-path-{schema}")
    originals = [in_schema(event, schema) for event in real_events()]  # type: ignore[arg-type]
    tally = Tally()
    for body_index in range(250):
        events = []
        for position in range(10):
            event = dict(rng.choice(originals))
            event["id"] = f"{body_index}-{position}-{rng.randrange(3)}"
            draw = rng.random()
            if draw < 0.4:
                event["data"] = mutate(rng, event["data"])
            elif draw < 0.43:
                event = mutate(rng, event)
            events.append(event)
        compare(json.dumps(events).encode(), tally)
    assert tally.accepted >= 50, tally
    assert tally.typed >= 500, tally
    assert tally.alerts >= 50, tally
