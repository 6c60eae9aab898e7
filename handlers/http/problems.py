"""The one table from domain errors to HTTP answers (RFC 9457 problem details).

Everything below this room raises :mod:`handlers.errors` (or ``SettingsError``); nothing below
it knows a status code. The table is ordered most specific first: the first class an error is an
instance of decides its answer. Why each status was chosen is in ``docs/status-codes.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.errors import (
    DeliveryTooLarge,
    EventsInProgress,
    InvalidCodeQuery,
    InvalidHandshake,
    InvalidSilence,
    MalformedDelivery,
    SigningKeysUnavailable,
    StateUnavailable,
    TokenRejected,
    TopicNotAllowed,
    TriageError,
    UnknownCode,
    UnknownSilence,
)
from handlers.http.messages import Response, problem_response
from handlers.settings import SettingsError

# While the app is misconfigured, Event Grid should keep the events until the operator fixes
# the setting: a 503 is retried for 24 hours, a 500 would be too, but says "bug" to monitoring.
MISCONFIGURED_RETRY_AFTER_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Problem:
    status: int
    slug: str
    title: str


PROBLEMS: tuple[tuple[type[Exception], Problem], ...] = (
    (InvalidHandshake, Problem(400, "bad-request", "The handshake cannot be answered")),
    (MalformedDelivery, Problem(400, "bad-request", "The body is not an event delivery")),
    (InvalidCodeQuery, Problem(400, "invalid-code-query", "The code query is not valid")),
    (InvalidSilence, Problem(400, "invalid-silence", "The silence is not valid")),
    (TokenRejected, Problem(401, "unauthorized", "Missing or invalid credentials")),
    (TopicNotAllowed, Problem(403, "forbidden", "Topic not allowed")),
    (UnknownCode, Problem(404, "unknown-code", "Unknown code")),
    (UnknownSilence, Problem(404, "unknown-silence", "Unknown silence")),
    (DeliveryTooLarge, Problem(413, "payload-too-large", "Body over the size limit")),
    (
        SigningKeysUnavailable,
        Problem(503, "signing-keys-unavailable", "Callback signing keys unavailable"),
    ),
    (StateUnavailable, Problem(503, "dedupe-store-unavailable", "The state store is unavailable")),
    (
        EventsInProgress,
        Problem(503, "events-in-progress", "Events are being handled by another attempt"),
    ),
    (SettingsError, Problem(503, "misconfigured", "Misconfigured")),
    (TriageError, Problem(400, "bad-request", "Bad request")),
)


def problem_of(error: Exception) -> Problem | None:
    """The answer the table gives for ``error``; None for an error it does not know (a bug)."""
    for kind, problem in PROBLEMS:
        if isinstance(error, kind):
            return problem
    return None


def problem_answer(error: TriageError | SettingsError) -> Response:
    """The problem+json answer for a known error, with ``Retry-After`` when it has one."""
    problem = problem_of(error)
    assert problem is not None  # TriageError and SettingsError are both in the table
    detail = error.detail if isinstance(error, TriageError) else str(error)
    retry_after = (
        error.retry_after
        if isinstance(error, TriageError)
        else MISCONFIGURED_RETRY_AFTER_SECONDS
    )
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return problem_response(
        problem.status, problem.title, detail, slug=problem.slug, headers=headers
    )


def internal_error(error: Exception) -> Response:
    """A bug: a 500 problem that names the exception class, never its text or a trace."""
    return problem_response(
        500, "Internal error", f"Unexpected {type(error).__name__}.", slug="internal-error"
    )
