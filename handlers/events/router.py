"""Route each event to the handler of its family; every other type is acknowledged as ignored.

Type strings are matched without regard to case (``SMSDeliveryReportReceived`` has an upper-case
``SMS``; CloudEvents and Event Grid spell the same type the same way, but nothing promises it).
"""

from __future__ import annotations

from collections.abc import Callable

from handlers.events.call_automation import handle_call_automation
from handlers.events.call_events import handle_call_event
from handlers.events.outcome import Outcome, invalid, outcome_for
from handlers.events.sms import handle_sms_delivery_report
from handlers.inbound.envelope import Envelope
from handlers.inbound.handshake import SUBSCRIPTION_VALIDATION

ACS_PREFIX = "microsoft.communication."
SUBSCRIPTION_DELETED = "microsoft.eventgrid.subscriptiondeletedevent"

SMS_DELIVERY_REPORT = "smsdeliveryreportreceived"
CALL_EVENTS = frozenset({"callended", "callparticipantremoved"})
# The Call Automation events that carry a result (docs/delivery-protocol.md); any other ACS
# event whose name ends in Failed/Completed, or that carries resultInformation, is read the same
# way.
CALL_AUTOMATION_EVENTS = frozenset(
    name.lower()
    for name in (
        "CallDisconnected",
        "CreateCallFailed",
        "AnswerFailed",
        "ConnectFailed",
        "AddParticipantFailed",
        "RemoveParticipantFailed",
        "MoveParticipantFailed",
        "CancelAddParticipantFailed",
        "CallTransferFailed",
        "PlayFailed",
        "RecognizeFailed",
        "ContinuousDtmfRecognitionToneFailed",
        "SendDtmfTonesFailed",
        "HoldFailed",
        "TranscriptionFailed",
        "MediaStreamingFailed",
        "StartRecordingFailed",
    )
)


def acs_event_name(event_type: str) -> str | None:
    """``Microsoft.Communication.PlayFailed`` → ``playfailed``; None for other namespaces."""
    lowered = event_type.lower()
    return lowered[len(ACS_PREFIX) :] if lowered.startswith(ACS_PREFIX) else None


def is_call_automation(name: str, data: object) -> bool:
    if name in CALL_AUTOMATION_EVENTS or name.endswith(("failed", "completed")):
        return True
    return isinstance(data, dict) and "resultInformation" in data


class EventReader:
    """Reads one envelope into an Outcome. ``is_known_sms_code`` comes from the catalog."""

    def __init__(self, is_known_sms_code: Callable[[int], bool]) -> None:
        self._is_known_sms_code = is_known_sms_code

    def read(self, envelope: Envelope) -> Outcome:
        if envelope.problem is not None or envelope.type is None:
            return invalid(envelope, envelope.problem or "the event has no type")
        name = acs_event_name(envelope.type)
        if name is None:
            return outcome_for(envelope, "ignored", reason=_ignored_reason(envelope.type))
        if name == SMS_DELIVERY_REPORT:
            return handle_sms_delivery_report(envelope, self._is_known_sms_code)
        if name in CALL_EVENTS:
            return handle_call_event(envelope)
        if is_call_automation(name, envelope.data):
            return handle_call_automation(envelope, name)
        return outcome_for(envelope, "ignored", reason="no failure code in this event type")


def _ignored_reason(event_type: str) -> str:
    if event_type.lower() == SUBSCRIPTION_DELETED:
        return "subscription deleted: acknowledged"
    if event_type.lower() == SUBSCRIPTION_VALIDATION:
        return "a validation event inside a batch is not a handshake: acknowledged, not answered"
    return "not a Communication Services event"
