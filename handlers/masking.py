"""Keep phone numbers out of everything that leaves the source event: alerts, logs, summaries.

A phone number is personal data. Operators still need to tell two numbers apart at a glance,
so the last four digits stay: ``+15555550123`` becomes ``+*******0123``.
"""

from __future__ import annotations

import re

KEEP_DIGITS = 4

# A run of 7 to 15 digits (E.164 allows 15), optionally after '+', not part of a longer token
# such as a GUID or an id like 'Outgoing_2020091800...'.
_PHONE_IN_TEXT = re.compile(r"(?<![\w+-])\+?\d{7,15}(?![\w-])")


def mask_phone(value: str) -> str:
    """Mask one phone number, keeping a leading '+' and the last four digits."""
    plus = value[:1] == "+"
    digits = value[1:] if plus else value
    if digits.isdigit():  # an E.164 number, nearly always: no per-character loop
        if len(digits) <= KEEP_DIGITS:
            return "*" * len(value)
        hidden = "*" * (len(digits) - KEEP_DIGITS)
        return ("+" if plus else "") + hidden + digits[-KEEP_DIGITS:]
    return _mask_formatted(value)


def _mask_formatted(value: str) -> str:
    """Any other text: every digit but the last four masked, other characters kept."""
    digits = sum(ch.isdigit() for ch in value)
    if digits <= KEEP_DIGITS:
        return "*" * len(value)
    keep_from = len(value)
    kept = 0
    while keep_from > 0 and kept < KEEP_DIGITS:
        keep_from -= 1
        if value[keep_from].isdigit():
            kept += 1
    head = "".join("*" if ch.isdigit() else ch for ch in value[:keep_from])
    return head + value[keep_from:]


def mask_phones_in(text: str) -> str:
    """Mask every phone-number-like run inside free text (subjects, messages)."""
    return _PHONE_IN_TEXT.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    return mask_phone(match.group(0))


# local@domain: the local part is the person; the domain stays, it tells tenants apart.
_EMAIL_IN_TEXT = re.compile(
    r"\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b"
)


def mask_emails_in(text: str) -> str:
    """Mask every e-mail address in free text: ``jane.doe@contoso.com`` → ``j***@contoso.com``."""
    return _EMAIL_IN_TEXT.sub(r"\1***@\2", text)
