"""AdvancedMessageDeliveryStatusUpdated: a WhatsApp message's delivery status.

``data.status`` is ``sent``, ``delivered``, ``read`` or ``failed`` (any casing); a failed message
carries ``error {channelCode, channelMessage}``, the channel's own error code (Meta's WhatsApp
Cloud API codes, published as a string: ``"131026"``) and its words. A failure is looked up by its
channel code in the catalog's whatsapp-channel table; a code the table lacks is an unknown code,
and a failure whose code is missing or not a number is a failure with no code (the raw value is
kept in the context). An error on a status other than ``failed`` is not read: the message got
through. ``to`` is the recipient's phone number and ``from`` the channel's registration id; like
every text of an event, they are masked where they leave the app. Keys are read in camelCase or
PascalCase.
"""

from __future__ import annotations

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

FAILED = "failed"


class ChannelError(EventModel):
    # A string in every published payload; a number is read as its digits.
    channel_code: str | int | None = Field(default=None, validation_alias=spellings("channelCode"))
    channel_message: str | None = Field(default=None, validation_alias=spellings("channelMessage"))


class DeliveryStatusUpdate(EventModel):
    message_id: str | None = Field(default=None, validation_alias=spellings("messageId"))
    status: str = Field(min_length=1, validation_alias=spellings("status"))
    channel_type: str | None = Field(default=None, validation_alias=spellings("channelType"))
    sender: str | None = Field(default=None, validation_alias=spellings("from"))
    recipient: str | None = Field(default=None, validation_alias=spellings("to"))
    received: str | None = Field(default=None, validation_alias=spellings("receivedTimestamp"))
    error: ChannelError | None = Field(default=None, validation_alias=spellings("error"))


def handle_delivery_status_update(envelope: Envelope) -> Outcome:
    update = read_data(envelope, DeliveryStatusUpdate)
    if isinstance(update, Outcome):
        return update
    failed = update.status.strip().lower() == FAILED
    error = update.error if failed else None
    code = channel_code(error)
    return outcome_for(
        envelope,
        "ok",
        domain=Domain.ADVANCED_MESSAGING,
        family=Family.ADVANCED_MESSAGING,
        code=code,
        code_origin=CodeOrigin.CHANNEL_CODE if code is not None else None,
        failed=failed,
        message=error.channel_message if error else None,
        context=_context(update, error, code),
        recipient=update.recipient,
        sender=update.sender,
    )


def channel_code(error: ChannelError | None) -> int | None:
    """The channel code as a number; None when there is none or it is not a number."""
    raw = error.channel_code if error else None
    if isinstance(raw, int):
        return raw if raw >= 0 else None
    text = (raw or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def _context(
    update: DeliveryStatusUpdate, error: ChannelError | None, code: int | None
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "messageId": update.message_id,
        "status": update.status,
        "channelType": update.channel_type,
        "from": update.sender,
        "to": update.recipient,
        "receivedTimestamp": update.received,
    }
    if error is not None and code is None and error.channel_code is not None:
        context["channelCode"] = str(error.channel_code)  # as given: not a number
    return context
