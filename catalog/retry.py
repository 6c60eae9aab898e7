"""The retry verdict of a transcribed row, derived from its own text (docs/catalog.md "Retry").

The seed documents never say in a word whether sending again can succeed, but their text usually
gives it away: "opted out" cannot be retried, "timed out" can. :func:`retry_of` reads a row's
message, then its advice, against the rules below in order; the first rule with a phrase in the text
gives the verdict, and the reason quotes the phrase, so that a person can check the call. Where no
phrase is found, the category decides (a server error with no stated cause may pass; a success is
no failure), else the verdict is "unknown". Written tables give their verdicts in their data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from catalog.models import Category, Retry, RetryVerdict


@dataclass(frozen=True)
class RetryRule:
    """Phrases that settle whether sending again can succeed, and why they do."""

    name: str
    verdict: RetryVerdict
    phrases: re.Pattern[str]
    why: str

    def reason(self, phrase: str, where: str) -> str:
        return f"the {where} says '{phrase}': {self.why}"


def _phrases(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), re.IGNORECASE)


# Order matters: a limit or a time-out is named before the failure it causes ("call throttled",
# "request rejected: too many requests"), and any of these is more telling than an "invalid".
RULES: tuple[RetryRule, ...] = (
    RetryRule(
        "opted-out",
        "permanent",
        _phrases(r"opted[ -]?out", r"opt[ -]out"),
        "a recipient who opted out must opt in again before anything reaches them",
    ),
    RetryRule(
        "limit",
        "transient",
        _phrases(
            r"throttl\w*",
            r"too many",
            r"rate limit",
            r"exceed\w* the maximum",
            r"limit reached",
            r"threshold limit",
            r"quota",
        ),
        "a limit was reached; sent later or slower, the same request can succeed",
    ),
    RetryRule(
        "time-out",
        "transient",
        _phrases(
            r"timed out",
            r"time[ -]?out",
            r"didn't respond",
            r"did not respond",
            r"didn't receive a response",
            r"no answer",
        ),
        "nothing answered in time; a later attempt can be answered",
    ),
    RetryRule(
        "conflict",
        "transient",
        _phrases(
            r"\bconflict\b",
            r"incompatible",
            r"already in progress",
            r"precondition failed",
            r"in parallel",
        ),
        "another operation was in the way; once it ends, the same request can succeed",
    ),
    RetryRule(
        "temporary",
        "transient",
        _phrases(
            r"temporar\w*",
            r"unavailab\w*",
            r"not reachable",
            r"isn't reachable",
            r"unreachable",
            r"retry",
            r"try again",
            r"try resending",
            r"resend",
            r"moments later",
            r"out of order",
            r"internal server error",
            r"server error",
            r"unknown error",
            r"network (?:problem|issue)s?",
            r"connectivity",
            r"\bbusy\b",
        ),
        "the text calls the failure passing, or tells to try again",
    ),
    RetryRule(
        "refused",
        "permanent",
        _phrases(
            r"invalid",
            r"not valid",
            r"doesn't exist",
            r"does not exist",
            r"not found",
            r"unsupported",
            r"not supported",
            r"blocked",
            r"rejected",
            r"forbidden",
            r"unauthori[sz]ed",
            r"not allowed",
            r"not verified",
            r"fraud",
            r"permission",
            r"mismatch",
            r"not enabled",
            r"not implemented",
            r"incorrect",
            r"malformed",
            r"missing",
            r"\bmissed\b",
            r"\bempty\b",
            r"expired",
            r"isn't supported",
            r"not acceptable",
            r"bad request",
            r"couldn't be (?:understood|validated)",
            r"(?:didn't|did not) provide (?:a )?valid",
            r"too long",
            r"too large",
            r"too much",
            r"length exceeded",
            r"out of range",
            r"illegal",
            r"upgrade required",
            r"already (?:started|stopped)",
            r"isn't (?:authorized|allowed)",
            r"wrong format",
            r"duplicate",
            r"untrusted",
            r"validation error",
            r"permanently",
        ),
        "the request, the account or the recipient must change first; sent again unchanged it "
        "fails the same way",
    ),
)

SUCCESS = Retry(
    verdict="unknown",
    reason="a success: nothing failed, so there is nothing to send again",
    rule="success",
)
SERVER_ERROR = Retry(
    verdict="transient",
    reason="a failure on the service's side with no cause named in the text: sending again can "
    "succeed",
    rule="server-error",
)
NO_RULE = Retry(
    verdict="unknown",
    reason="the text names no cause that settles whether sending again can succeed",
    rule="no-rule",
)


def retry_of(message: str, advice: str | None, category: Category | None) -> Retry:
    """The verdict for one row: its message first (what happened), then its advice."""
    if category is Category.SUCCESS:
        return SUCCESS
    for where, text in (("message", message), ("advice", advice)):
        if not text:
            continue
        for rule in RULES:
            found = rule.phrases.search(text)
            if found:
                # Built, not validated: the values are the rule's own (and a cold start builds one
                # for each of the catalog's rows).
                return Retry.model_construct(
                    verdict=rule.verdict,
                    reason=rule.reason(found.group(0), where),
                    rule=rule.name,
                )
    if category is Category.UNEXPECTED_SERVER_ERROR:
        return SERVER_ERROR
    return NO_RULE


def retry_of_code_class(code: int | None) -> Retry:
    """The verdict a lookup gives when no entry answers: by the class of the event's code."""
    if code is None:
        return NO_RULE
    if code == 0 or code // 100 == 2:
        return SUCCESS
    if code // 100 == 5:
        return Retry(
            verdict="transient",
            reason="code class 5xx: a server error, which can pass",
            rule="code-class",
        )
    return Retry(
        verdict="unknown",
        reason=f"code {code}: its class names no cause that settles it",
        rule="code-class",
    )
