"""``python -m handlers serve | replay``: the local host and the offline replay.

Both run on embedded defaults so that they work on a fresh machine with no configuration:
alerts go to ``alerts.jsonl`` in the current folder when no destination is set, and ``serve``
turns the Call Automation JWT check off unless told otherwise, and says so.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from handlers import __version__
from handlers.errors import InvalidSilence, StateUnavailable, TriageError, UnknownSilence
from handlers.http.problems import problem_of
from handlers.inbound.envelope import decode_body, parse_events
from handlers.notify.silences import parse_duration, parse_matchers
from handlers.pipeline import Triage
from handlers.runtime import Runtime, build_sinks, get_runtime, reset_runtime
from handlers.settings import SettingsError, load_settings
from handlers.tools.terminal import TerminalSink

DEFAULT_ALERT_FILE = "alerts.jsonl"
SINK_VARIABLES = ("ALERT_FILE", "ALERT_TOPIC_ENDPOINT", "ALERT_WEBHOOK_URL")


def apply_local_defaults(environ: MutableMapping[str, str], *, jwt_off: bool) -> list[str]:
    """Fill in the embedded local defaults; return a line for each one applied."""
    applied = []
    if not any(environ.get(name) for name in SINK_VARIABLES):
        environ["ALERT_FILE"] = DEFAULT_ALERT_FILE
        applied.append(
            f"alerts go to {DEFAULT_ALERT_FILE} (set ALERT_FILE, "
            "ALERT_TOPIC_ENDPOINT or ALERT_WEBHOOK_URL to change)"
        )
    if jwt_off and "CALLBACK_JWT_REQUIRED" not in environ:
        environ["CALLBACK_JWT_REQUIRED"] = "false"
        applied.append(
            "the Call Automation JWT check is OFF for local use "
            "(set CALLBACK_JWT_REQUIRED=true and CALLBACK_AUDIENCE to turn it on)"
        )
    return applied


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(message)s",
    )
    try:
        if args.command == "serve":
            return serve(args.host, args.port, quiet=args.quiet)
        if args.command == "silence":
            return silence(args)
        return replay([Path(p) for p in args.files], as_json=args.json)
    except SettingsError as error:
        print(f"acs-triage: {error}", file=sys.stderr)
        return 2
    except (InvalidSilence, UnknownSilence, StateUnavailable) as error:
        print(f"acs-triage: {error.detail}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m handlers", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log every delivery")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="serve the app's routes under /api locally")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=7071)
    serve_cmd.add_argument("--quiet", action="store_true", help="no access log")
    replay_cmd = commands.add_parser("replay", help="run payload files through the pipeline")
    replay_cmd.add_argument("files", nargs="+", metavar="FILE")
    replay_cmd.add_argument("--json", action="store_true", help="one JSON array on stdout")
    silence_cmd = commands.add_parser(
        "silence", help="add, list or expire silences in the configured state store"
    )
    actions = silence_cmd.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="mute the groups whose labels match")
    add.add_argument("--match", action="append", required=True, metavar="LABEL=VALUE")
    add.add_argument("--for", dest="duration", required=True, help="90m, 2h, 1d")
    add.add_argument("--comment", required=True)
    listing = actions.add_parser("list", help="the active silences (--expired: all)")
    listing.add_argument("--expired", action="store_true")
    expire = actions.add_parser("expire", help="end a silence now")
    expire.add_argument("id")
    return parser


def silence(args: argparse.Namespace) -> int:
    """The silences of the configured state store, one JSON object per line on stdout."""
    from handlers.http.silences import silences_of_runtime

    runtime = get_runtime()
    if runtime.settings.dedupe_store == "memory":
        print(
            "note: DEDUPE_STORE is memory: silences made here last as long as this command; "
            "use /api/silences on the running host, or the table store",
            file=sys.stderr,
        )
    silences = silences_of_runtime()
    if args.action == "add":
        made = silences.add(
            parse_matchers(args.match), parse_duration(args.duration), args.comment
        )
        print(json.dumps(made.to_json()))
    elif args.action == "list":
        for one in silences.all(include_expired=args.expired):
            print(json.dumps(one.to_json()))
    else:
        print(json.dumps(silences.expire(args.id).to_json()))
    return 0


def serve(host: str, port: int, *, quiet: bool = False) -> int:
    from handlers.tools.localhost import FlusherThread, make_server, server_routes

    notes = apply_local_defaults(os.environ, jwt_off=True)
    settings = load_settings()  # validated before anything listens
    # The terminal is one more destination: each notification printed as a block.
    runtime = Runtime.build(settings, sinks=[*build_sinks(settings), TerminalSink()])
    reset_runtime(runtime)
    server = make_server(host, port, access_log=not quiet)
    bound_host, bound_port = server.server_address[:2]
    base = f"http://{bound_host!s}:{bound_port}/api"
    out = sys.stderr
    entries = len(runtime.pipeline.catalog.entries)
    print(f"acs-triage {__version__} on {base}  ({entries} catalog entries)", file=out)
    for route in server_routes(server):
        print(f"  {', '.join(route.methods):13} {base}/{route.route}", file=out)
    for note in notes:
        print(f"  note: {note}", file=out)
    print("Ctrl-C stops it.", file=out, flush=True)
    flusher = FlusherThread(runtime)
    flusher.start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopped", file=out)
    finally:
        server.server_close()
        flusher.stop()
    return 0


def replay(files: Sequence[Path], *, as_json: bool, out: TextIO = sys.stdout) -> int:
    """Run each file through the pipeline in one process; 1 if an alert destination failed."""
    # Replay reads files, never callbacks: the JWT check has nothing to check here.
    notes = apply_local_defaults(os.environ, jwt_off=True)
    notes = [note for note in notes if "JWT" not in note]
    runtime = get_runtime()
    records: list[dict[str, Any]] = []
    failed = False
    for path in files:
        file_records, file_failed = _replay_file(path, runtime)
        records.extend(file_records)
        failed = failed or file_failed
    try:
        failed = any(report.failed for report in runtime.flush()) or failed
    except StateUnavailable:
        failed = True
    if as_json:
        json.dump(records, out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        _print_table(records, out)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    return 1 if failed else 0


def _replay_file(path: Path, runtime: Runtime) -> tuple[list[dict[str, Any]], bool]:
    try:
        body = path.read_bytes()
    except OSError as error:
        return [_file_problem(path, f"cannot read: {error.strerror}")], True
    try:
        envelopes = parse_events(decode_body(body))
        delivery = runtime.pipeline.run(envelopes, way_in=f"replay:{path.name}")
    except TriageError as error:
        # What the route would answer with a 4xx/503: no event of this file was handled.
        problem = problem_of(error)
        status = problem.status if problem else 500
        return [_file_problem(path, f"{status}: {error.detail}")], status >= 500
    return [_record(t, path) for t in delivery.triages], False


def _record(triage: Triage, path: Path) -> dict[str, Any]:
    return {**triage.record(with_alert=True), "file": str(path)}


def _file_problem(path: Path, reason: str) -> dict[str, Any]:
    return {
        "id": None,
        "type": None,
        "outcome": "invalid",
        "code": None,
        "subcode": None,
        "category": None,
        "match": None,
        "source": None,
        "advice": None,
        "reason": reason,
        "alert": None,
        "file": str(path),
    }


def _print_table(records: Sequence[dict[str, Any]], out: TextIO) -> None:
    """One block per file, one aligned line per event, then the totals."""
    rows = [_row(record) for record in records]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(4)]
    current_file = None
    for record, row in zip(records, rows, strict=True):
        if record["file"] != current_file:
            current_file = record["file"]
            print(
                f"{'' if current_file == records[0]['file'] else chr(10)}{current_file}", file=out
            )
        cells = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        print(f"  {cells}  {row[4]}".rstrip(), file=out)
    counts = Counter(record["outcome"] for record in records)
    alerts = sum(1 for record in records if record["alert"])
    summary = ", ".join(f"{n} {name}" for name, n in counts.most_common())
    print(f"\n{len(records)} event(s): {summary}; {alerts} alert(s) sent", file=out)


def _row(record: dict[str, Any]) -> list[str]:
    """outcome, type, code/subcode, category, then what to know about it."""
    event_type = (record["type"] or "-").removeprefix("Microsoft.Communication.")
    code = "-" if record["code"] is None else str(record["code"])
    if record["subcode"] is not None:
        code += f"/{record['subcode']}"
    if record["alert"]:
        data = record["alert"]["data"]
        detail = f"alert {record['alert']['id'][:8]} ({data['kind']}): {data['reason']}"
    elif record["outcome"] == "duplicate":
        detail = "already handled: no second alert"
    else:
        detail = record.get("message") or record["reason"] or ""
    category = record["category"] or "-"
    if record["match"]:
        category += f" ({record['match']})"
    return [record["outcome"], event_type, code, category, detail]
