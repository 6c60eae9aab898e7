"""The written tables: where their facts come from, what the loader refuses, and every recorded
disagreement between them and the seed tables (``written_tables`` of catalog/irregularities.json),
each pinned by one check that shows the catalog doing what the record decided."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from catalog import get_catalog
from catalog.loader import IRREGULARITIES, WRITTEN_DIR, CatalogError, Problem, load_catalog
from catalog.lookup import ACTION_TABLES, Catalog
from catalog.models import (
    ACTIONS,
    WRITTEN_TABLE_IDS,
    Category,
    Domain,
    Entry,
    IrregularitiesFile,
    code_class,
)
from tests.test_catalog_loader import Data, drop_row_field, set_row

CA = Domain.CALL_AUTOMATION


def written_file(table: str) -> Data:
    data: Data = json.loads((WRITTEN_DIR / f"{table}.json").read_text(encoding="utf-8"))
    return data


def entry(catalog: Catalog, key: str) -> Entry:
    (found,) = [e for e in catalog.all_entries if e.key == key]
    return found


# ---- where the facts come from ------------------------------------------------------------------


def test_every_written_table_has_its_file_and_no_other_file_is_there() -> None:
    assert sorted(p.stem for p in WRITTEN_DIR.glob("*.json")) == sorted(WRITTEN_TABLE_IDS)


@pytest.mark.parametrize("table", WRITTEN_TABLE_IDS)
def test_a_written_table_names_each_page_with_its_url_and_the_date_it_was_read(
    table: str,
) -> None:
    sources = written_file(table)["sources"]
    assert sources
    for source in sources:
        assert source["url"].startswith("https://")
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", source["read"])
        assert source["title"].strip()
    cited = {source for row in written_file(table)["rows"] for source in row["sources"]}
    assert cited == {source["id"] for source in sources}, "every source named is cited, and back"


@pytest.mark.parametrize("table", WRITTEN_TABLE_IDS)
def test_every_written_entry_carries_its_category_and_retry_with_reasons_and_its_page(
    table: str,
) -> None:
    entries = get_catalog().table_entries(table)
    assert len(entries) == len(written_file(table)["rows"])
    for found in entries:
        assert (found.origin, found.category_source, found.category_raw) == (
            "written",
            "written",
            None,
        )
        assert found.category is not None, found.key
        assert found.category_reason, found.key
        assert found.retry.verdict in ("permanent", "transient", "unknown")
        assert found.retry.reason, found.key
        assert found.url is not None
        assert found.url.startswith("https://")
        assert found.read == "2026-12-02"
        assert found.doc == f"catalog/written/{table}.json"


def test_a_written_entry_names_the_lines_of_its_data_file_where_its_row_stands() -> None:
    for found in get_catalog().written:
        lines = (WRITTEN_DIR.parent.parent / found.doc).read_text(encoding="utf-8").split("\n")
        row = json.loads("\n".join(lines[found.line - 1 : found.line_end]).rstrip(","))
        assert row["message"] == found.message, found.key
        assert (row.get("code"), row.get("subcode"), row.get("status")) == (
            found.code,
            found.subcode,
            found.status,
        )


# Action rows whose category departs from ACS's category for the same pair, or from the code's
# class, each with the words its reason gives for it (docs/catalog.md "Categories").
CATEGORY_EXCEPTIONS = {
    "action-play:408/8565": "Azure AI services",
    "action-recognize:408/8565": "Azure AI services",
    "action-recognize:500/8534": "the caller's input",
    "action-transcription:500/8578": "WebSocket server",
    "action-call-setup:401/71005": "token",
    "action-call-setup:404/404": "support ticket",
    "action-call-setup:487/540487": "no success",
}


def test_an_action_row_takes_acs_category_for_its_pair_else_its_code_class() -> None:
    catalog = get_catalog()
    documented: dict[tuple[int | None, int | None], Category | None] = {
        (e.code, e.subcode): e.category
        for e in catalog.entries
        if e.category_source == "document" and e.code is not None and e.subcode is not None
    }
    departures = {}
    for found in catalog.written:
        if not found.source.startswith("action-") or found.code is None:
            continue
        by_class = code_class(found.code)
        expected = documented.get((found.code, found.subcode), by_class[0] if by_class else None)
        if found.category != expected:
            departures[found.key] = found.category_reason or ""
    assert sorted(departures) == sorted(CATEGORY_EXCEPTIONS)
    for key, words in CATEGORY_EXCEPTIONS.items():
        assert words in departures[key], key


def test_no_written_message_copies_a_transcribed_one() -> None:
    """Written rows are in the catalog's own words: none repeats a seed row's message."""
    catalog = get_catalog()
    transcribed = {e.message.strip().lower() for e in catalog.entries}
    copied = [e.key for e in catalog.written if e.message.strip().lower() in transcribed]
    assert copied == []


def test_the_written_entries_follow_the_transcribed_ones_and_leave_them_as_they_were() -> None:
    catalog = get_catalog()
    assert len(catalog.entries) == 410
    assert all(e.origin == "transcribed" for e in catalog.entries)
    assert catalog.all_entries == catalog.entries + catalog.written
    assert {e.source for e in catalog.written} == set(WRITTEN_TABLE_IDS)


@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_has_a_table_that_lists_the_events_it_explains(action: str) -> None:
    table = get_catalog().tables[ACTION_TABLES[action]]
    assert (table.origin, table.action) == ("written", action)
    assert table.events
    for event in table.events:
        assert event.endswith(("Failed", "Canceled"))
        assert get_catalog().action_for_event(f"Microsoft.Communication.{event}") == action


def test_an_event_no_action_table_lists_has_no_action() -> None:
    catalog = get_catalog()
    assert catalog.action_for_event("Microsoft.Communication.CallDisconnected") is None
    assert catalog.action_for_event("CreateCallFailed") == "call-setup"
    assert catalog.action_for_event("playfailed") == "play"


# ---- what the loader refuses --------------------------------------------------------------------


def write_written(directory: Path, table: str, change: Callable[[Data], None]) -> Path:
    data = written_file(table)
    change(data)
    path = directory / f"{table}.json"
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def written_problems(tmp_path: Path, table: str, change: Callable[[Data], None]) -> list[Problem]:
    data_dir, written_dir = tmp_path / "data", tmp_path / "written"
    data_dir.mkdir()
    written_dir.mkdir()
    write_written(written_dir, table, change)
    with pytest.raises(CatalogError) as caught:
        load_catalog(data_dir, None, require_all=False, written_dir=written_dir)
    return list(caught.value.problems)


def keyed_by(index: int, **key: Any) -> Callable[[Data], None]:
    """Row ``index`` keyed by ``key`` (status, code, subcode) instead of what it was keyed by."""

    def change(data: Data) -> None:
        row = data["rows"][index]
        for field in ("status", "code", "subcode"):
            row.pop(field, None)
        row.update(key)

    return change


@pytest.mark.parametrize(
    ("table", "change", "message"),
    [
        ("whatsapp-channel", set_row(1, "code", 2), "a second row with this key"),
        ("email-delivery", set_row(2, "status", "delivered"), "a second row with this key"),
        (
            "whatsapp-channel",
            set_row(0, "sources", ["nowhere"]),
            "are not among the table's sources",
        ),
        ("email-delivery", keyed_by(0, code=250), "this table is keyed by status"),
        ("whatsapp-channel", set_row(0, "status", "Failed"), "keyed by a status, or by a code"),
        ("action-play", keyed_by(0, code=400), "an action row names a subcode"),
        ("action-play", set_row(0, "category", "Fine"), "Input should be 'Success'"),
        ("action-play", drop_row_field(0, "category_reason"), "Field required"),
        ("action-play", set_row(0, "retry", {"verdict": "maybe", "reason": "x"}), "'permanent'"),
        ("action-play", set_row(0, "retry", {"verdict": "transient", "reason": ""}), "at least 1"),
    ],
)
def test_a_bad_written_row_is_refused_and_named(
    tmp_path: Path, table: str, change: Callable[[Data], None], message: str
) -> None:
    problems = written_problems(tmp_path, table, change)
    assert [p for p in problems if message in p.message], problems
    assert all(p.file.endswith(f"{table}.json") for p in problems)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda data: data.update(events=[]), "an action table lists the events it explains"),
        (lambda data: data.update(action="hold"), "an action table names its action"),
        (lambda data: data["sources"][0].update(read="yesterday"), "should match pattern"),
        (lambda data: data["sources"][0].update(url="http://example.test"), "should match"),
        (lambda data: data.update(sources=[]), "at least 1 item"),
    ],
)
def test_a_bad_written_table_is_refused_and_named(
    tmp_path: Path, change: Callable[[Data], None], message: str
) -> None:
    problems = written_problems(tmp_path, "action-play", change)
    assert [p for p in problems if message in p.message], problems


def test_only_an_action_table_has_an_action(tmp_path: Path) -> None:
    problems = written_problems(tmp_path, "email-delivery", lambda d: d.update(action="play"))
    assert problems[0].message == "only an action table has an action"
    assert problems[0].field == "action"


def test_a_missing_written_table_is_refused_for_the_app(tmp_path: Path) -> None:
    written_dir = tmp_path / "written"
    written_dir.mkdir()
    for table in WRITTEN_TABLE_IDS[1:]:
        (written_dir / f"{table}.json").write_bytes((WRITTEN_DIR / f"{table}.json").read_bytes())
    with pytest.raises(CatalogError) as caught:
        load_catalog(irregularities=IRREGULARITIES, written_dir=written_dir)
    assert [p.message for p in caught.value.problems] == ["missing: every table needs its file"]
    assert caught.value.problems[0].file.endswith(f"{WRITTEN_TABLE_IDS[0]}.json")


def test_a_recorded_place_that_names_no_entry_is_refused(tmp_path: Path) -> None:
    record = json.loads(IRREGULARITIES.read_text(encoding="utf-8"))
    record["written_tables"][0]["places"].append({"table": "action-play", "code": 1, "subcode": 1})
    irregularities = tmp_path / "irregularities.json"
    irregularities.write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        load_catalog(irregularities=irregularities)
    (problem,) = caught.value.problems
    assert problem.message.endswith("place action-play:1/1 matches no entry")


# ---- the recorded disagreements, one check each -------------------------------------------------


def record() -> IrregularitiesFile:
    return IrregularitiesFile.model_validate_json(IRREGULARITIES.read_bytes())


def test_every_written_irregularity_has_its_check_and_every_check_its_irregularity() -> None:
    assert sorted(i.id for i in record().written_tables) == sorted(CHECKS)


def test_every_place_of_a_written_irregularity_is_an_entry() -> None:
    keys = {e.key for e in get_catalog().all_entries}
    for irregularity in record().written_tables:
        for place in irregularity.places:
            assert place.key in keys, f"{irregularity.id}: {place.key}"


@pytest.mark.parametrize("irregularity", [i.id for i in record().written_tables])
def test_the_written_irregularity_holds_and_the_catalog_does_what_the_record_says(
    irregularity: str,
) -> None:
    CHECKS[irregularity](get_catalog())


def check_subcode_8512_recognize_vs_generic(catalog: Catalog) -> None:
    assert entry(catalog, "generic-subcodes:-/8512").message == "Play Beep Failed"
    recognize = catalog.lookup(CA, 500, 8512, action="recognize")
    assert (recognize.rule, recognize.table) == ("action-exact", "action-recognize")
    assert "Beep" not in (recognize.message or "")
    assert recognize.retry.verdict == "transient"
    for other in (catalog.lookup(CA, 500, 8512), catalog.lookup(CA, 500, 8512, action="play")):
        assert (other.rule, other.message) == ("generic-subcode", "Play Beep Failed")


def check_action_408_8565_is_an_ai_time_out(catalog: Catalog) -> None:
    generic = catalog.lookup(CA, 408, 8565)
    assert (generic.rule, generic.category, generic.advice_from) == (
        "generic-subcode",
        Category.EXPECTED_ERROR,
        "call-end:408/-",
    )
    assert "Call Controller timed out" in (generic.advice or "")
    for action in ("play", "recognize"):
        match = catalog.lookup(CA, 408, 8565, action=action)
        assert (match.rule, match.table) == ("action-exact", f"action-{action}")
        assert "Azure AI services timed out" in (match.message or "")
        assert match.category == Category.UNEXPECTED_SERVER_ERROR
        assert match.retry.verdict == "transient"
        assert "Call Controller" not in (match.advice or "")


def check_recognize_500_8511_advice(catalog: Catalog) -> None:
    generic = catalog.lookup(CA, 500, 8511)
    assert generic.advice == "File a support request through the Azure portal."
    match = catalog.lookup(CA, 500, 8511, action="recognize")
    assert match.advice is not None
    first, support = match.advice.index("audio file"), match.advice.index("support request")
    assert first < support
    assert match.retry.verdict == "unknown"


def check_recognize_8534_is_the_callers_input(catalog: Catalog) -> None:
    assert catalog.lookup(CA, 500, 8534).category == Category.UNEXPECTED_SERVER_ERROR
    match = catalog.lookup(CA, 500, 8534, action="recognize")
    assert (match.category, match.retry.verdict) == (Category.EXPECTED_ERROR, "transient")


def check_transcription_400_8565_two_meanings(catalog: Catalog) -> None:
    rows = [e for e in catalog.table_entries("action-transcription") if e.subcode == 8565]
    assert sorted(e.code or 0 for e in rows) == [400, 401, 403, 429]  # one 400 row, no 408
    match = catalog.lookup(CA, 400, 8565, action="transcription")
    assert "malformed" in (match.message or "")
    assert "timed out" in (match.message or "")
    assert match.retry.verdict == "unknown"


def check_transcription_500_8578_websocket(catalog: Catalog) -> None:
    assert entry(catalog, "generic-subcodes:-/8578").message == "Transcription Failed"
    match = catalog.lookup(CA, 500, 8578, action="transcription")
    assert "WebSocket" in (match.message or "")
    assert match.category == Category.UNEXPECTED_CLIENT_ERROR


def check_email_expanded_is_no_failure(catalog: Catalog) -> None:
    for status in ("Expanded", "Delivered"):
        match = catalog.lookup(Domain.EMAIL_DELIVERY, None, None, status=status)
        assert match.category == Category.SUCCESS
        assert match.retry.verdict == "unknown"


# One check per record of written_tables: it shows the disagreement and the decision.
CHECKS: dict[str, Callable[[Catalog], None]] = {
    "subcode-8512-recognize-vs-generic": check_subcode_8512_recognize_vs_generic,
    "action-408-8565-is-an-ai-time-out": check_action_408_8565_is_an_ai_time_out,
    "recognize-500-8511-advice": check_recognize_500_8511_advice,
    "recognize-8534-caller-input-with-a-5xx-code": check_recognize_8534_is_the_callers_input,
    "transcription-400-8565-two-meanings": check_transcription_400_8565_two_meanings,
    "transcription-500-8578-websocket": check_transcription_500_8578_websocket,
    "email-expanded-is-no-failure": check_email_expanded_is_no_failure,
}
