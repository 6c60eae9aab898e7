"""The one CloudEvent 1.0 representation, and its one serialisation, for every destination.

The alert file writes one event per line, the webhook posts a JSON array of them, and the
Event Grid topic is handed the same JSON objects (its SDK accepts CloudEvents as dicts).
Structured mode, ``application/json`` data; optional attributes are left out, never null.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    SerializerFunctionWrapHandler,
    model_serializer,
)

DataT = TypeVar("DataT", bound=BaseModel)
OPTIONAL_ATTRIBUTES = ("subject", "time")


def rfc3339_or_none(value: str | None) -> str | None:
    """``value`` when it is an RFC 3339 timestamp; a naive one is read as UTC; else None.

    The source event's time is copied as written; a CloudEvent's ``time`` must be RFC 3339, or
    a destination such as Event Grid refuses the whole request. What was written is not lost:
    the alert's data keeps the source event's time as it came.
    """
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")
    return value


class CloudEvent(BaseModel, Generic[DataT]):
    """A CloudEvents 1.0 event with JSON data of type ``DataT``."""

    model_config = ConfigDict(frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str
    type: str
    source: str
    subject: str | None = None
    time: Annotated[str | None, AfterValidator(rfc3339_or_none)] = None
    datacontenttype: Literal["application/json"] = "application/json"
    data: DataT

    @model_serializer(mode="wrap")
    def _leave_out_empty_optionals(self, handler: SerializerFunctionWrapHandler) -> Any:
        event = handler(self)
        for name in OPTIONAL_ATTRIBUTES:
            if not event.get(name):
                event.pop(name, None)
        return event

    def to_dict(self) -> dict[str, Any]:
        """The structured-mode JSON object."""
        return self.model_dump(mode="json")

    def to_json(self) -> bytes:
        """The structured-mode JSON text: compact, UTF-8 (not \\u-escaped)."""
        return self.model_dump_json().encode("utf-8")


def json_lines(events: Iterable[CloudEvent[Any]]) -> bytes:
    """JSON Lines: one event per line, each line ended."""
    return b"".join(event.to_json() + b"\n" for event in events)


def json_batch(events: Iterable[CloudEvent[Any]]) -> bytes:
    """A CloudEvents JSON batch (``application/cloudevents-batch+json``): a JSON array."""
    return b"[" + b",".join(event.to_json() for event in events) + b"]"
