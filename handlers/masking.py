"""Keep phone numbers and email addresses out of everything that leaves the source event: alerts,
logs, summaries.

Both are personal data. Operators still need to tell two apart at a glance, so a phone number
keeps its last four digits (``+15555550123`` becomes ``+*******0123``) and an email address its
first character and its domain, which says which mail system bounced it
(``jane.doe@contoso.com`` becomes ``j*******@contoso.com``). Ids are left as they are: a GUID,
an ACS user id (``8:acs:…``) or a call id is neither.
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


# An address as mail systems write it: a local part of the usual characters, '@', and a domain of
# dot-separated labels ending in a letter-only top-level label. Not inside a longer word.
_EMAIL_IN_TEXT = re.compile(
    r"(?<![\w.+-])[\w.+%'-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![\w-])"
)


def mask_email(value: str) -> str:
    """Mask one email address: its first character and its domain stay."""
    local, at, domain = value.rpartition("@")
    if not at or not local:
        return "*" * len(value)
    return local[0] + "*" * (len(local) - 1) + "@" + domain


def mask_emails_in(text: str) -> str:
    """Mask every email address inside free text."""
    return _EMAIL_IN_TEXT.sub(lambda match: mask_email(match.group(0)), text)


def mask_personal_in(text: str) -> str:
    """Mask every email address, then every phone number, inside free text (subjects, messages,
    reasons): the one call for any text an event carries. Addresses first, so that an address
    made of digits (``15555550123@example.com``) is masked as an address."""
    return mask_phones_in(mask_emails_in(text))
