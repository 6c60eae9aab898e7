"""Turn a delivery body into events, whichever schema it uses.

Event Grid sends its own schema as a JSON array (``eventType``, ``topic``, ``eventTime``) or
CloudEvents 1.0 as one object or an array (``type``, ``source``, ``time``, ``specversion``);
Call Automation posts an array of CloudEvents. The Content-Type is not trusted: the body says
which it is.

Two levels of failure, on purpose:

- the body is not an event delivery at all (not UTF-8, not JSON, a scalar, no element with a
  type): :class:`~handlers.errors.MalformedDelivery`, answered 400: a retry can never succeed;
- one element is unreadable (no id, wrong types): an :class:`Envelope` with ``problem`` set, so
  the rest of the batch proceeds and the bad one is reported and alerted on, never dropped.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Literal

from handlers.errors import DeliveryTooLarge, MalformedDelivery
from handlers.inbound.handshake import normalized_topic

Schema = Literal["eventgrid", "cloudevents"]


# An escaped UTF-16 surrogate (\uD800 to \uDFFF): JSON lets one stand alone; no UTF-8 text can.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


# The deepest published ACS payload nests 6 levels (delivery array → event → data →
# participants → identifier → phoneNumber); 32 leaves ample room and stays far below the depth at
# which any recursive code (validation, serialisation, hashing) could exhaust the stack.
MAX_NESTING_DEPTH = 32
# Event Grid delivers at most 5,000 events in one batch.
MAX_EVENTS_PER_DELIVERY = 5_000

# Everything but the characters that decide nesting: brackets, quotes and backslashes.
_NOT_STRUCTURE = bytes(set(range(256)) - set(b'[]{}"\\'))
_STRING = re.compile(rb'"[^"]*"')
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def nesting_depth(body: bytes) -> int:
    """How deep the JSON text nests, without parsing it and without recursion.

    Escaped backslashes and quotes are dropped first, so that what remains of each string is
    ``"..."`` holding only brackets; the strings are then dropped and the brackets counted.
    All in C-speed byte operations: about a tenth of ``json.loads`` on a 1 MB batch.
    """
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = unescaped.translate(None, _NOT_STRUCTURE).replace(b"\\", b"")
    brackets = _STRING.sub(b"", structure).replace(b'"', b"")  # an unterminated string: no JSON
    return max(0, max(accumulate(_DEPTH_STEP[byte] for byte in brackets), default=0))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    """Numbers beyond a double (``1e999``) are refused: no non-finite number leaves the app."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {_short(text, 24)} is out of range")
    return value


@dataclass(frozen=True, slots=True)
class Envelope:
    """One event of a delivery, schema-neutral. ``problem`` is set when it cannot be read."""

    index: int
    schema: Schema | None
    id: str | None
    type: str | None
    source: str | None  # Event Grid ``topic`` or CloudEvents ``source``
    subject: str | None
    time: str | None
    data: Any
    problem: str | None = None
    fingerprint: str | None = None  # stands in for the id of an event that has none

    @property
    def key(self) -> str:
        """Identity of this event across redeliveries: its source and id, else its content."""
        if self.id is not None:
            return f"{normalized_topic(self.source or '')}\n{self.id}"
        return f"sha256:{self.fingerprint}"


def decode_body(body: bytes) -> Any:
    """Parse a body as strict JSON, or raise MalformedDelivery saying why it cannot be read."""
    if not body or not body.strip():
        raise MalformedDelivery("The body is empty; expected an event or an array of events.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedDelivery(f"The body is not valid UTF-8 (byte {error.start}).") from None
    if nesting_depth(body) > MAX_NESTING_DEPTH:
        raise MalformedDelivery(
            f"The body nests too deeply (over {MAX_NESTING_DEPTH} levels) to be an event "
            "delivery: Event Grid events are shallow."
        )
    try:
        payload = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:  # unreachable past the depth check; kept as the last line of defence
        raise MalformedDelivery("The body nests too deeply to be an event delivery.") from None
    except ValueError as error:
        raise MalformedDelivery(f"The body is not valid JSON: {_short(str(error))}") from None
    if _SURROGATE_ESCAPE.search(text):  # rare: most bodies never pay for the walk
        _replace_lone_surrogates(payload)
    return payload


def _replace_lone_surrogates(payload: Any) -> None:
    """Put U+FFFD in place of every lone surrogate, in strings and keys, in place.

    ``json.loads`` joins an escaped pair into one character and leaves a lone half as it is,
    which cannot be encoded: hashing an id, writing an alert or answering would fail. Replacing
    it keeps the event readable (a bad id is still an id) instead of failing the whole batch.
    Iterative, because the body may nest as deep as the parser allowed.
    """
    pending = [payload]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    node[index] = _SURROGATE.sub("\ufffd", item)
                elif isinstance(item, list | dict):
                    pending.append(item)
        elif isinstance(node, dict):
            for key in [key for key in node if _SURROGATE.search(key)]:
                node[_SURROGATE.sub("\ufffd", key)] = node.pop(key)
            for key, item in node.items():
                if isinstance(item, str):
                    node[key] = _SURROGATE.sub("\ufffd", item)
                elif isinstance(item, list | dict):
                    pending.append(item)


def parse_events(payload: Any) -> list[Envelope]:
    """Split a parsed body into envelopes; MalformedDelivery when nothing in it is an event."""
    if isinstance(payload, dict):
        if not _looks_like_event(payload):
            raise MalformedDelivery(
                "The body is a JSON object without 'type' (CloudEvents) or 'eventType' "
                "(Event Grid schema), so it is not an event."
            )
        return [read_envelope(0, payload)]
    if isinstance(payload, list):
        if not payload:
            raise MalformedDelivery("The body is an empty array; expected at least one event.")
        if len(payload) > MAX_EVENTS_PER_DELIVERY:
            raise DeliveryTooLarge(
                f"The body holds {len(payload)} elements; Event Grid delivers at most "
                f"{MAX_EVENTS_PER_DELIVERY} events at once."
            )
        if not any(isinstance(item, dict) and _looks_like_event(item) for item in payload):
            raise MalformedDelivery("No element of the array is an event (an object with a type).")
        return [read_envelope(index, item) for index, item in enumerate(payload)]
    kind = "null" if payload is None else type(payload).__name__
    raise MalformedDelivery(f"The body is a JSON {kind}; expected an event or an array of events.")


def _looks_like_event(item: dict[str, Any]) -> bool:
    return isinstance(item.get("type"), str) or isinstance(item.get("eventType"), str)


@dataclass(frozen=True, slots=True)
class _Attributes:
    """Where one schema keeps the attributes every event has."""

    schema: Schema
    type: str
    source: str
    time: str
    source_required: bool


_CLOUDEVENTS = _Attributes("cloudevents", "type", "source", "time", source_required=True)
_EVENTGRID = _Attributes("eventgrid", "eventType", "topic", "eventTime", source_required=False)


def read_envelope(index: int, item: Any) -> Envelope:
    """Read one element; never raises: an unreadable element comes back with ``problem`` set."""
    if not isinstance(item, dict):
        return _unreadable(index, item, f"element {index} is not a JSON object")
    cloud = "specversion" in item or ("type" in item and "eventType" not in item)
    names = _CLOUDEVENTS if cloud else _EVENTGRID
    return _read_well_formed(index, item, names) or _read_carefully(index, item, names)


def _read_well_formed(index: int, item: dict[str, Any], names: _Attributes) -> Envelope | None:
    """The usual case, every attribute a string where it should be, read without collecting
    problems (a delivery holds up to 5,000 events); None sends the event down the careful path."""
    if item.get("specversion", "1.0") != "1.0":
        return None
    event_id, event_type, source = item.get("id"), item.get(names.type), item.get(names.source)
    subject, time = item.get("subject"), item.get(names.time)
    if (
        type(event_id) is str
        and event_id
        and type(event_type) is str
        and event_type
        and (
            (type(source) is str and source != "")
            if names.source_required
            else (source is None or type(source) is str)
        )
        and (subject is None or type(subject) is str)
        and (time is None or type(time) is str)
    ):
        data = item.get("data")
        return Envelope(index, names.schema, event_id, event_type, source, subject, time, data)
    return None


def _read_carefully(index: int, item: dict[str, Any], names: _Attributes) -> Envelope:
    """Read an event whose attributes are off, saying what is wrong with each."""
    required = ("id", names.type, names.source) if names.source_required else ("id", names.type)
    optional = (
        ("subject", names.time) if names.source_required else (names.source, "subject", names.time)
    )
    problems = _string_fields(item, required=required, optional=optional)
    specversion = item.get("specversion")
    if specversion is not None and specversion != "1.0":
        problems.append(f"'specversion' is {_short(repr(specversion))}, expected '1.0'")
    event_id, type_, source, time = (
        item.get("id"),
        item.get(names.type),
        item.get(names.source),
        item.get(names.time),
    )
    has_id = isinstance(event_id, str) and bool(event_id)
    return Envelope(
        index=index,
        schema=names.schema,
        id=event_id if has_id else None,
        type=type_ if isinstance(type_, str) else None,
        source=source if isinstance(source, str) else None,
        subject=item["subject"] if isinstance(item.get("subject"), str) else None,
        time=time if isinstance(time, str) else None,
        data=item.get("data"),
        problem="; ".join(problems) or None,
        fingerprint=None if has_id else _fingerprint(item),
    )


def _string_fields(
    item: dict[str, Any], *, required: tuple[str, ...], optional: tuple[str, ...]
) -> list[str]:
    problems = []
    for name in required:
        value = item.get(name)
        if value is None or value == "":
            problems.append(f"'{name}' is missing")
        elif not isinstance(value, str):
            problems.append(f"'{name}' is a {type(value).__name__}, expected a string")
    for name in optional:
        value = item.get(name)
        if value is not None and not isinstance(value, str):
            problems.append(f"'{name}' is a {type(value).__name__}, expected a string")
    return problems


def _unreadable(index: int, item: Any, problem: str) -> Envelope:
    return Envelope(index, None, None, None, None, None, None, None, problem, _fingerprint(item))


def _fingerprint(item: Any) -> str:
    """A stable digest of an event without an id, so its redelivery is recognised."""
    canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
