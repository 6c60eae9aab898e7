"""What can go wrong with a request, in the domain's words: no HTTP status lives here.

Everything below the HTTP room raises these; ``handlers/http/problems.py`` holds the one table
that turns each into a status, an RFC 9457 problem type and headers. ``detail`` is shown to the
caller, so it never carries a secret, a token, a phone number or an e-mail address.
"""

from __future__ import annotations

from handlers.masking import mask_personal_in


class TriageError(Exception):
    """A request acs-triage refuses, or cannot serve right now.

    ``retry_after`` (seconds) is set when the sender should come back later.
    """

    def __init__(self, detail: str, *, retry_after: int | None = None) -> None:
        # Some details quote the input (a number out of range): masked here, once for every
        # reader (the problem answer, the log line, the CLI).
        detail = mask_personal_in(detail)
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


# --- the sender's fault: retrying the same request can never succeed --------------------------


class MalformedDelivery(TriageError, ValueError):
    """The body is not an event delivery (not UTF-8, not JSON, no event in it)."""


class InvalidHandshake(MalformedDelivery):
    """A handshake that cannot be answered (no validation code, no origin)."""


class DeliveryTooLarge(TriageError):
    """The body, or its number of events, is over the limit."""

    @classmethod
    def body(cls, size: int, limit: int) -> DeliveryTooLarge:
        # Thousands separated: a bare seven-digit count reads as a phone number, and is masked.
        return cls(f"The body is {size:,} bytes; the limit is {limit:,}.")


class TopicNotAllowed(TriageError):
    """An event or a validation comes from a topic outside the allow-list."""


class TokenRejected(TriageError):
    """A Call Automation callback without a valid JWT."""


class InvalidCodeQuery(TriageError, ValueError):
    """A ``/api/codes`` query the catalog cannot read."""


class InvalidSilence(TriageError, ValueError):
    """A silence that cannot be made or expired as asked: no matcher, an unknown label, no
    comment, a bad duration."""


class UnknownCode(TriageError, LookupError):
    """A code the catalog cannot explain."""


class UnknownSilence(TriageError, LookupError):
    """No silence has this id."""


# --- ours: the sender should deliver again later ----------------------------------------------

RETRY_AFTER_SECONDS = 30


class SigningKeysUnavailable(TriageError):
    """The callback signing keys could not be fetched: we cannot tell good tokens from bad."""


class KeyIdNotYetKnown(SigningKeysUnavailable):
    """A token names a key id missing from the cached keys, which may not be fetched again yet.

    It may be a key published since the last fetch, so the caller is told to come back (a 401
    would lose a good callback: senders do not retry it).
    """


class StateUnavailable(TriageError):
    """The state store could not be read or written: without it an alert could go out twice."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(
            detail or "The state store is unavailable; without it an alert could be sent twice.",
            retry_after=RETRY_AFTER_SECONDS,
        )


# Event Grid retries on its own schedule (10 s, 30 s, 1 min, ...); the hint is for other senders.
IN_PROGRESS_RETRY_AFTER_SECONDS = 10


class EventsInProgress(TriageError):
    """Another attempt (a slow first delivery, another instance) holds the claim on some events
    of this delivery. They are neither sent twice nor dropped: the sender delivers again later,
    when the holder has completed them (a duplicate then) or its lease has lapsed."""

    def __init__(self, count: int) -> None:
        super().__init__(
            f"{count} event(s) of this delivery are being handled by another attempt; "
            "deliver again later.",
            retry_after=IN_PROGRESS_RETRY_AFTER_SECONDS,
        )
        self.count = count
