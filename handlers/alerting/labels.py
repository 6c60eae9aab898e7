"""The labels of an alert: what it is about, in words a group can be formed from.

``channel`` (sms, call, email, whatsapp, router, chat, other), ``event_type`` (the ACS event's
short name), ``kind``, ``code``, ``subcode``, ``category`` and, for a call failure with a PSTN
subcode, ``origin``: ACS's PSTN troubleshooting page says a subcode starting 560 (outbound) or
540 (inbound) was produced by the operator's or the customer's session border controller,
anything else by Microsoft's service. Labels hold no personal data: they are built from codes
and types only.
"""

from __future__ import annotations

ACS_PREFIX = "Microsoft.Communication."
SBC_SUBCODE_PREFIXES = ("560", "540")


# The short event type's start → its channel, first match wins. Advanced messaging is
# WhatsApp's (the only channel ACS sends through it); Job Router's events are all ``Router*``.
# Any other Communication Services event is a call's (Call Automation, call ends, recording).
CHANNEL_PREFIXES = (
    ("sms", "sms"),
    ("chat", "chat"),
    ("email", "email"),
    ("advancedmessage", "whatsapp"),
    ("router", "router"),
)


def channel_of(event_type: str | None) -> str:
    name = (event_type or "").removeprefix(ACS_PREFIX).lower()
    if not name:
        return "other"
    for prefix, channel in CHANNEL_PREFIXES:
        if name.startswith(prefix):
            return channel
    return "call" if event_type and event_type.startswith(ACS_PREFIX) else "other"


def labels_for(
    *,
    event_type: str | None,
    kind: str,
    code: int | None,
    subcode: int | None,
    category: str | None,
) -> dict[str, str]:
    channel = channel_of(event_type)
    labels = {
        "channel": channel,
        "event_type": (event_type or "unknown").removeprefix(ACS_PREFIX),
        "kind": kind,
        "code": "none" if code is None else str(code),
        "subcode": "none" if subcode is None else str(subcode),
        "category": category or "none",
    }
    if channel == "call" and subcode is not None and code is not None and code >= 400:
        sbc = str(subcode).startswith(SBC_SUBCODE_PREFIXES)
        labels["origin"] = "sbc" if sbc else "microsoft"
    return labels

