"""Call Automation callbacks: every event of the family the router names (``CallConnected``,
``CallDisconnected``, every ``*Failed``, ``*Completed``, ``*Canceled`` …).

The code lives in ``data.resultInformation`` (``code``, ``subCode``, ``message``, and optionally
``sipDetails`` / ``q850Details``, the SIP response and Q.850 cause behind a result), which is
optional on every event: several published payloads lack it, and current API versions add it
(200/0) to ``CallConnected``, ``ParticipantsUpdated``, ``PlayStarted`` and the transcription
events. Its keys are read in camelCase (the callbacks) or PascalCase (as ACS's own
troubleshooting page writes them, and .NET serializes them). A ``*Failed`` event without a result
is still a failure, one with no code to explain it. A ``CallDisconnected`` with a 2xx code (200/0,
200/7015) is a normal hang-up.

The event's action (``PlayFailed`` → play, …) is passed on, so that the catalog reads that
action's table before the generic ones; which events belong to which action is the catalog's
knowledge (``action_for_event``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from catalog.models import Domain
from handlers.events.outcome import (
    CodeOrigin,
    EventModel,
    Family,
    Outcome,
    outcome_for,
    read_data,
    spellings,
)
from handlers.inbound.envelope import Envelope


class Details(EventModel):
    """``sipDetails`` / ``q850Details``: the SIP response or Q.850 cause behind a result."""

    code: int | None = Field(default=None, validation_alias=spellings("code"))
    message: str | None = Field(default=None, validation_alias=spellings("message"))


class ResultInformation(EventModel):
    code: int | None = Field(default=None, validation_alias=spellings("code"))
    sub_code: int | None = Field(default=None, validation_alias=spellings("subCode"))
    message: str | None = Field(default=None, validation_alias=spellings("message"))
    sip_details: Details | None = Field(default=None, validation_alias=spellings("sipDetails"))
    q850_details: Details | None = Field(default=None, validation_alias=spellings("q850Details"))


class CallAutomationData(EventModel):
    call_connection_id: str | None = Field(
        default=None, validation_alias=spellings("callConnectionId")
    )
    server_call_id: str | None = Field(default=None, validation_alias=spellings("serverCallId"))
    correlation_id: str | None = Field(default=None, validation_alias=spellings("correlationId"))
    operation_context: str | None = Field(
        default=None, validation_alias=spellings("operationContext")
    )
    result_information: ResultInformation | None = Field(
        default=None, validation_alias=spellings("resultInformation")
    )


def is_failure_type(event_name: str) -> bool:
    """``CreateCallFailed``, ``PlayFailed``, … (the name after ``Microsoft.Communication.``)."""
    return event_name.lower().endswith("failed")


def handle_call_automation(
    envelope: Envelope, event_name: str, action_for_event: Callable[[str], str | None]
) -> Outcome:
    data = read_data(envelope, CallAutomationData)
    if isinstance(data, Outcome):
        return data
    result = data.result_information
    action = action_for_event(event_name)
    return outcome_for(
        envelope,
        "ok",
        domain=Domain.CALL_AUTOMATION,
        family=Family.CALL_AUTOMATION,
        action=action,
        code=result.code if result else None,
        subcode=result.sub_code if result else None,
        code_origin=CodeOrigin.RESULT_INFORMATION if result and result.code is not None else None,
        failed=is_failure_type(event_name),
        message=result.message if result else None,
        context=_context(data, action),
    )


def _context(data: CallAutomationData, action: str | None) -> dict[str, Any]:
    context: dict[str, Any] = {
        "callConnectionId": data.call_connection_id,
        "serverCallId": data.server_call_id,
        "correlationId": data.correlation_id,
        "operationContext": data.operation_context,
    }
    if action is not None:
        context["action"] = action
    result = data.result_information
    if result and result.sip_details:
        context["sipDetails"] = _details(result.sip_details)
    if result and result.q850_details:
        context["q850Details"] = _details(result.q850_details)
    return context


def _details(details: Details) -> dict[str, Any]:
    return {"code": details.code, "message": details.message}
