"""Route each event to the reader of its family; every other type is acknowledged as ignored.

The router knows each family it reads by the exact event types that belong to it
(:data:`FAMILY_OF`), and nothing else: an event is never read, nor alerted, because of how its
name ends or what its data happens to hold. A Communication Services event of a type no family
names (``IncomingCall``, ``AdvancedMessageReceived``, a Job Router job's ordinary steps, …) is
ignored with the reason said. Type strings are matched without regard to case
(``SMSDeliveryReportReceived`` has an upper-case ``SMS``; CloudEvents and Event Grid spell the
same type the same way, but nothing promises it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from handlers.events.advanced_messaging import handle_delivery_status_update
from handlers.events.call_automation import handle_call_automation
from handlers.events.call_events import handle_call_event
from handlers.events.email import handle_email_delivery_report
from handlers.events.job_router import JOB_ROUTER_FAILURES, handle_job_router_failure
from handlers.events.outcome import Family, Outcome, invalid, outcome_for
from handlers.events.sms import handle_sms_delivery_report
from handlers.inbound.envelope import Envelope
from handlers.inbound.handshake import SUBSCRIPTION_VALIDATION

ACS_PREFIX = "microsoft.communication."
SUBSCRIPTION_DELETED = "microsoft.eventgrid.subscriptiondeletedevent"

# The Call Automation events (the callbacks, and the same types through Event Grid), as the Call
# Automation documentation lists them. Each carries resultInformation, or may.
CALL_AUTOMATION_EVENTS = (
    "CallConnected",
    "CallDisconnected",
    "CallTransferAccepted",
    "CallTransferFailed",
    "ParticipantsUpdated",
    "AddParticipantSucceeded",
    "AddParticipantFailed",
    "RemoveParticipantSucceeded",
    "RemoveParticipantFailed",
    "CancelAddParticipantSucceeded",
    "CancelAddParticipantFailed",
    "MoveParticipantSucceeded",
    "MoveParticipantFailed",
    "CreateCallFailed",
    "AnswerFailed",
    "ConnectFailed",
    "PlayStarted",
    "PlayCompleted",
    "PlayFailed",
    "PlayCanceled",
    "RecognizeCompleted",
    "RecognizeFailed",
    "RecognizeCanceled",
    "ContinuousDtmfRecognitionToneReceived",
    "ContinuousDtmfRecognitionToneFailed",
    "ContinuousDtmfRecognitionStopped",
    "SendDtmfTonesCompleted",
    "SendDtmfTonesFailed",
    "HoldFailed",
    "RecordingStateChanged",
    "StartRecordingFailed",
    "TranscriptionStarted",
    "TranscriptionStopped",
    "TranscriptionUpdated",
    "TranscriptionFailed",
    "MediaStreamingStarted",
    "MediaStreamingStopped",
    "MediaStreamingFailed",
)


def _family_table(families: Mapping[Family, Iterable[str]]) -> dict[str, Family]:
    return {name.lower(): family for family, names in families.items() for name in names}


# Every event type read, by its name after "Microsoft.Communication." (lower-cased), and its family.
FAMILY_OF: dict[str, Family] = _family_table(
    {
        Family.SMS_DELIVERY: ("SMSDeliveryReportReceived",),
        Family.EMAIL_DELIVERY: ("EmailDeliveryReportReceived",),
        Family.ADVANCED_MESSAGING: ("AdvancedMessageDeliveryStatusUpdated",),
        Family.CALL_END: ("CallEnded", "CallParticipantRemoved"),
        Family.CALL_AUTOMATION: CALL_AUTOMATION_EVENTS,
        Family.JOB_ROUTER: JOB_ROUTER_FAILURES,
    }
)


def acs_event_name(event_type: str) -> str | None:
    """``Microsoft.Communication.PlayFailed`` → ``playfailed``; None for other namespaces."""
    lowered = event_type.lower()
    return lowered[len(ACS_PREFIX) :] if lowered.startswith(ACS_PREFIX) else None


def family_of(event_type: str) -> Family | None:
    """The family that reads an event type (any casing); None for a type no family names."""
    name = acs_event_name(event_type)
    return FAMILY_OF.get(name) if name is not None else None


class EventReader:
    """Reads one envelope into an Outcome. ``is_known_sms_code`` and ``action_for_event`` (which
    Call Automation action's table explains an event's failures) come from the catalog."""

    def __init__(
        self,
        is_known_sms_code: Callable[[int], bool],
        action_for_event: Callable[[str], str | None] = lambda _name: None,
    ) -> None:
        self._is_known_sms_code = is_known_sms_code
        self._action_for_event = action_for_event

    def read(self, envelope: Envelope) -> Outcome:
        if envelope.problem is not None or envelope.type is None:
            return invalid(envelope, envelope.problem or "the event has no type")
        name = acs_event_name(envelope.type)
        if name is None:
            return outcome_for(envelope, "ignored", reason=_ignored_reason(envelope.type))
        family = FAMILY_OF.get(name)
        if family is None:
            return outcome_for(envelope, "ignored", reason=_unread_reason(name))
        return self._read_as(family, envelope, name)

    def _read_as(self, family: Family, envelope: Envelope, name: str) -> Outcome:
        match family:
            case Family.SMS_DELIVERY:
                return handle_sms_delivery_report(envelope, self._is_known_sms_code)
            case Family.EMAIL_DELIVERY:
                return handle_email_delivery_report(envelope)
            case Family.ADVANCED_MESSAGING:
                return handle_delivery_status_update(envelope)
            case Family.CALL_END:
                return handle_call_event(envelope)
            case Family.CALL_AUTOMATION:
                return handle_call_automation(envelope, name, self._action_for_event)
            case Family.JOB_ROUTER:
                return handle_job_router_failure(envelope, name)


def _ignored_reason(event_type: str) -> str:
    if event_type.lower() == SUBSCRIPTION_DELETED:
        return "subscription deleted: acknowledged"
    if event_type.lower() == SUBSCRIPTION_VALIDATION:
        return "a validation event inside a batch is not a handshake: acknowledged, not answered"
    return "not a Communication Services event"


def _unread_reason(name: str) -> str:
    if name.startswith("router"):
        return (
            "a Job Router step, not a failure: only classification, scheduling failures and "
            "exceptions are read"
        )
    return "no event family acs-triage reads has this type (the README lists them)"
