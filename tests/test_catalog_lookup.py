"""The lookup: which rule answers a (code, subcode) in each event family, and what it answers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog import get_catalog
from catalog.lookup import CALL_DOMAINS, DOMAIN_RULES, Catalog, parse_number
from catalog.models import ALL_TABLE_IDS, Category, Domain, MatchRule

CA, CE, PSTN, SMS, PROVIDER = (
    Domain.CALL_AUTOMATION,
    Domain.CALL_END,
    Domain.PSTN,
    Domain.SMS_DELIVERY,
    Domain.PROVIDER,
)
SUCCESS, EXPECTED, CLIENT, SERVER = (
    Category.SUCCESS,
    Category.EXPECTED_ERROR,
    Category.UNEXPECTED_CLIENT_ERROR,
    Category.UNEXPECTED_SERVER_ERROR,
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return get_catalog()


@pytest.mark.parametrize(
    ("domain", "code", "subcode", "rule", "entry", "category"),
    [
        # The answers the issue expects.
        (CA, 400, 8536, "generic-subcode", "generic-subcodes:-/8536", EXPECTED),
        (CA, 500, 9999, "generic-subcode", "generic-subcodes:-/9999", SERVER),
        (CA, 503, 560503, "exact", "pstn:503/560503", SERVER),
        (CA, 487, 560487, "subcode", "pstn:497/560487", EXPECTED),
        (CE, 410, 3100, "exact", "call-end:410/3100", CLIENT),
        (CE, 487, 10004, "exact", "call-end:487/10004", EXPECTED),
        (CE, 1, 1, "none", None, None),
        (SMS, 4007, None, "exact", "sms-delivery:4007/-", EXPECTED),
        (SMS, 5002, None, "exact", "sms-delivery:5002/-", SUCCESS),
        # One case per rule and domain.
        (CA, 404, 8522, "exact", "call-automation:404/8522", EXPECTED),
        (CE, 403, 5828, "exact", "call-end:403/5828", CLIENT),
        (CE, 412, 43000, "exact", "calling-sdk:412/43000", EXPECTED),
        (PSTN, 404, 511404, "exact", "pstn:404/511404", EXPECTED),
        (CA, 500, 10004, "subcode", "call-end:487/10004", EXPECTED),
        (CE, 400, 40101, "subcode", "calling-sdk:408/40101", CLIENT),
        (PSTN, 408, 3112, "subcode", "call-end:410/3112", EXPECTED),
        (CE, 603, 8540, "generic-subcode", "generic-subcodes:-/8540", EXPECTED),
        (CE, 481, None, "generic-code", "call-end:481/-", SERVER),
        (CE, 600, None, "generic-code", "calling-sdk:600/-", EXPECTED),
        (CA, 405, 123456, "generic-code", "generic-codes:405/-", EXPECTED),
        (PSTN, 502, 5, "generic-code", "generic-codes:502/-", SERVER),
        (CA, 200, 7015, "code-class", None, SUCCESS),
        (CA, 0, None, "code-class", None, SUCCESS),
        (CE, 499, 17, "code-class", None, EXPECTED),
        (PSTN, 599, None, "code-class", None, SERVER),
        (CE, 699, None, "code-class", None, EXPECTED),
        (CA, 302, 1, "none", None, None),
        (CA, None, None, "none", None, None),
        (PROVIDER, 2000, None, "exact", "8x8-api:2000/-", SERVER),
        (PROVIDER, 1002, None, "exact", "8x8-api:1002/-", EXPECTED),
        (PROVIDER, 400, None, "exact", "acs-http:400/-", EXPECTED),
        (PROVIDER, 406, None, "exact", "realtime-sms-http:406/-", EXPECTED),
        (PROVIDER, 503, None, "exact", "realtime-sms-http:503/-", SERVER),
        (PROVIDER, 502, None, "code-class", None, SERVER),
        (PROVIDER, 1013, None, "none", None, None),
        (SMS, 4011, None, "none", None, None),
        (SMS, 500, None, "none", None, None),  # no code class for delivery codes
    ],
)
def test_the_first_rule_that_finds_an_entry_answers(
    catalog: Catalog,
    domain: Domain,
    code: int | None,
    subcode: int | None,
    rule: MatchRule,
    entry: str | None,
    category: Category | None,
) -> None:
    match = catalog.lookup(domain, code, subcode)
    assert match.rule == rule
    assert (match.entry.key if match.entry else None) == entry
    assert match.category == category


def test_a_document_category_typo_reaches_the_match_normalised_with_the_raw_kept(
    catalog: Catalog,
) -> None:
    match = catalog.lookup(CE, 410, 3100)
    assert match.category == Category.UNEXPECTED_CLIENT_ERROR
    assert match.entry is not None
    assert match.entry.category_raw == "UnxpectedClientError"
    assert match.category_reason == "the document spells it 'UnxpectedClientError'"


@pytest.mark.parametrize("domain", CALL_DOMAINS)
def test_a_pstn_looking_subcode_prefers_the_pstn_row_on_a_tie(
    catalog: Catalog, domain: Domain
) -> None:
    for subcode, code in ((510403, 403), (540487, 487), (560000, 0), (540000, 0)):
        match = catalog.lookup(domain, code, subcode)
        assert match.entry is not None
        assert match.entry.source == "pstn", subcode


def test_other_ties_follow_the_domains_table_order(catalog: Catalog) -> None:
    by_domain = {domain: catalog.lookup(domain, 0, 0).entry for domain in CALL_DOMAINS}
    assert {domain: entry.source if entry else None for domain, entry in by_domain.items()} == {
        CA: "call-end",
        CE: "call-end",
        PSTN: "pstn",
    }


@pytest.mark.parametrize(
    ("domain", "code", "entry"),
    [
        (CE, 490, "call-end:490/-"),  # call-end before calling-sdk, which also lists 490
        (CE, 487, "calling-sdk:487/-"),  # only calling-sdk lists 487 alone: before generic-codes
        (CA, 487, "generic-codes:487/-"),  # call-automation's tables do not read calling-sdk
    ],
)
def test_generic_code_reads_code_only_rows_in_domain_order_before_the_generic_table(
    catalog: Catalog, domain: Domain, code: int, entry: str
) -> None:
    match = catalog.lookup(domain, code, None)
    assert (match.rule, match.entry.key if match.entry else None) == ("generic-code", entry)


def test_subcode_zero_names_no_reason(catalog: Catalog) -> None:
    """Subcode 0 is every success's subcode: not a key for the subcode or generic-subcode rules."""
    assert catalog.lookup(CA, 405, 0).rule == "generic-code"  # not generic subcode 0 "Success"
    assert catalog.lookup(CA, 499, 0).rule == "code-class"  # not call-end's x/0 rows
    assert catalog.lookup(CE, 603, 0).rule == "exact"  # the exact pair still matches


def test_a_subcode_twice_in_its_table_is_not_unique(catalog: Catalog) -> None:
    match = catalog.lookup(CA, 400, 8522)
    assert (match.rule, match.entry.key if match.entry else None) == (
        "generic-subcode",
        "generic-subcodes:-/8522",
    )


def test_a_generic_subcode_takes_its_category_from_the_events_code(catalog: Catalog) -> None:
    assert catalog.lookup(CA, 400, 8536).category == Category.EXPECTED_ERROR
    assert catalog.lookup(CA, 500, 8536).category == Category.UNEXPECTED_SERVER_ERROR
    assert catalog.lookup(CA, 200, 8536).category == Category.SUCCESS
    without_code = catalog.lookup(CA, None, 8536)
    assert (without_code.rule, without_code.category) == ("generic-subcode", None)


def test_advice_comes_from_further_down_the_chain_when_the_hit_has_none(
    catalog: Catalog,
) -> None:
    match = catalog.lookup(CA, 500, 9999)
    assert match.advice == "File a support request through the Azure portal."
    assert match.advice_from == "call-end:500/-"


def test_a_tie_loser_gives_advice_the_winner_lacks(catalog: Catalog) -> None:
    match = catalog.lookup(CA, 0, 560000)
    assert match.entry is not None
    assert match.entry.key == "pstn:0/560000"
    assert match.advice_from == "call-end:0/560000"
    assert match.advice is not None
    assert match.advice.startswith("Possible causes:")


def test_the_hits_own_advice_comes_first(catalog: Catalog) -> None:
    match = catalog.lookup(CE, 487, 10004)
    assert match.advice_from == "call-end:487/10004"


def test_no_advice_anywhere_down_the_chain_is_none(catalog: Catalog) -> None:
    match = catalog.lookup(CA, 400, 8536)
    assert (match.advice, match.advice_from) == (None, None)


def test_the_match_carries_the_entrys_message(catalog: Catalog) -> None:
    match = catalog.lookup(SMS, 4007, None)
    assert match.message == "The Destination/To number opted out of receiving messages from you."


def test_a_subcode_given_to_a_domain_without_subcodes_is_ignored(catalog: Catalog) -> None:
    assert catalog.lookup(SMS, 4007, 12).entry == catalog.lookup(SMS, 4007, None).entry
    assert catalog.lookup(PROVIDER, 1002, 5).entry == catalog.lookup(PROVIDER, 1002, None).entry


def test_every_domain_reads_only_tables_the_catalog_has() -> None:
    for rules in DOMAIN_RULES.values():
        assert set(rules.tables) <= set(ALL_TABLE_IDS)
    assert set(DOMAIN_RULES) == set(Domain)


@given(
    domain=st.sampled_from(list(Domain)),
    code=st.none() | st.integers(min_value=0, max_value=1_000_000),
    subcode=st.none() | st.integers(min_value=0, max_value=1_000_000),
)
def test_any_code_gets_an_answer_and_only_none_lacks_a_category(
    domain: Domain, code: int | None, subcode: int | None
) -> None:
    match = get_catalog().lookup(domain, code, subcode)
    if match.rule == "none":
        assert (match.entry, match.category) == (None, None)
    elif match.category is None:  # a generic subcode with no class to borrow from the code
        assert match.rule == "generic-subcode"
    if match.advice is not None:
        assert match.advice_from is not None


@pytest.mark.parametrize(("text", "number"), [("0", 0), ("487", 487), ("560503", 560503)])
def test_a_number_is_written_in_decimal_digits(text: str, number: int) -> None:
    assert parse_number(text) == number


@pytest.mark.parametrize("text", ["", "abc", "-1", "4.0", " 487", "1_000", "٤٨٧", "1234567890"])
def test_anything_else_is_not_a_number(text: str) -> None:
    with pytest.raises(ValueError, match="is not a code"):
        parse_number(text)
