"""Doc 002's eight catalog data files, checked against the seed document read on its own.

The seed is a flattened web page: a table row is a line that starts with its code, continued on
the following lines until the next row starts, and a section heading is a line between two blank
lines. This test finds the tables and their rows from that layout alone, never from the JSON's idea
of them, and then holds every data file to it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "catalog" / "data"
DOC_NAME = "002_2cef8ca5ec04bd03.txt"
# The seed documents are kept in the repository, byte for byte, beside the data they explain.
SEEDS = REPO / "catalog" / "seeds"

Row = dict[str, Any]


@dataclass(frozen=True)
class TableSpec:
    """Where one data file's table(s) stand in the seed, and the header they carry."""

    table: str
    columns: tuple[str, ...]
    tables: int = 1  # how many tables of the document share this header and this data file
    after: str | None = None  # heading the headers come after, where the header text repeats
    before: str | None = None  # heading that closes the search for headers

    @property
    def header(self) -> str:
        return " ".join(self.columns)


SPECS = (
    TableSpec("calling-sdk", ("Subcode", "Code", "Message", "Result category", "Advice")),
    TableSpec("call-end", ("Subcode", "Code", "Message", "Result Categories", "Advice")),
    TableSpec("call-automation", ("Code", "Subcode", "Description", "Mitigation")),
    TableSpec("generic-codes", ("Status Code", "Description"), tables=3),  # 4xx, 5xx, 6xx
    TableSpec("generic-subcodes", ("Subcode", "Description")),
    TableSpec("pstn", ("SubCode", "Code", "Message", "Result Categories", "Advice"), tables=4),
    TableSpec(
        "chat",
        ("Code", "Message", "Advice"),
        after="Chat SDK error codes",
        before="SMS error codes",
    ),
    TableSpec("sms-delivery", ("Code", "Message", "Advice"), after="SMS error codes"),
)

FIELD_OF_COLUMN = {
    "Subcode": "subcode",
    "SubCode": "subcode",
    "Code": "code",
    "Status Code": "code",
    "Message": "message",
    "Description": "message",
    "Result category": "category",
    "Result Categories": "category",
    "Advice": "advice",
    "Mitigation": "advice",
}

# Rows whose Message cell runs over several lines, so that their category stands alone on the row's
# last line instead of its first (PSTN ParticipantEndReason 0: "Normal PSTN call end:" + a list).
CATEGORY_ON_LAST_LINE = {("pstn", 443), ("pstn", 447)}

ROW_START = re.compile(r"\d")
CODE_LIST = re.compile(r"\d+(?:, \d+)+(?= )")


def seed_path() -> Path:
    return SEEDS / DOC_NAME


@cache
def seed_lines() -> tuple[str, ...]:
    """The seed's lines; index 0 is a placeholder so that line numbers are 1-based."""
    text = seed_path().read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return ("", *lines)


@pytest.fixture
def seed() -> tuple[str, ...]:
    return seed_lines()


def load(table: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / f"{table}.json").read_text(encoding="utf-8"))
    return data


def is_heading(lines: tuple[str, ...], number: int) -> bool:
    last = len(lines) - 1
    blank_before = number == 1 or lines[number - 1].strip() == ""
    blank_after = number == last or lines[number + 1].strip() == ""
    return lines[number].strip() != "" and blank_before and blank_after


def line_of(lines: tuple[str, ...], text: str, start: int = 1) -> int:
    return next(n for n in range(start, len(lines)) if lines[n] == text)


def header_lines(lines: tuple[str, ...], spec: TableSpec) -> list[int]:
    first = line_of(lines, spec.after) + 1 if spec.after else 1
    stop = line_of(lines, spec.before, first) if spec.before else len(lines)
    return [n for n in range(first, stop) if lines[n] == spec.header]


def row_ranges(lines: tuple[str, ...], header: int) -> list[tuple[int, int]]:
    """(first, last) line of every row under a header, up to the next heading.

    A row starts on a line that starts with a digit and runs to the line before the next row
    starts, less trailing blank lines.
    """
    end = next((n for n in range(header + 1, len(lines)) if is_heading(lines, n)), len(lines))
    starts = [n for n in range(header + 1, end) if ROW_START.match(lines[n])]
    ranges = []
    for first, following in zip(starts, [*starts[1:], end], strict=True):
        last = following - 1
        while lines[last].strip() == "":
            last -= 1
        ranges.append((first, last))
    return ranges


def codes_listed(line: str) -> list[int]:
    """The codes of a row that lists several in one cell ("490, 491, 496, 497, 498"), else []."""
    listed = CODE_LIST.match(line)
    return [int(code) for code in listed.group(0).split(", ")] if listed else []


def row_text(lines: tuple[str, ...], row: Row) -> str:
    return "\n".join(lines[row["line"] : row["line_end"] + 1])


def cells_in_order(spec: TableSpec, row: Row) -> list[str]:
    cells = []
    for column in spec.columns:
        field = FIELD_OF_COLUMN[column]
        value = row[field]
        if field == "code" and "cell" in row:
            value = row["cell"]
        if value is not None:
            cells.append(str(value))
    return cells


def first_mismatch(text: str, cells: list[str]) -> str | None:
    """Where `text` stops being the cells joined by single spaces or line breaks, or None."""
    at = 0
    for index, cell in enumerate(cells):
        if not text.startswith(cell, at):
            return f"cell {index} {cell!r} does not match seed text {text[at : at + len(cell)]!r}"
        at += len(cell)
        if index < len(cells) - 1:
            if text[at : at + 1] not in (" ", "\n"):
                return f"after cell {index} the seed has {text[at : at + 20]!r}, not a separator"
            at += 1
    if at != len(text):
        return f"seed text left over after the last cell: {text[at:]!r}"
    return None


SPEC_ROWS: list[tuple[TableSpec, Row]] = [
    (spec, row) for spec in SPECS for row in load(spec.table)["rows"]
]


def as_params(pairs: list[tuple[TableSpec, Row]]) -> list[Any]:
    return [
        pytest.param(spec, row, id=f"{spec.table}:{row['line']}:{row['code']}/{row['subcode']}")
        for spec, row in pairs
    ]


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.table)
def test_data_file_names_its_table_document_and_the_seed_header(
    seed: tuple[str, ...], spec: TableSpec
) -> None:
    data = load(spec.table)
    assert data["table"] == spec.table
    assert data["doc"] == DOC_NAME
    assert tuple(data["columns"]) == spec.columns
    assert len(header_lines(seed, spec)) == spec.tables


@pytest.mark.parametrize(("spec", "row"), as_params(SPEC_ROWS))
def test_row_cells_joined_give_back_the_seed_lines(
    seed: tuple[str, ...], spec: TableSpec, row: Row
) -> None:
    assert 1 <= row["line"] <= row["line_end"] < len(seed)
    for field in ("code", "subcode"):
        assert row[field] is None or type(row[field]) is int
    mismatch = first_mismatch(row_text(seed, row), cells_in_order(spec, row))
    assert mismatch is None, mismatch


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.table)
def test_rows_are_exactly_the_rows_a_scan_of_the_seed_finds(
    seed: tuple[str, ...], spec: TableSpec
) -> None:
    rows = load(spec.table)["rows"]
    scanned = [r for header in header_lines(seed, spec) for r in row_ranges(seed, header)]
    expected_count = sum(len(codes_listed(seed[first])) or 1 for first, _ in scanned)

    assert len(rows) == expected_count
    assert [row["line"] for row in rows] == sorted(row["line"] for row in rows)  # document order
    ranges_in_data = sorted({(row["line"], row["line_end"]) for row in rows})
    assert ranges_in_data == scanned
    for first, _ in scanned:
        listed = codes_listed(seed[first])
        if listed:
            sharing = [row for row in rows if row["line"] == first]
            assert [row["code"] for row in sharing] == listed
            assert {row.get("cell") for row in sharing} == {", ".join(map(str, listed))}


@pytest.mark.parametrize(
    ("spec", "row"), as_params([(spec, row) for spec, row in SPEC_ROWS if row["category"]])
)
def test_category_is_written_on_the_rows_first_line(
    seed: tuple[str, ...], spec: TableSpec, row: Row
) -> None:
    category = row["category"]
    as_a_word = re.compile(rf"(?<!\S){re.escape(category)}(?!\S)")
    if (spec.table, row["line"]) in CATEGORY_ON_LAST_LINE:
        assert seed[row["line_end"]] == category
    else:
        assert as_a_word.search(seed[row["line"]]), f"{category!r} not on line {row['line']}"
