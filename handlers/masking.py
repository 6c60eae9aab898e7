"""Keep phone numbers and e-mail addresses out of everything that leaves the app: alerts,
summaries, logs, problems.

A phone number is personal data. Operators still need to tell two numbers apart at a glance,
so the last four digits stay: ``+15555550123`` becomes ``+*******0123``, and a formatted
``(555) 049-4321`` becomes ``(***) ***-4321``.

Numbers inside free text are found by ``phonenumbers`` (Google's libphonenumber), which knows
the shapes people and systems write: international (``+44 20 7123 4567``), North American
national (``(555) 049-4321``, ``555.061.4321``), glued to a word (``to15550254321``,
``msisdn_15550254321``), with an extension; and which leaves dates and times alone. It is
asked for *possible* numbers, not *valid* ones, because test and fictitious ranges (555) are
numbers too. What it cannot place without a country — a bare run of 7 to 15 digits such as
the ``442071234567`` of an SMS subject, E.164 without its ``+`` — is masked as well.

Masking runs only on what leaves, and only on text with at least seven digits: most text has
fewer and never reaches the library, whose import (about 100 ms) waits for the first text that
needs it. Ids are not free text: callers keep them verbatim (correlation keys).

An e-mail address keeps its first character and its domain, which says which mail system bounced
it (``jane.doe@contoso.com`` becomes ``j*******@contoso.com``).
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable

KEEP_DIGITS = 4
MIN_PHONE_DIGITS = 7
# Without a country code, numbers are read as North American, the shapes ACS text carries.
DEFAULT_REGION = "US"

# Seven digits anywhere, whatever lies between them (\d is any Unicode digit, as in the library).
_ENOUGH_DIGITS = re.compile(rf"\d(?:\D*\d){{{MIN_PHONE_DIGITS - 1}}}")
# A GUID is an id, never a phone number, though its last group may hold ten digits in a row
# ('…-9e2641433687'): subjects such as 'calling/callConnections/<guid>' keep their ids whole.
_GUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
# A bare run of 7 to 15 digits (E.164 allows 15) not part of a longer run; an 18-digit id is not
# a phone number, a word before it (``to``, ``msisdn_``) does not hide one, and the fraction of a
# decimal number is not one either (Event Grid times carry seven: ``10:00:00.2855749Z``).
_DIGIT_RUN = re.compile(r"(?<![\d+])(?<!\d\.)\+?\d{7,15}(?!\d)")


def mask_phone(value: str) -> str:
    """Mask one phone number, keeping a leading '+', separators and the last four digits."""
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


def may_hold_phone_number(text: str) -> bool:
    """The cheap pre-check: text with fewer than seven digits holds no phone number."""
    return _ENOUGH_DIGITS.search(text) is not None


def mask_phones_in(text: str) -> str:
    """Mask every phone number inside free text (subjects, messages, phrases, tags); GUIDs in
    it stay whole."""
    if not may_hold_phone_number(text):
        return text
    pieces = []
    last = 0
    for guid in _GUID.finditer(text):
        pieces.append(_mask_numbers(text[last : guid.start()]))
        pieces.append(guid.group(0))
        last = guid.end()
    pieces.append(_mask_numbers(text[last:]))
    return "".join(pieces)


def _mask_numbers(text: str) -> str:
    if not may_hold_phone_number(text):
        return text
    masked = _replace_spans(text, _library_spans()(text))
    return _DIGIT_RUN.sub(_mask_match, masked)


def _replace_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    parts = []
    last = 0
    for start, end in spans:
        # The library takes seven decimals, or a time's seconds and fraction, for a number.
        if _is_fraction(text, start) or _is_seconds(text, start, end):
            continue
        parts.append(text[last:start])
        parts.append(mask_phone(text[start:end]))
        last = end
    parts.append(text[last:])
    return "".join(parts)


def _is_fraction(text: str, start: int) -> bool:
    """Whether the digits at ``start`` follow a decimal point (``10:00:00.2855749``)."""
    return start >= 2 and text[start - 1] == "." and text[start - 2].isdigit()


_SECONDS = re.compile(r"\d{2}\.\d+")


def _is_seconds(text: str, start: int, end: int) -> bool:
    """Whether the span is a time's seconds and their fraction (``16:31:13.320981``), which
    the library reads as a local number. A raw ACS id such as ``4:+15555550123`` is not."""
    after_minutes = start >= 3 and text[start - 1] == ":" and text[start - 3 : start - 1].isdigit()
    return after_minutes and _SECONDS.fullmatch(text, start, end) is not None


def _mask_match(match: re.Match[str]) -> str:
    return mask_phone(match.group(0))


@cache
def _library_spans() -> Callable[[str], Iterable[tuple[int, int]]]:
    """The library's finder, imported on first use: most processes never need it."""
    from phonenumbers import Leniency, PhoneNumberMatcher

    def spans(text: str) -> Iterable[tuple[int, int]]:
        for found in PhoneNumberMatcher(text, DEFAULT_REGION, leniency=Leniency.POSSIBLE):
            yield found.start, found.end

    return spans


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


def mask_leaving(value: Any, ids: Collection[str] = frozenset(), key: str | None = None) -> Any:
    """A value as it may leave the app, through dicts, lists and tuples: every text masked but
    those under a key named in ``ids`` (correlation keys, kept verbatim), and a non-finite
    number, which no reader of JSON takes, as None. Alerts and the on-call views both leave
    through it."""
    if isinstance(value, str):
        return value if key in ids else mask_personal_in(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {name: mask_leaving(item, ids, name) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_leaving(item, ids) for item in value]
    return value
