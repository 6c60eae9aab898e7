"""The loader: a bad data file is refused with the file, row and field named; categories settle."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from catalog import get_catalog
from catalog.loader import (
    DATA_DIR,
    GENERIC_SUBCODE_REASON,
    IRREGULARITIES,
    CatalogError,
    Problem,
    load_catalog,
)
from catalog.models import ALL_TABLE_IDS, OVERRIDE_REASON_PREFIX, TABLE_IDS, Category

Data = dict[str, Any]


def write_table(directory: Path, table: str, change: Callable[[Data], None] | None = None) -> Path:
    """A copy of a shipped data file in ``directory``, changed by ``change``, written as the repo
    writes them (indent 2), so that file line numbers are predictable."""
    data: Data = json.loads((DATA_DIR / f"{table}.json").read_text(encoding="utf-8"))
    if change:
        change(data)
    path = directory / f"{table}.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def problems_of(directory: Path, irregularities: Path | None = None) -> list[Problem]:
    with pytest.raises(CatalogError) as caught:
        load_catalog(directory, irregularities, require_all=False)
    return list(caught.value.problems)


def file_line_of_row(path: Path, index: int) -> int:
    """Where row ``index`` starts in a file written with indent 2: its '    {' line."""
    starts = [n for n, line in enumerate(path.read_text().split("\n"), 1) if line == "    {"]
    return starts[index]


def set_row(index: int, field: str, value: Any) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        data["rows"][index][field] = value

    return change


def drop_row_field(index: int, field: str) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        del data["rows"][index][field]

    return change


@pytest.mark.parametrize(
    ("change", "row", "field", "message"),
    [
        (set_row(2, "code", "403"), 2, "code", "Input should be a valid integer"),
        (set_row(3, "code", -404), 3, "code", "Input should be greater than or equal to 0"),
        (set_row(4, "category", "Sucess"), 4, "category", "unknown category spelling 'Sucess'"),
        (set_row(5, "line_end", 1), 5, "line_end", "line_end 1 is before line 27"),
        (drop_row_field(6, "message"), 6, "message", "Field required"),
        (set_row(0, "message", ""), 0, "message", "String should have at least 1 character"),
        (set_row(1, "colour", "red"), 1, "colour", "Extra inputs are not permitted"),
        (
            set_row(0, "category_override", {"category": "Fine", "reason": "x"}),
            0,
            "category_override.category",
            "Input should be 'Success', 'ExpectedError'",
        ),
    ],
)
def test_a_bad_row_is_named_by_file_row_lines_and_field(
    tmp_path: Path, change: Callable[[Data], None], row: int, field: str, message: str
) -> None:
    path = write_table(tmp_path, "acs-http", change)
    (problem,) = problems_of(tmp_path)
    document_line = 22 + row  # acs-http rows are lines 22-28 of doc 000
    assert (problem.row, problem.row_line, problem.field) == (row, document_line, field)
    assert problem.file_line == file_line_of_row(path, row)
    assert message in problem.message
    assert str(problem).startswith(
        f"{path}: row {row} (document line {document_line}, file line {problem.file_line}): "
        f"field {field!r}: "
    )


def test_a_file_that_is_not_json_is_named_with_its_position(tmp_path: Path) -> None:
    (tmp_path / "chat.json").write_text('{"table": "chat",\n  "rows": [')
    (problem,) = problems_of(tmp_path)
    assert problem.file == str(tmp_path / "chat.json")
    assert "Invalid JSON" in problem.message
    assert "line 2" in problem.message


def test_a_file_that_names_another_table_is_refused(tmp_path: Path) -> None:
    source = write_table(tmp_path, "acs-http")
    source.rename(tmp_path / "acs-sms-http.json")
    (problem,) = problems_of(tmp_path)
    assert problem.field == "table"
    assert "names table 'acs-http'" in problem.message


def test_a_file_of_an_unknown_table_is_refused(tmp_path: Path) -> None:
    write_table(tmp_path, "chat", lambda data: data.update(table="fax"))
    (tmp_path / "chat.json").rename(tmp_path / "fax.json")
    (problem,) = problems_of(tmp_path)
    assert (problem.field, problem.row) == ("table", None)


def test_a_code_no_rule_can_categorise_is_refused(tmp_path: Path) -> None:
    path = write_table(tmp_path, "8x8-api", set_row(3, "code", 9000))
    (problem,) = problems_of(tmp_path)
    assert (problem.row, problem.row_line, problem.field) == (3, 60, "code")
    assert problem.file_line == file_line_of_row(path, 3)
    assert problem.message == "no rule derives a category for this code"


def test_an_sms_delivery_code_outside_the_designs_list_is_refused(tmp_path: Path) -> None:
    write_table(tmp_path, "sms-delivery", set_row(0, "code", 4011))
    (problem,) = problems_of(tmp_path)
    assert (problem.row, problem.field) == (0, "code")


def test_two_rows_with_one_code_and_subcode_are_refused(tmp_path: Path) -> None:
    write_table(tmp_path, "chat", set_row(1, "code", 401))
    (problem,) = problems_of(tmp_path)
    assert (problem.row, problem.message) == (1, "a second row with this code and subcode")


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    write_table(tmp_path, "chat", set_row(0, "code", "x"))
    write_table(tmp_path, "acs-http", set_row(0, "advice", 7))
    problems = problems_of(tmp_path)
    assert sorted(Path(p.file).name for p in problems) == ["acs-http.json", "chat.json"]


def test_the_error_is_a_value_error_listing_each_problem(tmp_path: Path) -> None:
    write_table(tmp_path, "chat", set_row(0, "code", "x"))
    with pytest.raises(ValueError, match=r"the catalog does not load:\n  .*chat.json: row 0"):
        load_catalog(tmp_path, None, require_all=False)


def test_a_missing_table_file_is_refused_for_the_app(tmp_path: Path) -> None:
    for table in TABLE_IDS[1:]:
        shutil.copy(DATA_DIR / f"{table}.json", tmp_path)
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path, IRREGULARITIES)
    assert [p.message for p in caught.value.problems] == ["missing: every table needs its file"]
    assert caught.value.problems[0].file.endswith(f"{TABLE_IDS[0]}.json")


def test_an_advice_note_that_matches_no_entry_is_refused(tmp_path: Path) -> None:
    record = json.loads(IRREGULARITIES.read_text(encoding="utf-8"))
    note = {"table": "chat", "code": 499, "subcode": None, "note": "a note"}
    record["irregularities"][0]["advice_notes"] = [note]
    irregularities = tmp_path / "irregularities.json"
    irregularities.write_text(json.dumps(record))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_table(data_dir, "chat")
    (problem,) = problems_of(data_dir, irregularities)
    assert problem.message == "advice note for ('chat', 499, None) matches no entry"


def test_the_shipped_files_load_whole() -> None:
    catalog = load_catalog()
    assert set(catalog.tables) == set(ALL_TABLE_IDS)
    assert len(catalog.all_entries) == len(get_catalog().all_entries)


def test_the_apps_unvalidated_load_gives_the_validated_catalog() -> None:
    """The cold start reads the shipped files without validating them (no schema is built):
    every entry, table and advice note must be what the validated load gives."""
    validated = load_catalog()
    as_written = load_catalog(validate=False)
    assert as_written.entries == validated.entries
    assert as_written.written == validated.written
    assert as_written.tables == validated.tables
    assert [e.advice_note for e in as_written.entries] == [
        e.advice_note for e in validated.entries
    ]
    assert any(e.advice_note for e in validated.entries)
    assert any(e.category_reason and "override" in e.category_reason for e in validated.entries)


def test_get_catalog_loads_once_per_process() -> None:
    assert get_catalog() is get_catalog()


@pytest.mark.parametrize(
    ("table", "code", "subcode", "category", "reason"),
    [
        ("sms-delivery", 2000, None, Category.SUCCESS, "SMS delivery 2000"),
        ("sms-delivery", 5002, None, Category.SUCCESS, "SMS delivery 5002"),
        ("sms-delivery", 4010, None, Category.EXPECTED_ERROR, "SMS delivery 4000-4010"),
        ("sms-delivery", 9999, None, Category.UNEXPECTED_SERVER_ERROR, "SMS delivery 5000, 5001"),
        ("8x8-api", 2000, None, Category.UNEXPECTED_SERVER_ERROR, "8x8 API 2000 'Internal Error'"),
        ("8x8-api", 1200, None, Category.EXPECTED_ERROR, "8x8 API 1200-1299"),
        ("8x8-api", 2002, None, Category.EXPECTED_ERROR, "8x8 API 2001-2099"),
        ("8x8-api", 3053, None, Category.EXPECTED_ERROR, "8x8 API 3000-3099"),
        ("acs-sms-http", 201, None, Category.SUCCESS, "code class 2xx"),
        ("pstn", 403, 560403, Category.EXPECTED_ERROR, "code class 4xx"),
        ("pstn", 503, 560503, Category.UNEXPECTED_SERVER_ERROR, "code class 5xx"),
        ("calling-sdk", 606, None, Category.EXPECTED_ERROR, "code class 6xx"),
        ("call-automation", 404, 8522, Category.EXPECTED_ERROR, "code class 4xx"),
        ("generic-subcodes", None, 8536, None, GENERIC_SUBCODE_REASON),
    ],
)
def test_a_row_without_category_gets_one_derived_with_its_rule(
    table: str, code: int | None, subcode: int | None, category: Category | None, reason: str
) -> None:
    (entry,) = [
        e for e in get_catalog().table_entries(table) if (e.code, e.subcode) == (code, subcode)
    ]
    assert (entry.category, entry.category_source, entry.category_raw) == (
        category,
        "derived",
        None,
    )
    assert entry.category_reason is not None
    assert entry.category_reason.startswith(reason)


@pytest.mark.parametrize("table", ["calling-sdk", "call-end"])
def test_an_override_wins_and_says_why(table: str) -> None:
    (entry,) = [e for e in get_catalog().table_entries(table) if (e.code, e.subcode) == (481, None)]
    assert entry.category == Category.UNEXPECTED_SERVER_ERROR
    assert entry.category_source == "derived"
    assert entry.category_reason is not None
    assert entry.category_reason.startswith(OVERRIDE_REASON_PREFIX)
    assert "File a support request" in entry.category_reason


def test_overrides_stand_only_where_the_catalog_decided_them() -> None:
    overridden = {
        e.key
        for e in get_catalog().entries
        if (e.category_reason or "").startswith(OVERRIDE_REASON_PREFIX)
    }
    assert overridden == {"calling-sdk:481/-", "call-end:481/-"}


def test_an_override_of_a_document_category_keeps_the_raw_one_in_its_reason(
    tmp_path: Path,
) -> None:
    override = {"category": "UnexpectedServerError", "reason": "a test"}
    write_table(tmp_path, "call-end", set_row(0, "category_override", override))
    entry = load_catalog(tmp_path, None, require_all=False).entries[0]
    assert (entry.category, entry.category_raw) == (Category.UNEXPECTED_SERVER_ERROR, "Success")
    assert entry.category_reason == f"{OVERRIDE_REASON_PREFIX} (the document says Success): a test"


def test_advice_notes_are_attached_to_their_entries_only() -> None:
    noted = {e.key for e in get_catalog().entries if e.advice_note}
    assert noted == {"sms-delivery:5002/-", "call-automation:400/8559"}


def test_the_catalog_cites_only_rules_this_repository_holds() -> None:
    """The catalog's rules are in docs/catalog.md; no file of the package cites a document that is
    not in this repository."""
    package = DATA_DIR.parent
    citing = [
        path.relative_to(package).as_posix()
        for path in sorted(package.rglob("*"))
        if path.suffix in {".py", ".json", ".md"}
        # spelled in two parts so that this test does not itself cite them
        for name in ("design" + ".md", "delivery" + ".md")
        if name in path.read_text(encoding="utf-8")
    ]
    assert citing == []
    assert (package.parent / "docs" / "catalog.md").is_file()
