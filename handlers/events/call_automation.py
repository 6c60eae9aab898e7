"""Call Automation callbacks: ``CallDisconnected``, every ``*Failed`` and ``*Completed`` event.

The code lives in ``data.resultInformation`` (``code``, ``subCode``, ``message``, and optionally
``sipDetails`` / ``q850Details``), which is optional on every event: several published payloads
lack it. A ``*Failed`` event without it is still a failure, one with no code to explain it.
A ``CallDisconnected`` with a 2xx code (200/0, 200/7015) is a normal hang-up.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from catalog.models import Domain
from handlers.events.outcome import CodeOrigin, EventModel, Outcome, outcome_for, read_data
from handlers.inbound.envelope import Envelope


class Details(EventModel):
    """``sipDetails`` / ``q850Details``: the SIP response or Q.850 cause behind a result."""

    code: int | None = None
    message: str | None = None


class ResultInformation(EventModel):
    model_config = ConfigDict(populate_by_name=True)

    code: int | None = None
    sub_code: int | None = Field(default=None, alias="subCode")
    message: str | None = None
    sip_details: Details | None = Field(default=None, alias="sipDetails")
    q850_details: Details | None = Field(default=None, alias="q850Details")


class CallAutomationData(EventModel):
    model_config = ConfigDict(populate_by_name=True)

    call_connection_id: str | None = Field(default=None, alias="callConnectionId")
    server_call_id: str | None = Field(default=None, alias="serverCallId")
    correlation_id: str | None = Field(default=None, alias="correlationId")
    operation_context: str | None = Field(default=None, alias="operationContext")
    result_information: ResultInformation | None = Field(default=None, alias="resultInformation")


def is_failure_type(event_name: str) -> bool:
    """``CreateCallFailed``, ``PlayFailed``, … (the name after ``Microsoft.Communication.``)."""
    return event_name.lower().endswith("failed")


def handle_call_automation(envelope: Envelope, event_name: str) -> Outcome:
    data = read_data(envelope, CallAutomationData)
    if isinstance(data, Outcome):
        return data
    result = data.result_information
    return outcome_for(
        envelope,
        "ok",
        domain=Domain.CALL_AUTOMATION,
        code=result.code if result else None,
        subcode=result.sub_code if result else None,
        code_origin=CodeOrigin.RESULT_INFORMATION if result and result.code is not None else None,
        failed=is_failure_type(event_name),
        message=result.message if result and result.message else None,
        context=_context(data),
    )


def _context(data: CallAutomationData) -> dict[str, Any]:
    context: dict[str, Any] = {
        "callConnectionId": data.call_connection_id,
        "serverCallId": data.server_call_id,
        "correlationId": data.correlation_id,
        "operationContext": data.operation_context,
    }
    result = data.result_information
    if result and result.sip_details:
        context["sipDetails"] = _details(result.sip_details)
    if result and result.q850_details:
        context["q850Details"] = _details(result.q850_details)
    return context


def _details(details: Details) -> dict[str, Any]:
    return {"code": details.code, "message": details.message}
