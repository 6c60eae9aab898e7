"""``python -m catalog``: what a code means and what to do, for a person or a program.

Usage::

    python -m catalog explain [--source TABLE | --action ACTION] CODE [SUBCODE] [--json]
    python -m catalog explain --status STATUS [--source TABLE] [--json]
    python -m catalog tables [--json]
    python -m catalog export

``explain``
    Without ``--source``: a code alone lists every meaning any table gives it (``explain 2000``
    is SMS delivery 2000 and 8x8 API 2000), or its code class where no table lists it; a code and
    a subcode run the call lookup (catalog.lookup) in each call domain, the domains that agree
    shown together, and show what each Call Automation action's table says where it has a row.
    With ``--action ACTION``: the lookup of a Call Automation event of that action (its table
    first: ``explain --action play 408 8565``).
    With ``--source TABLE``: what that table says (for ``generic-subcodes`` a lone number is the
    subcode). With ``--status``: what a status word means (``explain --status Bounced``).
    ``--json`` prints :meth:`catalog.lookup.Explanation.to_json`::

        {"query": {"code": int | null, "subcode": int | null, "source": str | null,
                   "action": str | null, "status": str | null},
         "known": bool, "ambiguous": bool,
         "meanings": [{"domains": [str], "rule": str, "table": str | null,
                       "action": str | null, "category": str | null,
                       "category_reason": str | null, "message": str | null,
                       "advice": str | null, "advice_from": str | null,
                       "retry": {"verdict": "permanent" | "transient" | "unknown",
                                 "reason": str, "rule": str | null},
                       "entry": <an entry as ``export`` prints it> | null}]}

``tables``
    Every table: its id, title, whether it is transcribed or written, and where its facts come
    from (the seed document, or each public page with the date it was read).

``export``
    The whole catalog as one JSON array on standard output: every entry, transcribed and written,
    as :class:`catalog.models.Entry` dumps it (source, code, subcode, status, message, category,
    category_raw, category_source, category_reason, advice, retry, origin, doc, line, line_end,
    url, read, cell, advice_note).

Exit status: 0 answered; 1 unknown code or status (the reason on standard error; with ``--json``,
also the JSON above with ``"known": false`` and a ``"reason"`` on standard output); 2 usage (a
code that is not a decimal number, an unknown table or action); 3 the catalog's files do not load.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from catalog import get_catalog
from catalog.loader import CatalogError
from catalog.lookup import Catalog, Explanation, Meaning, parse_number
from catalog.models import ACTIONS, ALL_TABLE_IDS, OVERRIDE_REASON_PREFIX, Entry, Table

EXIT_UNKNOWN = 1
EXIT_BROKEN_CATALOG = 3
_LABEL_WIDTH = 10


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        catalog = get_catalog()
    except CatalogError as err:
        print(err, file=sys.stderr)
        return EXIT_BROKEN_CATALOG
    if args.command == "export":
        _print_json([entry.to_json() for entry in catalog.all_entries], sys.stdout)
        return 0
    if args.command == "tables":
        tables = list(catalog.tables.values())
        if args.json:
            _print_json([table.model_dump(mode="json") for table in tables], sys.stdout)
        else:
            sys.stdout.write("\n\n".join(_table_block(t, catalog) for t in tables) + "\n")
        return 0
    return _explain(args, catalog)


def _explain(args: argparse.Namespace, catalog: Catalog) -> int:
    if args.status is not None:
        explanation = catalog.explain_status(args.status, args.source)
        unknown = catalog.unknown_status_message(args.status, args.source)
    else:
        explanation = catalog.explain(args.code, args.subcode, args.source, action=args.action)
        unknown = catalog.unknown_message(args.code, args.subcode, args.source)
    if not explanation.known:
        if args.json:  # a program reading stdout gets JSON whatever the answer
            _print_json({**explanation.to_json(), "reason": unknown}, sys.stdout)
        print(unknown, file=sys.stderr)
        return EXIT_UNKNOWN
    if args.json:
        _print_json(explanation.to_json(), sys.stdout)
    else:
        sys.stdout.write(render(explanation, catalog))
    return 0


def _parsers() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The program's parser, and its ``explain`` parser (which reports explain's usage errors)."""
    parser = argparse.ArgumentParser(
        prog="python -m catalog", description="What an ACS or provider error code means."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    explain = commands.add_parser(
        "explain",
        help="what a code (and subcode) or a status means, what to do",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="TABLE, for --source, is one of:\n" + "\n".join(f"  {t}" for t in ALL_TABLE_IDS),
    )
    explain.add_argument("code", metavar="CODE", type=_number, nargs="?")
    explain.add_argument("subcode", metavar="SUBCODE", type=_number, nargs="?")
    which = explain.add_mutually_exclusive_group()
    which.add_argument(
        "--source",
        metavar="TABLE",
        choices=ALL_TABLE_IDS,
        help="one table only (default: every table)",
    )
    which.add_argument(
        "--action",
        choices=ACTIONS,
        help="the Call Automation action that failed (its table is read first)",
    )
    explain.add_argument("--status", help="a status word, such as an email report's 'Bounced'")
    explain.add_argument(
        "--json", action="store_true", help="JSON for a program, an unknown code included"
    )
    tables = commands.add_parser("tables", help="every table and where its facts come from")
    tables.add_argument("--json", action="store_true", help="JSON for a program")
    commands.add_parser("export", help="the whole catalog as one JSON array")
    return parser, explain


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The arguments, with the rules argparse cannot say: a code or a status, never both."""
    parser, explain = _parsers()
    args = parser.parse_args(argv)
    if args.command == "explain":
        if (args.status is None) == (args.code is None):
            explain.error("give CODE [SUBCODE], or --status STATUS")
        if args.status is not None and (args.subcode is not None or args.action is not None):
            explain.error("--status takes no SUBCODE and no --action")
    return args


def _number(text: str) -> int:
    try:
        return parse_number(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _print_json(payload: object, stream: TextIO) -> None:
    stream.write(json.dumps(payload, ensure_ascii=False, indent=2, allow_nan=False) + "\n")


# ---- the layout for a person ------------------------------------------------------------------


def render(explanation: Explanation, catalog: Catalog) -> str:
    """The explanation laid out to read at a glance: one block per meaning."""
    count = len(explanation.meanings)
    header = f"{_asked(explanation)}: {count} meaning{'s' if count > 1 else ''}"
    if explanation.ambiguous and explanation.subcode is not None and not explanation.source:
        header += " (it depends on the event family: see each 'match' line)"
    elif explanation.ambiguous:
        header += " (several tables give this code: --source TABLE picks one)"
    blocks = [
        _block(meaning, catalog, f"[{number}] " if explanation.ambiguous else "")
        for number, meaning in enumerate(explanation.meanings, start=1)
    ]
    return "\n\n".join([header, *blocks]) + "\n"


def _asked(explanation: Explanation) -> str:
    if explanation.status is not None:
        asked = f"status {explanation.status!r}"
    else:
        asked = f"code {explanation.code}"
    if explanation.subcode is not None:
        asked += f", subcode {explanation.subcode}"
    if explanation.action:
        asked += f" for action {explanation.action}"
    return asked + (f" in {explanation.source}" if explanation.source else "")


def _block(meaning: Meaning, catalog: Catalog, number: str) -> str:
    match, entry = meaning.match, meaning.match.entry
    title = f"{number}{entry.key if entry else 'no table row'}"
    if entry and entry.cell:
        title += f"  (written {entry.cell!r})"
    fields: list[tuple[str, str | None]] = [
        ("message", match.message),
        ("category", _category_text(meaning)),
        ("advice", _advice_text(meaning)),
        ("retry", f"{match.retry.verdict}: {match.retry.reason}"),
    ]
    if entry is not None:
        table = catalog.tables.get(entry.source)
        fields += [
            ("table", f"{entry.source}: {table.title}" if table else entry.source),
            _provenance(entry),
            ("url", entry.url),
        ]
    fields.append(("match", _match_text(meaning, catalog)))
    return "\n".join([title, *(_field(label, value) for label, value in fields if value)])


def _provenance(entry: Entry) -> tuple[str, str | None]:
    """Where the entry's words come from: a line of a seed document, or a page read on a date."""
    if entry.origin == "written":
        where = f"{entry.doc}, {_lines(entry.line, entry.line_end)}"
        return (
            "source",
            f"written for this catalog ({where}) from the page below, read {entry.read}",
        )
    return "document", f"{entry.doc}, {_lines(entry.line, entry.line_end)}"


def _match_text(meaning: Meaning, catalog: Catalog) -> str:
    match = meaning.match
    domains = ", ".join(domain.value for domain in meaning.domains)
    text = f"{match.rule}, for {domains} events"
    table = catalog.tables.get(match.table) if match.table else None
    if match.action and table is not None and table.action == match.action:
        text += f" of action {match.action} ({', '.join(table.events)})"
    return text


def _table_block(table: Table, catalog: Catalog) -> str:
    rows = len(catalog.table_entries(table.table))
    lines = [f"{table.table}: {table.title}", f"  {table.origin}, {rows} rows"]
    if table.doc:
        lines.append(f"  document  {table.doc}" + (f" ({table.url})" if table.url else ""))
    if table.action:
        lines.append(f"  action    {table.action}: {', '.join(table.events)}")
    lines += [f"  source    {s.title}, read {s.read}\n            {s.url}" for s in table.sources]
    return "\n".join(lines)


def _category_text(meaning: Meaning) -> str:
    match, entry = meaning.match, meaning.match.entry
    if match.category is None:
        return f"none ({match.category_reason})"
    if (
        entry is not None
        and entry.category_source == "written"
        and match.category == entry.category
    ):
        return f"{match.category.value} (written: {match.category_reason})"
    if (
        entry is not None
        and entry.category_source == "document"
        and match.category == entry.category
    ):
        written = (
            f", written {entry.category_raw!r}" if entry.category_raw != match.category else ""
        )
        return f"{match.category.value} (from the document{written})"
    reason = match.category_reason or ""
    if (
        entry is not None
        and entry.category is not None
        and not reason.startswith(OVERRIDE_REASON_PREFIX)
    ):
        return f"{match.category.value} (derived: {reason})"
    return f"{match.category.value} ({reason})"


def _advice_text(meaning: Meaning) -> str:
    match = meaning.match
    if match.advice is None:
        return "none given"
    entry = match.entry
    if entry is not None and match.advice_from != entry.key:
        return f"{match.advice}\n(from {match.advice_from})"
    return match.advice


def _lines(first: int, last: int) -> str:
    return f"line {first}" if first == last else f"lines {first}-{last}"


def _field(label: str, value: str) -> str:
    indent = "\n" + " " * (_LABEL_WIDTH + 2)
    return f"  {label:<{_LABEL_WIDTH}}{indent.join(value.splitlines())}"
