"""Docs 000, 001 and 003: every Markdown table row transcribed; every category kept as written.

The seeds are read here on their own (a table is a run of lines that start with '|'), never through
the data files' idea of them; doc 002's files have their own test (test_seed_transcription_002.py).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from catalog import get_catalog
from catalog.models import CATEGORY_SPELLINGS, TABLE_IDS

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "catalog" / "data"
SEEDS = REPO / "catalog" / "seeds"

# table id -> (seed document, index of the Markdown table in it, public page)
MARKDOWN_TABLES = {
    "acs-http": ("000_5dffd63836356f49.txt", 0, "learn.microsoft.com"),
    "acs-sms-http": ("000_5dffd63836356f49.txt", 1, "learn.microsoft.com"),
    "realtime-sms-http": ("001_dea89067c21357eb.txt", 0, "developers.real-time.cl"),
    "8x8-http": ("003_8688e636102a880a.txt", 0, "developer.8x8.com"),
    "8x8-api": ("003_8688e636102a880a.txt", 1, "developer.8x8.com"),
}


@cache
def seed_lines(doc: str) -> tuple[str, ...]:
    return tuple((SEEDS / doc).read_text(encoding="utf-8").split("\n"))


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


@cache
def markdown_tables(doc: str) -> tuple[tuple[int, tuple[tuple[int, str], ...]], ...]:
    """Each table of a seed: its header's line number and its body rows (line number, text)."""
    tables: list[tuple[int, tuple[tuple[int, str], ...]]] = []
    run: list[tuple[int, str]] = []
    for number, line in enumerate((*seed_lines(doc), ""), start=1):
        if line.startswith("|"):
            run.append((number, line))
        elif run:
            assert re.fullmatch(r"\|[\s:|-]+\|?", run[1][1].strip()), f"{doc}:{run[1][0]} separator"
            tables.append((run[0][0], tuple(run[2:])))
            run = []
    return tuple(tables)


def data_file(table: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / f"{table}.json").read_text(encoding="utf-8"))
    return data


def test_the_five_markdown_tables_are_the_documents_tables() -> None:
    assert len(markdown_tables("000_5dffd63836356f49.txt")) == 2
    assert len(markdown_tables("001_dea89067c21357eb.txt")) == 1
    assert len(markdown_tables("003_8688e636102a880a.txt")) == 2


@pytest.mark.parametrize(
    ("table", "rows"),
    [
        ("acs-http", 7),
        ("acs-sms-http", 6),
        ("realtime-sms-http", 9),
        ("8x8-http", 12),
        ("8x8-api", 75),
    ],
)
def test_row_count_matches_the_document(table: str, rows: int) -> None:
    doc, index, _ = MARKDOWN_TABLES[table]
    assert len(markdown_tables(doc)[index][1]) == rows
    assert len(data_file(table)["rows"]) == rows
    assert len(get_catalog().table_entries(table)) == rows


@pytest.mark.parametrize("table", MARKDOWN_TABLES)
def test_every_row_is_its_seed_line_cell_by_cell(table: str) -> None:
    doc, index, _ = MARKDOWN_TABLES[table]
    header_line, body = markdown_tables(doc)[index]
    data = data_file(table)
    assert data["doc"] == doc
    assert data["columns"] == cells(seed_lines(doc)[header_line - 1])
    for (number, text), row in zip(body, data["rows"], strict=True):
        assert (row["line"], row["line_end"]) == (number, number)
        written = [row.get("cell") or str(row["code"]), row["message"]]
        written += [row["advice"]] if row["advice"] is not None else []
        assert written == cells(text), f"{table} line {number}"
        assert row["subcode"] is None
        assert row["category"] is None


@pytest.mark.parametrize("table", MARKDOWN_TABLES)
def test_a_code_cell_with_more_than_the_code_is_kept_as_cell(table: str) -> None:
    for row in data_file(table)["rows"]:
        if "cell" in row:
            assert row["cell"] != str(row["code"])
            assert row["cell"].startswith(f"{row['code']} ")


@pytest.mark.parametrize(
    ("table", "host"), [(t, host) for t, (_, _, host) in MARKDOWN_TABLES.items()]
)
def test_every_table_names_its_public_page(table: str, host: str) -> None:
    url = data_file(table)["url"]
    assert url.startswith(f"https://{host}/")


def test_every_table_has_a_data_file_and_every_data_file_a_table() -> None:
    assert sorted(path.stem for path in DATA.glob("*.json")) == sorted(TABLE_IDS)


def test_entry_count_per_table_is_the_data_files_row_count() -> None:
    catalog = get_catalog()
    counts = {table: len(data_file(table)["rows"]) for table in TABLE_IDS}
    assert {table: len(catalog.table_entries(table)) for table in TABLE_IDS} == counts
    assert len(catalog.entries) == sum(counts.values())


@pytest.mark.parametrize("table", TABLE_IDS)
def test_every_document_category_is_kept_as_written(table: str) -> None:
    rows = data_file(table)["rows"]
    entries = get_catalog().table_entries(table)
    for row, entry in zip(rows, entries, strict=True):
        assert entry.category_raw == row["category"]
        if row["category"] is None:
            assert entry.category_source == "derived"
            continue
        assert entry.category_source == "document"
        assert entry.category == CATEGORY_SPELLINGS[row["category"]]
        seed_text = "\n".join(seed_lines(entry.doc)[entry.line - 1 : entry.line_end])
        assert row["category"] in seed_text.split(), f"{table} line {entry.line}"


def test_every_category_word_of_doc_002_is_the_raw_category_of_a_row() -> None:
    """Counted in the seed itself: each category word in a table is some row's category as written.

    The generic subcode table is left out: there "Success" is the description of subcode 0.
    """
    doc = "002_2cef8ca5ec04bd03.txt"
    catalog = get_catalog()
    descriptions = {e.line for e in catalog.table_entries("generic-subcodes")}
    in_tables = Counter(
        word
        for number, line in enumerate(seed_lines(doc), start=1)
        if number >= 48 and number not in descriptions  # the prose above line 48 names them
        for word in line.split()
        if word in CATEGORY_SPELLINGS
    )
    # A cell that lists several codes gives one entry per code: one category per row of the seed.
    per_row = {(e.source, e.line): e.category_raw for e in catalog.entries if e.doc == doc}
    assert in_tables == Counter(raw for raw in per_row.values() if raw is not None)


def test_the_category_typo_is_kept_raw_and_read_right() -> None:
    typo = [e for e in get_catalog().entries if e.category_raw == "UnxpectedClientError"]
    seed = "\n".join(seed_lines("002_2cef8ca5ec04bd03.txt"))
    assert len(typo) == seed.count("UnxpectedClientError") == 3
    assert {e.category for e in typo} == {CATEGORY_SPELLINGS["UnexpectedClientError"]}
