"""Every irregularity recorded in catalog/irregularities.json holds in the seed and is handled.

Each record id has exactly one check below (``@pins``), which shows the irregularity in the seed
document and the catalog doing what the record's decision says.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from catalog import get_catalog
from catalog.loader import GENERIC_SUBCODE_REASON, IRREGULARITIES
from catalog.lookup import CALL_DOMAINS, Catalog
from catalog.models import (
    CATEGORY_SPELLINGS,
    OVERRIDE_REASON_PREFIX,
    Category,
    Domain,
    Entry,
    IrregularitiesFile,
    code_class,
)

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "catalog" / "seeds"
DATA = REPO / "catalog" / "data"
DOC_000, DOC_002, DOC_003, DOC_004 = (
    "000_5dffd63836356f49.txt",
    "002_2cef8ca5ec04bd03.txt",
    "003_8688e636102a880a.txt",
    "004_9633b05c779ec05f.txt",
)
CA, CE, PSTN, SMS, PROVIDER = (
    Domain.CALL_AUTOMATION,
    Domain.CALL_END,
    Domain.PSTN,
    Domain.SMS_DELIVERY,
    Domain.PROVIDER,
)

Check = Callable[[Catalog], None]
PINS: dict[str, Check] = {}


def pins(irregularity: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        assert irregularity not in PINS
        PINS[irregularity] = check
        return check

    return register


@cache
def line(doc: str, number: int) -> str:
    return (SEEDS / doc).read_text(encoding="utf-8").split("\n")[number - 1]


def entry(catalog: Catalog, key: str) -> Entry:
    (found,) = [e for e in catalog.entries if e.key == key]
    return found


def data_file(table: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / f"{table}.json").read_text(encoding="utf-8"))
    return data


def record() -> IrregularitiesFile:
    return IrregularitiesFile.model_validate_json(IRREGULARITIES.read_bytes())


# ---- the record itself ----------------------------------------------------------------------


def test_every_irregularity_has_its_check_and_every_check_its_irregularity() -> None:
    assert sorted(i.id for i in record().irregularities) == sorted(PINS)


def test_every_place_of_the_record_is_a_line_of_its_document() -> None:
    catalog = get_catalog()
    for irregularity in record().irregularities:
        for place in irregularity.places:
            for number in place.lines:
                assert line(place.doc, number).strip(), f"{irregularity.id}: {place.doc}:{number}"
            if place.table is not None:
                assert catalog.tables[place.table].doc == place.doc, irregularity.id


@pytest.mark.parametrize("irregularity", [i.id for i in record().irregularities])
def test_the_irregularity_holds_and_the_catalog_does_what_the_record_says(
    irregularity: str,
) -> None:
    PINS[irregularity](get_catalog())


# ---- one check per irregularity -------------------------------------------------------------


@pins("category-typo-unxpected")
def _(catalog: Catalog) -> None:
    for number, subcode in ((176, 3100), (177, 3101), (178, 3111)):
        assert "UnxpectedClientError" in line(DOC_002, number).split()
        found = entry(catalog, f"call-end:410/{subcode}")
        assert (found.line, found.category_raw) == (number, "UnxpectedClientError")
        assert (found.category, found.category_source) == (
            Category.UNEXPECTED_CLIENT_ERROR,
            "document",
        )
    assert set(CATEGORY_SPELLINGS) - {c.value for c in Category} == {"UnxpectedClientError"}


@pins("pstn-560487-written-with-code-497")
def _(catalog: Catalog) -> None:
    assert line(DOC_002, 501).startswith("560487 497 ")
    written = entry(catalog, "pstn:497/560487")
    assert catalog.lookup(PSTN, 487, 560487).entry == written
    assert catalog.lookup(PSTN, 487, 560487).rule == "subcode"
    assert catalog.lookup(PSTN, 497, 560487).rule == "exact"


@pins("pstn-subcode-60486")
def _(catalog: Catalog) -> None:
    assert line(DOC_002, 498).startswith("60486 486 ")
    assert line(DOC_002, 212).startswith("560486 486 ")
    assert catalog.lookup(PSTN, 486, 60486).entry == entry(catalog, "pstn:486/60486")
    for domain in CALL_DOMAINS:
        match = catalog.lookup(domain, 486, 560486)
        assert (match.rule, match.entry) == ("exact", entry(catalog, "call-end:486/560486"))
        assert match.category == Category.SUCCESS


@pins("subcode-8522-two-meanings")
def _(catalog: Catalog) -> None:
    assert line(DOC_002, 252).startswith("404 8522 ")
    assert line(DOC_002, 265).startswith("405 8522 Missing configuration")
    assert catalog.lookup(CA, 404, 8522).entry == entry(catalog, "call-automation:404/8522")
    assert catalog.lookup(CA, 405, 8522).entry == entry(catalog, "call-automation:405/8522")
    other = catalog.lookup(CA, 400, 8522)
    assert (other.rule, other.message) == ("generic-subcode", "Not Found")


@pins("subcode-510403-in-call-end-and-pstn")
def _(catalog: Catalog) -> None:
    pstn_row = entry(catalog, "pstn:403/510403")
    call_end_row = entry(catalog, "call-end:403/510403")
    assert (call_end_row.line, pstn_row.line) == (206, 457)
    for domain in CALL_DOMAINS:
        assert catalog.lookup(domain, 403, 510403).entry == pstn_row
    (meaning,) = catalog.explain(403, 510403, "call-end").meanings
    assert meaning.match.entry == call_end_row


@pins("pstn-subcodes-in-two-tables")
def _(catalog: Catalog) -> None:
    for code, subcode in ((0, 540000), (0, 560000), (487, 540487)):
        entry(catalog, f"call-end:{code}/{subcode}")
        assert catalog.lookup(CE, code, subcode).entry == entry(catalog, f"pstn:{code}/{subcode}")
    assert entry(catalog, "call-end:487/540487").category == Category.SUCCESS
    assert catalog.lookup(CA, 487, 540487).category == Category.EXPECTED_ERROR
    assert catalog.lookup(CA, 0, 560000).advice_from == "call-end:0/560000"


@pins("rows-without-category")
def _(catalog: Catalog) -> None:
    (irregularity,) = [i for i in record().irregularities if i.id == "rows-without-category"]
    for place in irregularity.places:
        assert place.table is not None
        rows = [e for e in catalog.table_entries(place.table) if e.line in place.lines]
        assert rows, place.table
        for row in rows:
            assert (row.category_raw, row.category_source) == (None, "derived"), row.key
            assert row.category is not None, row.key
            assert row.category_reason, row.key
    assert data_file("call-automation")["columns"] == [
        "Code",
        "Subcode",
        "Description",
        "Mitigation",
    ]


@pins("column-order-differs")
def _(catalog: Catalog) -> None:
    assert line(DOC_002, 251).startswith("Code Subcode ")
    assert line(DOC_002, 171).startswith("Subcode Code ")
    assert line(DOC_002, 441).startswith("SubCode Code ")
    assert data_file("call-automation")["columns"][:2] == ["Code", "Subcode"]
    assert data_file("call-end")["columns"][:2] == ["Subcode", "Code"]
    assert data_file("pstn")["columns"][:2] == ["SubCode", "Code"]
    assert entry(catalog, "call-automation:403/7507").line == 259


@pins("sms-service-rows-wider-than-header")
def _(catalog: Catalog) -> None:
    def cells(number: int) -> list[str]:
        return [c.strip() for c in line(DOC_000, number).strip().strip("|").split("|")]

    assert cells(38) == ["Error Code", "Description"]
    assert len(cells(40)) == 2
    assert [len(cells(n)) for n in range(41, 46)] == [3] * 5
    assert data_file("acs-sms-http")["columns"] == ["Error Code", "Description"]
    for found in catalog.table_entries("acs-sms-http"):
        row = cells(found.line)
        assert found.message == row[1]
        assert found.advice == (row[2] if len(row) == 3 else None)


@pins("code-cell-with-reason-phrase")
def _(catalog: Catalog) -> None:
    assert line(DOC_000, 22).startswith("| 400 Bad Request ")
    bad_request = entry(catalog, "acs-http:400/-")
    assert (bad_request.code, bad_request.cell) == (400, "400 Bad Request")
    assert entry(catalog, "acs-sms-http:200/-").cell == "200 OK"
    assert entry(catalog, "acs-sms-http:201/-").cell is None


@pins("8x8-422-repeats-its-code")
def _(catalog: Catalog) -> None:
    found = entry(catalog, "8x8-http:422/-")
    assert found.message.startswith("**422 Unprocessable Entity**, ")
    assert found.message in line(DOC_003, 26)


@pins("last-line-without-newline")
def _(catalog: Catalog) -> None:
    text = (SEEDS / DOC_002).read_bytes()
    assert not text.endswith(b"\n")
    last = text.decode("utf-8").count("\n") + 1
    found = entry(catalog, "sms-delivery:9999/-")
    assert (found.line, found.line_end) == (last, last) == (559, 559)
    assert line(DOC_002, 559) == f"9999 {found.message} {found.advice}"
    assert not (SEEDS / DOC_004).read_bytes().endswith(b"\n")


@pins("generic-subcodes-out-of-order")
def _(catalog: Catalog) -> None:
    order = [e.subcode for e in catalog.table_entries("generic-subcodes")]
    assert order.index(8571) < order.index(8569) < order.index(8570)
    assert [line(DOC_002, n).split()[0] for n in (401, 402, 403)] == ["8571", "8569", "8570"]
    for subcode in (8569, 8570, 8571):
        match = catalog.lookup(CA, 400, subcode)
        assert (match.rule, match.entry.subcode if match.entry else None) == (
            "generic-subcode",
            subcode,
        )


@pins("8559-mitigation-speaks-of-recording")
def _(catalog: Catalog) -> None:
    row = entry(catalog, "call-automation:400/8559")
    assert row.advice is not None
    assert row.advice.startswith("Duplicate start recording request")
    assert entry(catalog, "generic-subcodes:-/8553").message == "Duplicate Recording"
    assert entry(catalog, "generic-subcodes:-/8559").message == "Duplicate Single Dialout"
    assert row.advice_note is not None
    assert "8553" in row.advice_note
    assert catalog.lookup(CA, 400, 8559).advice == f"{row.advice}\n{row.advice_note}"


@pins("sms-5002-two-meanings")
def _(catalog: Catalog) -> None:
    match = catalog.lookup(SMS, 5002, None)
    assert match.message == "Carrier does not support delivery report"
    assert match.category == Category.SUCCESS
    assert match.advice is not None
    assert "No action required" in match.advice  # the newer meaning, the document's
    assert "Message Delivery Timeout" in match.advice  # the older one, the catalog's note
    assert "resend" in match.advice


@pins("acs-sms-500-blames-authentication")
def _(catalog: Catalog) -> None:
    row = entry(catalog, "acs-sms-http:500/-")
    assert row.advice is not None
    assert row.advice.startswith("No authentication was found or unknown error occurred")
    assert (row.category, row.category_source) == (Category.UNEXPECTED_SERVER_ERROR, "derived")
    assert not (row.category_reason or "").startswith(OVERRIDE_REASON_PREFIX)


@pins("code-2000-in-two-documents")
def _(catalog: Catalog) -> None:
    assert catalog.lookup(SMS, 2000, None).category == Category.SUCCESS
    assert catalog.lookup(PROVIDER, 2000, None).category == Category.UNEXPECTED_SERVER_ERROR
    explanation = catalog.explain(2000)
    assert explanation.ambiguous
    sources = {m.match.entry.source for m in explanation.meanings if m.match.entry}
    assert sources == {"sms-delivery", "8x8-api"}


@pins("8x8-api-codes-not-http-codes")
def _(catalog: Catalog) -> None:
    rows = catalog.table_entries("8x8-api")
    assert (min(r.code or 0 for r in rows), max(r.code or 0 for r in rows)) == (1000, 3053)
    for row in rows:
        expected = Category.UNEXPECTED_SERVER_ERROR if row.code == 2000 else Category.EXPECTED_ERROR
        assert (row.category, row.category_source) == (expected, "derived"), row.key
        assert "not HTTP codes" in (row.category_reason or ""), row.key


@pins("generic-subcodes-without-code")
def _(catalog: Catalog) -> None:
    rows = catalog.table_entries("generic-subcodes")
    assert len(rows) == 431 - 314 + 1
    for row in rows:
        assert (row.code, row.category, row.category_reason) == (None, None, GENERIC_SUBCODE_REASON)
    assert catalog.lookup(CA, 603, 8538).category == Category.EXPECTED_ERROR


@pins("subcode-0-is-every-success")
def _(catalog: Catalog) -> None:
    assert "subcode for successful responses will be 0" in line(DOC_002, 271)
    assert entry(catalog, "generic-subcodes:-/0").message == "Success"
    assert catalog.lookup(CA, 405, 0).rule == "generic-code"
    zero = catalog.lookup(CE, 487, 0)
    assert (zero.rule, zero.entry) == ("exact", entry(catalog, "call-end:487/0"))


@pins("document-category-against-code-class")
def _(catalog: Catalog) -> None:
    for key, category in (
        ("calling-sdk:500/40216", Category.UNEXPECTED_CLIENT_ERROR),
        ("calling-sdk:400/41016", Category.UNEXPECTED_CLIENT_ERROR),
        ("call-end:0/4521", Category.EXPECTED_ERROR),
        ("call-end:487/10024", Category.SUCCESS),
        ("call-end:486/560486", Category.SUCCESS),
    ):
        row = entry(catalog, key)
        by_class = code_class(row.code)
        assert by_class is not None
        assert (row.category, row.category_source) == (category, "document")
        assert by_class[0] != category, key
        subcode = row.subcode
        assert catalog.lookup(CE, row.code, subcode).category == category


@pins("code-0-outside-the-code-classes")
def _(catalog: Catalog) -> None:
    assert "Successful responses (200-299)" in line(DOC_002, 33)
    code_zero = [e for e in catalog.entries if e.code == 0]
    assert {e.source for e in code_zero} == {"call-end", "pstn"}
    assert all(e.category_source == "document" for e in code_zero)
    assert entry(catalog, "call-end:0/5317").category == Category.EXPECTED_ERROR
    assert catalog.lookup(CA, 0, 123).category == Category.SUCCESS  # by code 0's class


@pins("code-only-rows-differ-between-tables")
def _(catalog: Catalog) -> None:
    sdk = {e.code: e for e in catalog.table_entries("calling-sdk") if e.subcode is None}
    end = {e.code: e for e in catalog.table_entries("call-end") if e.subcode is None}
    assert sdk[490].advice == "Check your network."
    assert end[490].advice != sdk[490].advice
    assert sdk[503].cell == "503, 504"
    assert end[503].cell == "500, 503, 504"
    assert {487, 600, 603, 604, 606} <= sdk.keys() - end.keys()
    assert {404, 408, 410, 430, 500} <= end.keys() - sdk.keys()
    assert catalog.lookup(CE, 490, None).entry == end[490]


@pins("4xx-asks-for-a-support-request")
def _(catalog: Catalog) -> None:
    for key, number in (("calling-sdk:481/-", 139), ("call-end:481/-", 218)):
        row = entry(catalog, key)
        assert line(DOC_002, number) == f"481 {row.message} {row.advice}"
        assert row.advice == "File a support request through the Azure portal."
        assert row.category == Category.UNEXPECTED_SERVER_ERROR
        assert (row.category_reason or "").startswith(OVERRIDE_REASON_PREFIX)
    chat = entry(catalog, "chat:429/-")
    assert "file a support request" in (chat.advice or "")
    assert chat.category == Category.EXPECTED_ERROR


@pins("category-in-mitigation-text")
def _(catalog: Catalog) -> None:
    row = entry(catalog, "call-automation:405/8520")
    assert (row.advice or "").startswith("Expected Error: ")
    assert (row.category, row.category_source) == (Category.EXPECTED_ERROR, "derived")


@pins("doc-002-flattened-page")
def _(catalog: Catalog) -> None:
    assert line(DOC_002, 1) == "แก้ไข"
    text = (SEEDS / DOC_002).read_text(encoding="utf-8")
    assert "|" not in text  # no cell separators anywhere
    row = entry(catalog, "call-end:410/3100")
    assert line(DOC_002, 176) == f"3100 410 {row.message} {row.category_raw} {row.advice}"


@pins("doc-004-tables-behind-includes")
def _(catalog: Catalog) -> None:
    assert line(DOC_004, 28).startswith("[!INCLUDE")
    assert line(DOC_004, 32).startswith("[!INCLUDE")
    assert not [e for e in catalog.entries if e.doc == DOC_004]
