"""The labels of an alert: what it is about, in words a group can be formed from.

``channel`` (sms, call, email, whatsapp, router, chat, other), ``event_type`` (the ACS event's
short name), ``kind``, ``code``, ``subcode``, ``category`` and, for a call failure with a PSTN
subcode, ``origin``: ACS's PSTN troubleshooting page says a subcode starting 560 (outbound) or
540 (inbound) was produced by the operator's or the customer's session border controller,
anything else by Microsoft's service.

``country``, ``carrier`` and ``sender`` say where a message went and from which line. They are
computed here from the parties the event named (``Outcome.recipient`` and ``sender``, as
written), so that the raw values go no further: ``country`` is the recipient number's ISO 3166
region (``US``, ``GB``), ``carrier`` the network its range was allocated to, in English, as
libphonenumber's offline data knows it (a number ported since still names the first network;
where numbers are portable with no such data, all of North America, there is none), and
``sender`` the sending line masked as everywhere else (``+*******0100``; an alphanumeric
sender id, a short code or a channel id is kept). What cannot be known is ``unknown``: calls
name no party, an e-mail address has no country or carrier. Labels hold no personal data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers.masking import mask_personal_in

if TYPE_CHECKING:
    from phonenumbers import PhoneNumber

ACS_PREFIX = "Microsoft.Communication."
SBC_SUBCODE_PREFIXES = ("560", "540")
# Every label an alert can carry: what GROUP_BY and silences may name (handlers.settings keeps
# its own copy, as it imports nothing of the app; a test holds the two together).
LABEL_NAMES = (
    "channel", "event_type", "kind", "code", "subcode", "category", "origin", "country",
    "carrier", "sender",
)
UNKNOWN = "unknown"
# libphonenumber's answers that name no country: no region, "ZZ", and "001" for the
# non-geographic numbers (+800, +808, …).
_NO_REGION = frozenset({"", "ZZ", "001"})
# A label is a group's key: an event's "from" may be any text, so what is kept of it is bounded.
MAX_SENDER_CHARS = 64
# Event type names (after the prefix, lower-cased) and the channel whose messages they report.
_CHANNEL_PREFIXES = (
    ("sms", "sms"),
    ("chat", "chat"),
    ("email", "email"),
    ("advancedmessage", "whatsapp"),
    ("router", "router"),
)


def channel_of(event_type: str | None) -> str:
    name = (event_type or "").removeprefix(ACS_PREFIX).lower()
    for prefix, channel in _CHANNEL_PREFIXES:
        if name.startswith(prefix):
            return channel
    if not name:
        return "other"
    return "call" if event_type and event_type.startswith(ACS_PREFIX) else "other"


def labels_for(
    *,
    event_type: str | None,
    kind: str,
    code: int | None,
    subcode: int | None,
    category: str | None,
    recipient: str | None = None,
    sender: str | None = None,
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
    country, carrier = number_labels(recipient)
    labels.update(country=country, carrier=carrier, sender=sender_label(sender))
    return labels


def number_labels(number: str | None) -> tuple[str, str]:
    """The country (ISO 3166 region) and carrier of a phone number, ``unknown`` for either
    where the number (or the number plan) does not say, or the text is not a number."""
    parsed = _parsed(number)
    if parsed is None:
        return UNKNOWN, UNKNOWN
    return _country(parsed), _carrier(parsed)


def sender_label(sender: str | None) -> str:
    """The sending line as it may leave: masked by the app's one masking, bounded."""
    text = (sender or "").strip()
    if not text:
        return UNKNOWN
    masked = mask_personal_in(text)
    return masked if len(masked) <= MAX_SENDER_CHARS else masked[: MAX_SENDER_CHARS - 1] + "…"


def _parsed(number: str | None) -> PhoneNumber | None:
    """The number as libphonenumber reads it: E.164, with or without its '+' (the way ACS
    writes a party); anything else (an address, a channel id, a name) is not a number here."""
    text = (number or "").strip()
    if text.isascii() and text.isdigit():
        text = "+" + text
    if not text.startswith("+") or "@" in text:
        return None
    # Imported on the first alert that names a recipient, never at cold start.
    import phonenumbers

    try:
        return phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None


def _country(parsed: PhoneNumber) -> str:
    import phonenumbers

    # For a country code that one region uses alone, the region even when the range is not
    # allocated: the country is certain where the carrier is not.
    region = phonenumbers.region_code_for_number(parsed) or ""
    return UNKNOWN if region in _NO_REGION else region


def _carrier(parsed: PhoneNumber) -> str:
    # The carrier data (a module per country code) is the heaviest part of the library: loaded
    # only when a label needs it.
    from phonenumbers import carrier

    return carrier.name_for_number(parsed, "en") or UNKNOWN
