"""Reads ``catalog/data/*.json``, ``catalog/written/*.json`` and ``catalog/irregularities.json``
into a :class:`Catalog`.

Every transcribed data file is validated against :class:`catalog.models.TableFile`, every written
one against :class:`catalog.models.WrittenTableFile`; every problem of every file is collected and
raised as one :class:`CatalogError`, each naming the file, the row (its index in ``rows``, its line
in the seed document and its line in the data file) and the field.

How a transcribed entry gets its category (docs/catalog.md "Categories"):

- The row gives one: ``category_source`` "document"; the spelling is normalised
  (``UnxpectedClientError`` is ``UnexpectedClientError``) and the raw spelling kept in
  ``category_raw``.
  An unknown spelling is a load error, not a guess.
- The row gives none: ``category_source`` "derived", ``category_reason`` naming the rule:
  - SMS delivery codes (table ``sms-delivery``): 2000 and 5002 Success, 4000-4010 ExpectedError,
    5000, 5001 and 9999 UnexpectedServerError. Any other code there is a load error.
  - 8x8 API codes (table ``8x8-api``, 1000-3053) are not HTTP codes, so the code class says
    nothing: 2000 "Internal Error" is the platform's failure (UnexpectedServerError); every other
    code names a request the client can correct (invalid or missing fields, access, limits,
    unsupported version or product): ExpectedError.
  - Generic subcodes have no code: their category is None, and the lookup takes it from the class
    of the event's code.
  - Everything else by its code class (:func:`catalog.models.code_class`); a code with no class and
    no rule is a load error.
- A ``category_override`` in the data wins over both, where the row's own text contradicts the rule
  (for example "File a support request" as the whole advice of a 4xx); ``category_source`` is then
  "derived" (it is the catalog's decision) and ``category_reason`` carries the override's reason.

Every transcribed entry gets a retry verdict derived from its text (:mod:`catalog.retry`); a written
entry carries the category and the retry verdict its table gives, each with its reason, and the
public page and date its facts come from.

The advice notes of ``irregularities.json`` are attached to their entries as ``advice_note``; the
places of its ``written_tables`` records must each name an entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from catalog.lookup import STATUS_TABLES, Catalog
from catalog.models import (
    CATEGORY_SPELLINGS,
    OVERRIDE_REASON_PREFIX,
    TABLE_IDS,
    WRITTEN_TABLE_IDS,
    Category,
    CategoryOverride,
    CategorySource,
    Entry,
    IrregularitiesFile,
    Retry,
    Row,
    Source,
    Table,
    TableFile,
    WrittenRow,
    WrittenTableFile,
    code_class,
)
from catalog.retry import retry_of

PACKAGE_DIR = Path(__file__).parent
DATA_DIR = PACKAGE_DIR / "data"
WRITTEN_DIR = PACKAGE_DIR / "written"
IRREGULARITIES = PACKAGE_DIR / "irregularities.json"

GENERIC_SUBCODE_REASON = (
    "generic subcodes have no code: the lookup takes the category from the event's code class"
)

_SMS_DELIVERY_RULES: dict[int, tuple[Category, str]] = {
    2000: (Category.SUCCESS, "SMS delivery 2000: delivered (docs/catalog.md)"),
    5002: (
        Category.SUCCESS,
        "SMS delivery 5002: the carrier sends no delivery report and the message may have been "
        "delivered (docs/catalog.md)",
    ),
    **dict.fromkeys(
        range(4000, 4011),
        (
            Category.EXPECTED_ERROR,
            "SMS delivery 4000-4010: rejected or blocked for a reason the sender can act on "
            "(docs/catalog.md)",
        ),
    ),
    **dict.fromkeys(
        (5000, 5001, 9999),
        (
            Category.UNEXPECTED_SERVER_ERROR,
            "SMS delivery 5000, 5001, 9999: the platform failed to deliver (docs/catalog.md)",
        ),
    ),
}

# 8x8 API codes by range: what the range names. Every range but 2000 is a request the client can
# correct. The ranges are the document's own grouping (1000s parameters, 1100 limits, 1200 access…).
_8X8_API_RANGES: tuple[tuple[int, int, str], ...] = (
    (1000, 1099, "an invalid request parameter"),
    (1100, 1199, "a sending limit reached"),
    (1200, 1299, "access not granted to the caller"),
    (1300, 1399, "an object that does not exist or has expired"),
    (1400, 1499, "a resend interval violated"),
    (2001, 2099, "a function, API version or product the platform does not offer"),
    (3000, 3099, "a missing or invalid field of the request"),
)


@dataclass(frozen=True)
class Problem:
    """One reason a file does not load, and where it stands."""

    file: str
    message: str
    row: int | None = None
    row_line: int | None = None  # the row's first line in the seed document
    file_line: int | None = None  # the line of the data file where the row starts
    field: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            lines = [
                f"{label} {value}"
                for label, value in (
                    ("document line", self.row_line),
                    ("file line", self.file_line),
                )
                if value is not None
            ]
            where.append(f"row {self.row}" + (f" ({', '.join(lines)})" if lines else ""))
        if self.field:
            where.append(f"field {self.field!r}")
        return ": ".join([*where, self.message])


class CatalogError(ValueError):
    """The catalog's files do not load; ``problems`` lists every reason found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            "the catalog does not load:\n" + "\n".join(f"  {problem}" for problem in self.problems)
        )


def load_catalog(
    data_dir: Path = DATA_DIR,
    irregularities: Path | None = IRREGULARITIES,
    *,
    require_all: bool = True,
    written_dir: Path | None = WRITTEN_DIR,
    validate: bool = True,
) -> Catalog:
    """Every table of ``data_dir`` and ``written_dir``, validated, with categories and retry
    verdicts settled and advice notes attached.

    ``require_all``: every table of TABLE_IDS and WRITTEN_TABLE_IDS must have its file (the app's
    catalog); off, the files present are loaded (tests of a single table).

    ``validate`` off reads the files as they are, without building or running the file format's
    validation: the app's own cold start (:func:`catalog.get_catalog`), for the files shipped
    with it, which the tests load validated (``tests/test_catalog_loader.py`` pins that both
    ways give the same catalog). The rules that settle categories and retry verdicts, and the
    checks of written rows' keys and sources, run either way; the places of the irregularities
    record are checked only when validating.
    """
    problems: list[Problem] = []
    files = _read_files(
        data_dir, TableFile, TABLE_IDS, problems, None if validate else _constructed_table_file
    )
    written = (
        _read_files(
            written_dir,
            WrittenTableFile,
            WRITTEN_TABLE_IDS,
            problems,
            None if validate else _constructed_written_file,
        )
        if written_dir
        else {}
    )
    if require_all:
        problems.extend(_missing(data_dir, TABLE_IDS, files))
        problems.extend(_missing(written_dir or data_dir, WRITTEN_TABLE_IDS, written))
    record = _read_record(irregularities, problems) if irregularities and validate else None
    if validate or irregularities is None:
        notes = _advice_notes(record)
    else:
        notes = _advice_notes_as_written(irregularities)
    entries = list(_entries(files, notes, problems))
    written_entries = list(_written_entries(written, problems))
    noted = {(e.source, e.code, e.subcode) for e in entries}
    problems.extend(
        Problem(_display(irregularities or data_dir), f"advice note for {key} matches no entry")
        for key in notes
        if key[0] in files and key not in noted
    )
    if record is not None and irregularities is not None:
        loaded = {**files, **written}
        problems.extend(_unplaced(record, irregularities, loaded, [*entries, *written_entries]))
    if problems:
        raise CatalogError(problems)
    tables: dict[str, Table] = {
        **{table: table_file.as_table() for table, (table_file, _) in files.items()},
        **{table: table_file.as_table() for table, (table_file, _) in written.items()},
    }
    return Catalog(tables, entries, written_entries)


def _missing(
    directory: Path, expected: tuple[str, ...], found: Mapping[str, object]
) -> Iterator[Problem]:
    for table in expected:
        if table not in found:
            file = _display(directory / f"{table}.json")
            yield Problem(file, "missing: every table needs its file")


# The two kinds of data file, read the same way.
TableFileT = TypeVar("TableFileT", TableFile, WrittenTableFile)


def _read_files(
    directory: Path,
    model: type[TableFileT],
    order: tuple[str, ...],
    problems: list[Problem],
    construct: Callable[[Path], TableFileT] | None = None,
) -> dict[str, tuple[TableFileT, Path]]:
    """Every data file of ``directory`` that validates (or, given ``construct``, is built as it is
    written) and names the table of its file name, in ``order``; the problems of the others."""
    files: dict[str, tuple[TableFileT, Path]] = {}
    for path in sorted(directory.glob("*.json")):
        table_file = construct(path) if construct else _validated(path, model, problems)
        if table_file is None:
            continue
        if table_file.table != path.stem:
            problems.append(
                Problem(_display(path), f"names table {table_file.table!r}", field="table")
            )
            continue
        files[table_file.table] = (table_file, path)
    return dict(sorted(files.items(), key=lambda item: order.index(item[0])))


def _validated(path: Path, model: type[TableFileT], problems: list[Problem]) -> TableFileT | None:
    text = path.read_bytes()
    try:
        return model.model_validate_json(text)
    except ValidationError as err:
        problems.extend(_problems_of(path, text, err))
        return None


def _constructed_table_file(path: Path) -> TableFile:
    """A data file built as it is written, without validation (see ``load_catalog``)."""
    raw = json.loads(path.read_bytes())
    fields = {**raw, "columns": tuple(raw["columns"])}
    fields["rows"] = tuple(_constructed_row(row) for row in raw["rows"])
    return TableFile.model_construct(**fields)


def _constructed_row(raw: dict[str, Any]) -> Row:
    override = raw.get("category_override")
    if override is not None:
        override = CategoryOverride.model_construct(
            category=Category(override["category"]), reason=override["reason"]
        )
    return Row.model_construct(**{**raw, "category_override": override})


def _constructed_written_file(path: Path) -> WrittenTableFile:
    """A written table built as it is written, without validation (see ``load_catalog``)."""
    raw = json.loads(path.read_bytes())
    return WrittenTableFile.model_construct(
        **{
            **raw,
            "columns": tuple(raw["columns"]),
            "sources": tuple(Source.model_construct(**source) for source in raw["sources"]),
            "events": tuple(raw.get("events", ())),
            "rows": tuple(_constructed_written_row(row) for row in raw["rows"]),
        }
    )


def _constructed_written_row(raw: dict[str, Any]) -> WrittenRow:
    return WrittenRow.model_construct(
        **{
            **raw,
            "category": Category(raw["category"]),
            "retry": Retry.model_construct(**raw["retry"]),
            "sources": tuple(raw["sources"]),
        }
    )


def _problems_of(path: Path, text: bytes, err: ValidationError) -> Iterator[Problem]:
    """One Problem per pydantic error, with the row's index, document line and file line."""
    raw = _parsed_or_none(text)
    raw_rows = raw.get("rows") if isinstance(raw, dict) else None
    starts = _row_start_lines(text.decode("utf-8", "replace")) if raw_rows is not None else []
    for error in err.errors(include_url=False):
        loc = error["loc"]
        if len(loc) >= 2 and loc[0] == "rows" and isinstance(loc[1], int):
            index = loc[1]
            row_raw = raw_rows[index] if isinstance(raw_rows, list) else None
            row_line = row_raw.get("line") if isinstance(row_raw, dict) else None
            yield Problem(
                _display(path),
                error["msg"],
                row=index,
                row_line=row_line if isinstance(row_line, int) else None,
                file_line=starts[index] if index < len(starts) else None,
                field=".".join(str(part) for part in loc[2:]) or None,
            )
        else:
            field = ".".join(str(part) for part in loc) or None
            yield Problem(_display(path), error["msg"], field=field)


def _parsed_or_none(text: bytes) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


_ROWS_ARRAY = re.compile(r'"rows"\s*:\s*\[')


def _row_start_lines(text: str) -> list[int]:
    """The 1-based line where each element of the top-level "rows" array starts."""
    return [first for first, _ in _row_spans(text)]


def _row_spans(text: str) -> list[tuple[int, int]]:
    """The first and last 1-based line of each element of the top-level "rows" array.

    A quote inside a JSON string is always escaped, so '"rows": [' cannot match inside one.
    """
    found = _ROWS_ARRAY.search(text)
    if found is None:
        return []
    decoder = json.JSONDecoder()
    spans: list[tuple[int, int]] = []
    position = found.end()
    while True:
        position = _skip(text, position, " \t\r\n,")
        if position >= len(text) or text[position] == "]":
            return spans
        first = text.count("\n", 0, position) + 1
        try:
            _, position = decoder.raw_decode(text, position)
        except ValueError:
            return [*spans, (first, first)]
        spans.append((first, text.count("\n", 0, position) + 1))


def _skip(text: str, position: int, characters: str) -> int:
    while position < len(text) and text[position] in characters:
        position += 1
    return position


def _read_record(path: Path, problems: list[Problem]) -> IrregularitiesFile | None:
    try:
        return IrregularitiesFile.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as err:
        problems.append(Problem(_display(path), str(err)))
        return None


def _advice_notes(
    record: IrregularitiesFile | None,
) -> dict[tuple[str, int | None, int | None], str]:
    notes: dict[tuple[str, int | None, int | None], str] = {}
    for irregularity in record.irregularities if record else ():
        for note in irregularity.advice_notes:
            notes[(note.table, note.code, note.subcode)] = note.note
    return notes


def _advice_notes_as_written(path: Path) -> dict[tuple[str, int | None, int | None], str]:
    """The advice notes read without validation (see ``load_catalog``)."""
    record = json.loads(path.read_bytes())
    return {
        (note["table"], note["code"], note["subcode"]): note["note"]
        for irregularity in record["irregularities"]
        for note in irregularity.get("advice_notes", ())
    }


def _unplaced(
    record: IrregularitiesFile,
    path: Path,
    loaded: Mapping[str, object],
    entries: list[Entry],
) -> Iterator[Problem]:
    """A written-table irregularity whose place names no entry (of the tables loaded)."""
    keys = {entry.key for entry in entries}
    for irregularity in record.written_tables:
        for place in irregularity.places:
            if place.table in loaded and place.key not in keys:
                yield Problem(
                    _display(path), f"{irregularity.id}: place {place.key} matches no entry"
                )


def _entries(
    files: Mapping[str, tuple[TableFile, Path]],
    notes: Mapping[tuple[str, int | None, int | None], str],
    problems: list[Problem],
) -> Iterator[Entry]:
    for table_id, (table_file, path) in files.items():
        seen: set[tuple[int | None, int | None]] = set()
        for index, row in enumerate(table_file.rows):
            if (row.code, row.subcode) in seen:
                problems.append(
                    _row_problem(path, index, row, "a second row with this code and subcode")
                )
            seen.add((row.code, row.subcode))
            settled = _category_of(table_id, row)
            if settled is None:
                problems.append(
                    _row_problem(path, index, row, "no rule derives a category for this code")
                )
                continue
            yield _entry(table_file, row, settled, notes.get((table_id, row.code, row.subcode)))


def _row_problem(path: Path, index: int, row: Row, message: str) -> Problem:
    starts = _row_start_lines(path.read_text(encoding="utf-8"))
    file_line = starts[index] if index < len(starts) else None
    return Problem(
        _display(path), message, row=index, row_line=row.line, file_line=file_line, field="code"
    )


def _entry(
    table_file: TableFile,
    row: Row,
    settled: tuple[Category | None, CategorySource, str | None],
    note: str | None,
) -> Entry:
    category, source, reason = settled
    # The row and its file are validated already: construct without validating again (cold start).
    return Entry.model_construct(
        source=table_file.table,
        code=row.code,
        subcode=row.subcode,
        status=None,
        message=row.message,
        category=category,
        category_raw=row.category,
        category_source=source,
        category_reason=reason,
        advice=row.advice,
        retry=retry_of(row.message, row.advice, category),
        origin="transcribed",
        doc=table_file.doc,
        line=row.line,
        line_end=row.line_end,
        url=table_file.url,
        read=None,
        cell=row.cell,
        advice_note=note,
    )


# ---- written tables -----------------------------------------------------------------------------


def _written_entries(
    files: Mapping[str, tuple[WrittenTableFile, Path]], problems: list[Problem]
) -> Iterator[Entry]:
    for table_id, (table_file, path) in files.items():
        problems.extend(_table_problems(table_file, path))
        sources = {source.id: source for source in table_file.sources}
        spans = _row_spans(path.read_text(encoding="utf-8"))
        seen: set[tuple[int | None, int | None, str | None]] = set()
        for index, row in enumerate(table_file.rows):
            key = (row.code, row.subcode, row.status.lower() if row.status else None)
            unknown = [source for source in row.sources if source not in sources]
            wrong = _row_problems(table_file, row, key in seen, unknown)
            seen.add(key)
            problems.extend(_written_row_problem(path, index, message) for message in wrong)
            if not wrong:
                main = sources[row.sources[0]]
                yield _written_entry(table_id, row, _display(path), spans[index], main)


def _table_problems(table_file: WrittenTableFile, path: Path) -> Iterator[Problem]:
    """An action table is named after its action and lists the events it explains; no other is."""
    file = _display(path)
    is_action_table = table_file.table.startswith("action-")
    if is_action_table and table_file.table != f"action-{table_file.action}":
        yield Problem(file, f"an action table names its action: {table_file.action!r}")
    if is_action_table and not table_file.events:
        yield Problem(file, "an action table lists the events it explains", field="events")
    if not is_action_table and table_file.action is not None:
        yield Problem(file, "only an action table has an action", field="action")


def _row_problems(
    table_file: WrittenTableFile, row: WrittenRow, seen: bool, unknown_sources: list[str]
) -> list[str]:
    keyed_by_status = table_file.table in STATUS_TABLES
    checks = (
        ("a second row with this key", seen),
        (f"sources {unknown_sources} are not among the table's sources", bool(unknown_sources)),
        ("this table is keyed by status", keyed_by_status and row.status is None),
        ("this table is keyed by code", not keyed_by_status and row.status is not None),
        (
            "an action row names a subcode (a code alone would shadow the generic tables)",
            table_file.action is not None and row.subcode is None,
        ),
    )
    return [message for message, failed in checks if failed]


def _written_row_problem(path: Path, index: int, message: str) -> Problem:
    starts = _row_start_lines(path.read_text(encoding="utf-8"))
    file_line = starts[index] if index < len(starts) else None
    return Problem(_display(path), message, row=index, file_line=file_line)


def _written_entry(
    table: str, row: WrittenRow, file: str, lines: tuple[int, int], source: Source
) -> Entry:
    """A written row as an entry: where it is written (file and lines) and the page of its facts."""
    return Entry.model_construct(
        source=table,
        code=row.code,
        subcode=row.subcode,
        status=row.status,
        message=row.message,
        category=row.category,
        category_raw=None,
        category_source="written",
        category_reason=row.category_reason,
        advice=row.advice,
        retry=row.retry,
        origin="written",
        doc=file,
        line=lines[0],
        line_end=lines[1],
        url=source.url,
        read=source.read,
        cell=None,
        advice_note=None,
    )


def _category_of(table: str, row: Row) -> tuple[Category | None, CategorySource, str | None] | None:
    """The row's category, where it came from and why; None where no rule gives one."""
    if row.category_override is not None:
        override = row.category_override
        written = f" (the document says {row.category})" if row.category else ""
        return override.category, "derived", f"{OVERRIDE_REASON_PREFIX}{written}: {override.reason}"
    if row.category is not None:
        category = CATEGORY_SPELLINGS[row.category]
        normalised = category.value != row.category
        reason = f"the document spells it {row.category!r}" if normalised else None
        return category, "document", reason
    if table == "generic-subcodes":
        return None, "derived", GENERIC_SUBCODE_REASON
    derived = _derived(table, row.code)
    return None if derived is None else (derived[0], "derived", derived[1])


def _derived(table: str, code: int | None) -> tuple[Category, str] | None:
    if code is None:
        return None
    if table == "sms-delivery":
        return _SMS_DELIVERY_RULES.get(code)
    if table == "8x8-api":
        return _derived_8x8_api(code)
    return code_class(code)


def _derived_8x8_api(code: int) -> tuple[Category, str] | None:
    if code == 2000:
        return (
            Category.UNEXPECTED_SERVER_ERROR,
            "8x8 API 2000 'Internal Error' is the platform's own failure (8x8 API codes are not "
            "HTTP codes)",
        )
    for low, high, names in _8X8_API_RANGES:
        if low <= code <= high:
            return (
                Category.EXPECTED_ERROR,
                f"8x8 API {low}-{high}: {names}, which the client can correct (8x8 API codes are "
                "not HTTP codes)",
            )
    return None


def _display(path: Path) -> str:
    """The path as a reader of this repository knows it: relative to it where it lies inside."""
    try:
        return path.resolve().relative_to(PACKAGE_DIR.parent).as_posix()
    except ValueError:
        return str(path)
