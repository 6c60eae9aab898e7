"""``python -m catalog``: what a code means and what to do, for a person or a program.

Usage::

    python -m catalog explain [--source TABLE] CODE [SUBCODE] [--json]
    python -m catalog export

``explain``
    Without ``--source``: a code alone lists every meaning any table gives it (``explain 2000``
    is SMS delivery 2000 and 8x8 API 2000), or its code class where no table lists it; a code and
    a subcode run the call lookup (catalog.lookup) in each call domain, the domains that agree
    shown together.
    With ``--source TABLE``: what that table says (for ``generic-subcodes`` a lone number is the
    subcode). ``--json`` prints :meth:`catalog.lookup.Explanation.to_json`::

        {"query": {"code": int, "subcode": int | null, "source": str | null},
         "known": bool, "ambiguous": bool,
         "meanings": [{"domains": [str], "rule": str, "category": str | null,
                       "category_reason": str | null, "message": str | null,
                       "advice": str | null, "advice_from": str | null,
                       "retry": {"verdict": "permanent" | "transient" | "unknown",
                                 "reason": str, "rule": str | null},
                       "entry": <an entry as ``export`` prints it> | null}]}

``export``
    The whole catalog as one JSON array on standard output: every entry as
    :class:`catalog.models.Entry` dumps it (source, code, subcode, message, category, category_raw,
    category_source, category_reason, advice, retry, doc, line, line_end, url, cell, advice_note).

Exit status: 0 answered; 1 unknown code (the reason on standard error; with ``--json``, also the
JSON above with ``"known": false`` and a ``"reason"`` on standard output); 2 usage (a code that is
not a decimal number, an unknown table); 3 the catalog's files do not load.
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
from catalog.models import OVERRIDE_REASON_PREFIX, TABLE_IDS

EXIT_UNKNOWN = 1
EXIT_BROKEN_CATALOG = 3
_LABEL_WIDTH = 10


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        catalog = get_catalog()
    except CatalogError as err:
        print(err, file=sys.stderr)
        return EXIT_BROKEN_CATALOG
    if args.command == "export":
        _print_json([entry.to_json() for entry in catalog.entries], sys.stdout)
        return 0
    explanation = catalog.explain(args.code, args.subcode, args.source)
    if not explanation.known:
        reason = catalog.unknown_message(args.code, args.subcode, args.source)
        if args.json:  # a program reading stdout gets JSON whatever the answer
            _print_json({**explanation.to_json(), "reason": reason}, sys.stdout)
        print(reason, file=sys.stderr)
        return EXIT_UNKNOWN
    if args.json:
        _print_json(explanation.to_json(), sys.stdout)
    else:
        sys.stdout.write(render(explanation, catalog))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m catalog", description="What an ACS or provider error code means."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    explain = commands.add_parser(
        "explain",
        help="what a code (and subcode) means, what to do",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="TABLE, for --source, is one of:\n" + "\n".join(f"  {t}" for t in TABLE_IDS),
    )
    explain.add_argument("code", metavar="CODE", type=_number)
    explain.add_argument("subcode", metavar="SUBCODE", type=_number, nargs="?")
    explain.add_argument(
        "--source",
        metavar="TABLE",
        choices=TABLE_IDS,
        help="one table only (default: every table)",
    )
    explain.add_argument(
        "--json", action="store_true", help="JSON for a program, an unknown code included"
    )
    commands.add_parser("export", help="the whole catalog as one JSON array")
    return parser


def _number(text: str) -> int:
    try:
        return parse_number(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _print_json(payload: object, stream: TextIO) -> None:
    stream.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")


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
    asked = f"code {explanation.code}"
    if explanation.subcode is not None:
        asked += f", subcode {explanation.subcode}"
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
            ("document", f"{entry.doc}, {_lines(entry.line, entry.line_end)}"),
            ("url", entry.url),
        ]
    domains = ", ".join(domain.value for domain in meaning.domains)
    fields.append(("match", f"{match.rule}, for {domains} events"))
    return "\n".join([title, *(_field(label, value) for label, value in fields if value)])


def _category_text(meaning: Meaning) -> str:
    match, entry = meaning.match, meaning.match.entry
    if match.category is None:
        return f"none ({match.category_reason})"
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
