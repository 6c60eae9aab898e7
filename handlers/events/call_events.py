"""``CallEnded`` / ``CallParticipantRemoved`` (Event Grid): ``data.reason {code, subCode, phrase}``.

The reason is only in the newer schema; older payloads carry just ``durationOfCall``, so an event
without it is acknowledged with nothing to triage. The codes are those of the Calling SDK's
``callEndReason``, so the call-end tables explain them. Public examples carry placeholder
values (``{"code": 1, "subCode": 1}``): an unknown code is reported as unknown, never guessed.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from catalog.models import Domain
from handlers.events.outcome import (
    CodeOrigin,
    EventModel,
    Family,
    Outcome,
    outcome_for,
    read_data,
)
from handlers.inbound.envelope import Envelope


class EndReason(EventModel):
    model_config = ConfigDict(populate_by_name=True)

    code: int | None = None
    sub_code: int | None = Field(default=None, alias="subCode")
    phrase: str | None = None


class IdHolder(EventModel):
    id: str | None = None


class CallEventData(EventModel):
    model_config = ConfigDict(populate_by_name=True)

    server_call_id: str | None = Field(default=None, alias="serverCallId")
    correlation_id: str | None = Field(default=None, alias="correlationId")
    group: IdHolder | None = None
    room: IdHolder | None = None
    is_two_party: bool | None = Field(default=None, alias="isTwoParty")
    is_rooms_call: bool | None = Field(default=None, alias="isRoomsCall")
    call_duration_in_seconds: float | None = Field(default=None, alias="callDurationInSeconds")
    reason: EndReason | None = None


def handle_call_event(envelope: Envelope) -> Outcome:
    data = read_data(envelope, CallEventData)
    if isinstance(data, Outcome):
        return data
    reason = data.reason
    return outcome_for(
        envelope,
        "ok",
        domain=Domain.CALL_END,
        family=Family.CALL_END,
        code=reason.code if reason else None,
        subcode=reason.sub_code if reason else None,
        code_origin=CodeOrigin.REASON if reason and reason.code is not None else None,
        message=reason.phrase if reason and reason.phrase else None,
        context=_context(data),
    )


def _context(data: CallEventData) -> dict[str, Any]:
    return {
        "serverCallId": data.server_call_id,
        "correlationId": data.correlation_id,
        "groupId": data.group.id if data.group else None,
        "roomId": data.room.id if data.room else None,
        "callDurationInSeconds": data.call_duration_in_seconds,
    }
