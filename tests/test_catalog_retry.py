"""Retry verdicts: every entry says whether sending again can succeed, and why.

Transcribed rows get theirs from their own text by the rules of catalog/retry.py (docs/catalog.md
"Retry verdicts"); these tests check the rules against the rows and the rows against the rules.
"""

from __future__ import annotations

import re

import pytest

from catalog import get_catalog
from catalog.models import Category, Domain, Entry
from catalog.retry import RULES, retry_of, retry_of_code_class

RULE_NAMES = {rule.name for rule in RULES} | {"success", "server-error", "no-rule"}
QUOTED = re.compile(r"^the (message|advice) says '(.+?)': ")


def entry(key: str) -> Entry:
    (found,) = [e for e in get_catalog().all_entries if e.key == key]
    return found


def test_every_entry_of_every_table_has_a_verdict_and_a_reason() -> None:
    catalog = get_catalog()
    assert len(catalog.entries) == 410
    for found in catalog.all_entries:
        assert found.retry.verdict in ("permanent", "transient", "unknown"), found.key
        assert found.retry.reason.strip(), found.key


def test_every_transcribed_verdict_names_its_rule() -> None:
    rules = {e.retry.rule for e in get_catalog().entries}
    assert rules <= RULE_NAMES
    assert None not in rules


def test_a_verdict_from_a_phrase_quotes_a_phrase_that_is_in_the_rows_text() -> None:
    """The reason says where it read the phrase; the phrase is there, and it is the rule's."""
    by_name = {rule.name: rule for rule in RULES}
    for found in get_catalog().entries:
        if found.retry.rule not in by_name:
            continue
        quoted = QUOTED.match(found.retry.reason)
        assert quoted, found.key
        where, phrase = quoted.groups()
        text = found.message if where == "message" else found.advice or ""
        assert phrase in text, found.key
        assert by_name[found.retry.rule].phrases.fullmatch(phrase), found.key
        assert found.retry.verdict == by_name[found.retry.rule].verdict


def test_the_message_is_read_before_the_advice() -> None:
    """4000's message says 'rejected' (permanent); its advice speaks of a maximum (a limit)."""
    fraud = entry("sms-delivery:4000/-")
    assert fraud.advice is not None
    assert "exceeding the maximum" in fraud.advice
    assert (fraud.retry.verdict, fraud.retry.rule) == ("permanent", "refused")
    assert fraud.retry.reason.startswith("the message says 'rejected'")


@pytest.mark.parametrize(
    ("key", "verdict", "rule"),
    [
        ("sms-delivery:4007/-", "permanent", "opted-out"),
        ("sms-delivery:4004/-", "permanent", "refused"),  # number doesn't exist
        ("sms-delivery:4002/-", "permanent", "refused"),  # invalid number format
        ("sms-delivery:4008/-", "transient", "limit"),  # throttled by the profile's maximum
        ("sms-delivery:4006/-", "transient", "temporary"),  # not reachable now
        ("sms-delivery:5001/-", "transient", "temporary"),  # temporary unavailability
        ("sms-delivery:5000/-", "transient", "server-error"),  # no cause named, the service's
        ("sms-delivery:2000/-", "unknown", "success"),
        ("call-end:408/-", "transient", "time-out"),  # call controller timed out
        ("pstn:408/560408", "transient", "time-out"),  # carrier time-out
        ("pstn:486/60486", "transient", "temporary"),  # busy
        ("pstn:404/560404", "permanent", "refused"),  # number not found
        ("call-automation:409/8519", "transient", "conflict"),
        ("generic-subcodes:-/8516", "transient", "limit"),  # Call Throttled
        ("generic-codes:429/-", "transient", "limit"),
        ("8x8-api:1002/-", "permanent", "refused"),  # Invalid MSISDN
        ("8x8-api:3002/-", "permanent", "refused"),  # Missed MSISDN
        ("realtime-sms-http:503/-", "transient", "temporary"),
        ("calling-sdk:412/43015", "transient", "time-out"),
    ],
)
def test_a_transcribed_row_gets_the_verdict_its_text_calls_for(
    key: str, verdict: str, rule: str
) -> None:
    found = entry(key)
    assert (found.retry.verdict, found.retry.rule) == (verdict, rule)


@pytest.mark.parametrize(
    ("message", "advice", "category", "verdict", "rule"),
    [
        ("Call throttled: rejected", None, None, "transient", "limit"),  # a limit before 'rejected'
        ("Request timed out, invalid state", None, None, "transient", "time-out"),
        ("Number opted out; message blocked", None, None, "permanent", "opted-out"),
        (
            "Something went wrong",
            None,
            Category.UNEXPECTED_SERVER_ERROR,
            "transient",
            "server-error",
        ),
        ("Something went wrong", None, Category.EXPECTED_ERROR, "unknown", "no-rule"),
        ("Delivered, not reachable before", None, Category.SUCCESS, "unknown", "success"),
        ("Nothing here", "Retry the call.", None, "transient", "temporary"),
        ("Nothing here", None, None, "unknown", "no-rule"),
    ],
)
def test_the_rules_in_their_order(
    message: str, advice: str | None, category: Category | None, verdict: str, rule: str
) -> None:
    retry = retry_of(message, advice, category)
    assert (retry.verdict, retry.rule) == (verdict, rule)


def test_the_catalogs_own_advice_note_does_not_decide_the_verdict() -> None:
    """5002's note says 'resend'; the verdict comes from the row (a Success: nothing failed)."""
    found = entry("sms-delivery:5002/-")
    assert "resend" in (found.advice_note or "")
    assert found.retry.rule == "success"


@pytest.mark.parametrize(
    ("code", "subcode", "verdict"),
    [(0, 123, "unknown"), (299, 1, "unknown"), (499, 17, "unknown"), (599, None, "transient")],
)
def test_without_an_entry_the_code_class_decides(
    code: int, subcode: int | None, verdict: str
) -> None:
    match = get_catalog().lookup(Domain.CALL_AUTOMATION, code, subcode)
    assert (match.rule, match.entry) == ("code-class", None)
    assert match.retry == retry_of_code_class(code)
    assert match.retry.verdict == verdict


def test_an_unknown_code_has_an_unknown_verdict() -> None:
    match = get_catalog().lookup(Domain.SMS_DELIVERY, 4999, None)
    assert (match.rule, match.retry.verdict) == ("none", "unknown")
    assert match.retry.reason


def test_a_generic_subcode_whose_words_settle_nothing_borrows_the_codes_verdict() -> None:
    """9999 'Unknown' names no cause: with a 5xx code it is transient, like its category."""
    catalog = get_catalog()
    assert entry("generic-subcodes:-/9999").retry.verdict == "unknown"
    server = catalog.lookup(Domain.CALL_AUTOMATION, 500, 9999)
    assert (server.rule, server.category) == ("generic-subcode", Category.UNEXPECTED_SERVER_ERROR)
    assert server.retry.verdict == "transient"
    assert server.retry.reason.startswith("from the event's code: ")
    client = catalog.lookup(Domain.CALL_AUTOMATION, 400, 9999)
    assert client.retry.verdict == "unknown"


def test_a_generic_subcode_whose_words_settle_it_keeps_its_own_verdict() -> None:
    throttled = get_catalog().lookup(Domain.CALL_AUTOMATION, 500, 8516)
    assert (throttled.retry.verdict, throttled.retry.rule) == ("transient", "limit")


@pytest.mark.parametrize(
    ("domain", "code", "status", "verdict"),
    [
        (Domain.ADVANCED_MESSAGING, 131026, None, "permanent"),  # not a WhatsApp user
        (Domain.ADVANCED_MESSAGING, 131050, None, "permanent"),  # opted out of marketing
        (Domain.ADVANCED_MESSAGING, 131056, None, "transient"),  # pair rate limit
        (Domain.ADVANCED_MESSAGING, 130429, None, "transient"),  # throughput
        (Domain.ADVANCED_MESSAGING, 131000, None, "transient"),  # service error
        (Domain.EMAIL_DELIVERY, None, "Bounced", "permanent"),
        (Domain.EMAIL_DELIVERY, None, "Suppressed", "permanent"),
        (Domain.EMAIL_DELIVERY, None, "Failed", "transient"),
    ],
)
def test_written_verdicts_reach_the_match(
    domain: Domain, code: int | None, status: str | None, verdict: str
) -> None:
    match = get_catalog().lookup(domain, code, None, status=status)
    assert match.entry is not None
    assert match.retry == match.entry.retry
    assert match.retry.verdict == verdict
    assert match.retry.rule is None  # given by the table's writer, not by a rule
