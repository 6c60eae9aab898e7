"""A delivery body read by typed records in one pass, or not at all.

Every record forbids fields it does not name, and no field is left unread except each event's
``data``, which its family's record then reads whole. So every string of an accepted body was
decoded (valid UTF-8, no lone surrogate), every number checked against its type and range, and
the nesting is bounded by the records: nothing the careful path refuses (``decode_body``) can be
accepted here. Anything else (a key spelled otherwise, a value of another type, an extension
attribute, an event type no record covers) is not an error here: the event, or the body, goes to
the careful path, which says what is wrong with it.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

# Every record is frozen and holds only decoded values, so none can be part of a reference cycle:
# ``gc=False`` keeps the thousands a delivery makes out of the garbage collector's sight.
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
Count = Annotated[int, msgspec.Meta(ge=0)]


class EventGridEvent(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """An element of an Event Grid schema delivery, as the careful path reads it without remark."""

    id: NonEmpty
    eventType: NonEmpty  # noqa: N815 - the schema's own spelling
    data: msgspec.Raw
    topic: str | None = None
    subject: str | None = None
    eventTime: str | None = None  # noqa: N815
    dataVersion: str | None = None  # noqa: N815
    metadataVersion: str | None = None  # noqa: N815

    @property
    def source(self) -> str | None:
        return self.topic

    @property
    def type(self) -> str:
        return self.eventType

    @property
    def time(self) -> str | None:
        return self.eventTime


class CloudEvent(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """A CloudEvents 1.0 element (no extension attributes: those take the careful path)."""

    id: NonEmpty
    source: NonEmpty
    type: NonEmpty
    data: msgspec.Raw
    specversion: Literal["1.0"] = "1.0"
    subject: str | None = None
    time: str | None = None
    datacontenttype: str | None = None
    dataschema: str | None = None


# ---- each family's data, as published (camelCase); the careful path reads every other spelling


class SmsAttempt(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    timestamp: str | None = None
    segmentsSucceeded: Count | None = None  # noqa: N815
    segmentsFailed: Count | None = None  # noqa: N815


class SmsData(
    msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False, rename={"from_": "from"}
):
    deliveryStatus: NonEmpty  # noqa: N815
    messageId: str | None = None  # noqa: N815
    from_: str | None = None
    to: str | None = None
    deliveryStatusDetails: str | None = None  # noqa: N815
    deliveryAttempts: list[SmsAttempt] = []  # noqa: N815 - msgspec copies defaults
    receivedTimestamp: str | None = None  # noqa: N815
    tag: str | None = None

    @property
    def failed_segments(self) -> bool:
        """Whether any attempt failed a segment (a plain loop: this runs for every report)."""
        for attempt in self.deliveryAttempts:  # noqa: SIM110 - any() and its generator cost more
            if attempt.segmentsFailed:
                return True
        return False


class Details(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    code: int | None = None
    message: str | None = None


class ResultInformation(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    code: int | None = None
    subCode: int | None = None  # noqa: N815
    message: str | None = None
    sipDetails: Details | None = None  # noqa: N815
    q850Details: Details | None = None  # noqa: N815


class CallAutomationData(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    callConnectionId: str | None = None  # noqa: N815
    serverCallId: str | None = None  # noqa: N815
    correlationId: str | None = None  # noqa: N815
    operationContext: str | None = None  # noqa: N815
    resultInformation: ResultInformation | None = None  # noqa: N815
    # Published with the event, read by no one: named so that their presence is no oddity.
    type: str | None = None
    version: str | None = None
    publicEventType: str | None = None  # noqa: N815


class IdHolder(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    id: str | None = None


class EndReason(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    code: int | None = None
    subCode: int | None = None  # noqa: N815
    phrase: str | None = None


class CallEventData(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    serverCallId: str | None = None  # noqa: N815
    correlationId: str | None = None  # noqa: N815
    group: IdHolder | None = None
    room: IdHolder | None = None
    isTwoParty: bool | None = None  # noqa: N815
    isRoomsCall: bool | None = None  # noqa: N815
    callDurationInSeconds: float | None = None  # noqa: N815
    reason: EndReason | None = None


FamilyData = SmsData | CallAutomationData | CallEventData
Envelope = EventGridEvent | CloudEvent

EVENTGRID_BATCH = msgspec.json.Decoder(list[EventGridEvent])
CLOUDEVENTS_BATCH = msgspec.json.Decoder(list[CloudEvent])
SMS = msgspec.json.Decoder(SmsData)
CALL_AUTOMATION = msgspec.json.Decoder(CallAutomationData)
CALL_EVENT = msgspec.json.Decoder(CallEventData)


def decode_batch(body: bytes) -> list[EventGridEvent] | list[CloudEvent] | None:
    """The body as an array of strict envelopes of one schema; None when it is not one."""
    for decoder in (EVENTGRID_BATCH, CLOUDEVENTS_BATCH):
        try:
            events: list[EventGridEvent] | list[CloudEvent] = decoder.decode(body)
        except (msgspec.MsgspecError, ValueError, RecursionError):  # UTF-8 errors are ValueErrors
            continue
        return events
    return None

