"""Email delivery statuses and WhatsApp channel codes read from their written tables; and
``python -m catalog`` / ``GET /api/codes`` over the written tables."""

from __future__ import annotations

import json

import pytest

from catalog import get_catalog
from catalog.lookup import Catalog
from catalog.models import ALL_TABLE_IDS, Category, Domain
from handlers.http.codes import handle_codes
from handlers.http.messages import Request
from tests.test_catalog_cli import explained, run

EMAIL, WHATSAPP = Domain.EMAIL_DELIVERY, Domain.ADVANCED_MESSAGING


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return get_catalog()


@pytest.mark.parametrize(
    ("status", "category", "verdict"),
    [
        ("Delivered", Category.SUCCESS, "unknown"),
        ("Expanded", Category.SUCCESS, "unknown"),
        ("Bounced", Category.EXPECTED_ERROR, "permanent"),
        ("Suppressed", Category.EXPECTED_ERROR, "permanent"),
        ("Quarantined", Category.UNEXPECTED_CLIENT_ERROR, "permanent"),
        ("FilteredSpam", Category.UNEXPECTED_CLIENT_ERROR, "permanent"),
        ("Failed", Category.UNEXPECTED_SERVER_ERROR, "transient"),
    ],
)
def test_every_email_status_has_its_category_and_verdict(
    catalog: Catalog, status: str, category: Category, verdict: str
) -> None:
    for spelling in (status, status.lower(), status.upper()):
        match = catalog.lookup(EMAIL, None, None, status=spelling)
        assert (match.rule, match.table) == ("status", "email-delivery")
        assert match.entry is not None
        assert match.entry.status == status
        assert (match.category, match.retry.verdict) == (category, verdict)
        assert match.category_reason


def test_the_email_reasons_say_whose_side_a_failure_is_on(catalog: Catalog) -> None:
    def reason(status: str) -> str:
        return catalog.lookup(EMAIL, None, None, status=status).category_reason or ""

    assert "recipient's side" in reason("Bounced")
    assert "recipient's side" in reason("Suppressed")
    assert "sender's side" in reason("Quarantined")
    assert "sender's side" in reason("FilteredSpam")
    assert "service's side" in reason("Failed")


@pytest.mark.parametrize("status", [None, "", "Sent", "Pending"])
def test_an_unlisted_or_missing_email_status_is_unknown(
    catalog: Catalog, status: str | None
) -> None:
    assert catalog.lookup(EMAIL, None, None, status=status).rule == "none"


def test_whatsapp_131026_is_read_from_the_channel_table(catalog: Catalog) -> None:
    match = catalog.lookup(WHATSAPP, 131026, None)
    assert (match.rule, match.table) == ("exact", "whatsapp-channel")
    assert "not on WhatsApp" in (match.message or "")
    assert match.category == Category.EXPECTED_ERROR
    assert match.retry.verdict == "permanent"
    assert match.entry is not None
    assert (
        match.entry.url
        == "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes"
    )


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (131047, "24 hours"),  # re-engagement window
        (131056, "same recipient"),  # pair rate limit
        (130429, "throughput"),
        (132001, "template"),
        (131042, "payment"),
        (131050, "stop receiving marketing"),
    ],
)
def test_the_channel_codes_that_matter_most_are_there(
    catalog: Catalog, code: int, words: str
) -> None:
    assert words in (catalog.lookup(WHATSAPP, code, None).message or "")


@pytest.mark.parametrize("code", [131999, 500, 404, 0])
def test_an_unknown_channel_code_is_an_unknown_code_with_no_code_class(
    catalog: Catalog, code: int
) -> None:
    assert catalog.lookup(WHATSAPP, code, None).rule == "none"


# ---- explain, tables, export and /api/codes over the written tables -----------------------------


def test_explain_a_status_word() -> None:
    (meaning,) = explained("--status", "bounced")["meanings"]
    assert (meaning["rule"], meaning["category"], meaning["entry"]["status"]) == (
        "status",
        "ExpectedError",
        "Bounced",
    )


def test_an_unknown_status_exits_1_and_lists_the_known_ones() -> None:
    result = run("explain", "--status", "Sent")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("status 'Sent' is unknown (known: Bounced, Delivered, ")


@pytest.mark.parametrize(
    "args",
    [
        ("explain",),
        ("explain", "400", "--status", "Bounced"),
    ],
)
def test_a_code_and_a_status_together_or_neither_is_a_usage_error(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert (result.returncode, result.stdout) == (2, "")
    assert "usage: python -m catalog explain" in result.stderr


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (("--source", "whatsapp-channel", "131026"), "whatsapp-channel:131026/-"),
        (("--source", "email-delivery", "--status", "Failed"), "email-delivery:Failed"),
        (("131026",), "whatsapp-channel:131026/-"),
    ],
)
def test_source_reaches_every_written_table(args: tuple[str, ...], key: str) -> None:
    (meaning,) = explained(*args)["meanings"]
    entry = meaning["entry"]
    code, subcode = ("-" if n is None else n for n in (entry["code"], entry["subcode"]))
    found = (
        f"{entry['source']}:{entry['status']}"
        if entry["status"]
        else (f"{entry['source']}:{code}/{subcode}")
    )
    assert found == key


def test_source_lists_every_table_in_its_usage() -> None:
    result = run("explain", "--source", "fax", "1")
    assert result.returncode == 2
    for table in ALL_TABLE_IDS:
        assert f"'{table}'" in result.stderr


def test_tables_lists_every_table_with_where_its_facts_come_from() -> None:
    result = run("tables", "--json")
    assert (result.returncode, result.stderr) == (0, "")
    tables = {t["table"]: t for t in json.loads(result.stdout)}
    assert set(tables) == set(ALL_TABLE_IDS)
    assert tables["call-end"]["doc"] == "002_2cef8ca5ec04bd03.txt"
    assert tables["whatsapp-channel"]["origin"] == "written"
    assert all(s["read"] == "2026-12-02" for s in tables["email-delivery"]["sources"])
    text = run("tables").stdout
    assert "email-delivery: Email delivery report statuses (EmailDeliveryReportReceived)" in text
    assert (
        "  source    WhatsApp Cloud API error codes (Meta for Developers), read 2026-12-02" in text
    )


def test_export_holds_the_written_entries_with_their_status_retry_and_page() -> None:
    exported = json.loads(run("export").stdout)
    written = [e for e in exported if e["origin"] == "written"]
    assert len(written) == len(get_catalog().written)
    assert {"status", "retry", "read", "url"} <= set(written[0])
    assert len([e for e in exported if e["origin"] == "transcribed"]) == 410


def test_api_codes_reaches_the_written_tables_through_source() -> None:
    response = handle_codes(
        Request(
            method="GET",
            params={"code": "131026", "source": "whatsapp-channel"},
            url="http://127.0.0.1/api/codes",
        )
    )
    assert response.status == 200
    (meaning,) = json.loads(response.body)["meanings"]
    assert (meaning["table"], meaning["retry"]["verdict"]) == ("whatsapp-channel", "permanent")
