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
    if not any(ch.isdigit() for ch in text):
        return text
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text)
