"""``python -m handlers serve | replay | deadletter | doctor``: the local host, the offline
replay, the dead letters Event Grid gave up on, and a check of a deployment from outside.

``serve`` and ``replay`` run on embedded defaults so that they work on a fresh machine with no
configuration: alerts go to ``alerts.jsonl`` in the current folder when no destination is set,
and ``serve`` turns the Call Automation JWT check off unless told otherwise, and says so.
``deadletter replay`` takes the same settings as the app (set them as the deployment does to
reach its destinations and its dedupe table); ``doctor`` needs only the app's URL.
"""

from __future__ import annotations

import argparse
import errno
import getpass
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from handlers import __version__
from handlers.alerting.matchers import parse_matcher
from handlers.errors import InvalidSilence, StateUnavailable, TriageError, UnknownSilence
from handlers.http.problems import problem_of
from handlers.inbound.envelope import decode_body, parse_events
from handlers.notify.silences import parse_duration
from handlers.records import EventRecord, ReplayRecord
from handlers.runtime import Runtime, build_sinks, get_runtime, reset_runtime
from handlers.settings import SettingsError, load_settings
from handlers.tools.console import DeliveryLines, destinations
from handlers.tools.terminal import TerminalSink

DEFAULT_ALERT_FILE = "alerts.jsonl"
DEAD_LETTER_CONTAINER = "eventgrid-deadletter"
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
    _log_to_stderr(verbose=args.verbose)
    try:
        if args.command == "serve":
            return serve(args.host, args.port, quiet=args.quiet, function_key=args.function_key)
        if args.command == "deadletter":
            return deadletter(args)
        if args.command == "doctor":
            from handlers.tools.doctor import run_doctor

            return run_doctor(args.url, code=args.code, topic=args.topic, timeout=args.timeout)
        if args.command == "silence":
            return silence(args)
        return replay([Path(p) for p in args.files], as_json=args.json)
    except SettingsError as error:
        print(f"acs-triage: {error}", file=sys.stderr)
        return 2
    except (InvalidSilence, UnknownSilence, StateUnavailable) as error:
        print(f"acs-triage: {error.detail}", file=sys.stderr)
        return 2


def _log_to_stderr(*, verbose: bool) -> None:
    """Warnings always, every log line with ``-v``; each one JSON, as the app writes them."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])


def _parser() -> argparse.ArgumentParser:
    defaults = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(
        prog="python -m handlers", description=__doc__.split("\n")[0], formatter_class=defaults
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every delivery")
    # -v is also taken after the command (``serve --port 8080 -v``); SUPPRESS keeps a -v given
    # before the command from being reset by the command's own default.
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log every line"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser(
        "serve", help="serve the app's routes under /api locally", parents=[verbose],
        formatter_class=defaults,
    )
    serve_cmd.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve_cmd.add_argument("--port", type=int, default=7071, help="port (0: any free one)")
    serve_cmd.add_argument("--quiet", action="store_true", help="no access log")
    serve_cmd.add_argument(
        "--function-key",
        help="require this key (?code= or x-functions-key) on the routes Azure protects with one",
    )
    replay_cmd = commands.add_parser(
        "replay", help="run payload files through the pipeline", parents=[verbose],
        formatter_class=defaults,
    )
    replay_cmd.add_argument(
        "files", nargs="+", metavar="PATH", help="a JSON payload file, or a folder of *.json"
    )
    replay_cmd.add_argument("--json", action="store_true", help="one JSON array on stdout")
    _add_deadletter_parser(commands)
    doctor_cmd = commands.add_parser(
        "doctor", help="check a running deployment as Event Grid and Call Automation reach it"
    )
    doctor_cmd.add_argument("url", help="the app's base URL (https://<app>.azurewebsites.net)")
    doctor_cmd.add_argument(
        "--code", default=os.environ.get("FUNCTION_KEY"), help="a function key (env FUNCTION_KEY)"
    )
    doctor_cmd.add_argument(
        "--topic",
        default=os.environ.get("ACS_RESOURCE_ID"),
        help="topic of the test validation event: the ACS resource id (env ACS_RESOURCE_ID)",
    )
    doctor_cmd.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    _add_silence_parser(commands)
    return parser


def _add_deadletter_parser(commands: Any) -> None:
    deadletter_cmd = commands.add_parser(
        "deadletter", help="list or replay the events Event Grid dead-lettered"
    )
    actions = deadletter_cmd.add_subparsers(dest="action", required=True)
    for action, help_text in (
        ("list", "show each dead-lettered event and why Event Grid gave up on it"),
        ("replay", "run them through the pipeline again and mark their blobs"),
    ):
        sub = actions.add_parser(action, help=help_text)
        sub.add_argument(
            "--container-url",
            default=os.environ.get("DEAD_LETTER_CONTAINER_URL"),
            help="the container, reached with your Entra ID identity "
            "(the deployment's output DEAD_LETTER_CONTAINER_URL; env of the same name)",
        )
        sub.add_argument(
            "--connection-string",
            default=os.environ.get("DEAD_LETTER_CONNECTION_STRING"),
            help="a storage connection string instead (Azurite; env DEAD_LETTER_CONNECTION_STRING)",
        )
        sub.add_argument(
            "--container", default=DEAD_LETTER_CONTAINER, help="container name (connection string)"
        )
        sub.add_argument("--subscription", help="only this Event Grid subscription's blobs")
        sub.add_argument("--since", help="dead-lettered at or after: ISO time, or 90m/24h/7d ago")
        sub.add_argument("--until", help="dead-lettered before: ISO time, or 90m/24h/7d ago")
        sub.add_argument("--json", action="store_true", help="one JSON array on stdout")
        if action == "replay":
            sub.add_argument(
                "--dry-run", action="store_true", help="show what would be replayed, change nothing"
            )
            sub.add_argument(
                "--include-replayed",
                action="store_true",
                help="replay blobs marked replayed too (duplicates send nothing)",
            )


def deadletter(args: argparse.Namespace) -> int:
    """``deadletter list | replay``: 0 done, 1 an event failed again, 2 nothing to read from."""
    from handlers.tools import deadletter as dead

    if args.connection_string:
        container = dead.DeadLetterContainer.from_connection_string(
            args.connection_string, args.container
        )
    elif args.container_url:
        container = dead.DeadLetterContainer.from_url(
            args.container_url, client_id=os.environ.get("AZURE_CLIENT_ID")
        )
    else:
        print(
            "acs-triage: give --container-url (or DEAD_LETTER_CONTAINER_URL, the deployment's "
            "output) or --connection-string",
            file=sys.stderr,
        )
        return 2
    try:
        window = {
            "subscription": args.subscription,
            "since": dead.parse_time(args.since) if args.since else None,
            "until": dead.parse_time(args.until) if args.until else None,
        }
    except ValueError as error:
        print(f"acs-triage: --since/--until: {error}", file=sys.stderr)
        return 2
    replaying = args.action == "replay"
    if replaying:
        for note in _replay_notes():
            print(f"note: {note}", file=sys.stderr)
        report = dead.replay_dead_letters(
            container,
            get_runtime(),
            dry_run=args.dry_run,
            include_replayed=args.include_replayed,
            **window,
        )
    else:
        report = dead.list_dead_letters(container, **window)
    if args.json:
        json.dump(dead.report_json(report), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        dead.print_report(report, sys.stdout, replaying=replaying)
    return 1 if report.failed else 0


def _replay_notes() -> list[str]:
    """What the operator must know about the settings a replay runs with."""
    # Dead letters are Event Grid deliveries, never callbacks: the JWT check has nothing to check.
    notes = [n for n in apply_local_defaults(os.environ, jwt_off=True) if "JWT" not in n]
    if os.environ.get("DEDUPE_STORE", "memory") == "memory":
        notes.append(
            "the dedupe store is in memory: events the app already handled will alert again. "
            "Set DEDUPE_STORE=table and DEDUPE_TABLE_SERVICE_URI as the deployment does."
        )
    return notes


def _add_silence_parser(commands: Any) -> None:
    silence_cmd = commands.add_parser(
        "silence", help="add, list or expire silences in the configured state store"
    )
    actions = silence_cmd.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="mute the groups whose labels match")
    add.add_argument(
        "--matcher", "--match", dest="matchers", action="append", required=True,
        metavar="LABEL=VALUE",
        help="a label matcher, as Alertmanager writes them: code=503, origin!=microsoft, "
        "channel=~'call|sms', code!~'5..' (repeat it: every one must match)",
    )
    add.add_argument("--duration", "--for", dest="duration", required=True, help="90m, 2h, 1d")
    add.add_argument("--comment", required=True)
    add.add_argument(
        "--author", default=_os_user(), help="who silences (default: the OS user)"
    )
    listing = actions.add_parser("list", help="the active silences (--expired: all)")
    listing.add_argument("--expired", action="store_true")
    expire = actions.add_parser("expire", help="end a silence now")
    expire.add_argument("id")


def _os_user() -> str:
    """Who runs the command, as the OS knows them; ``unknown`` where it cannot say."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return "unknown"


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
            [parse_matcher(text) for text in args.matchers],
            parse_duration(args.duration),
            args.comment,
            args.author,
        )
        print(json.dumps(made.to_json()))
    elif args.action == "list":
        for one in silences.all(include_expired=args.expired):
            print(json.dumps(one.to_json()))
    else:
        print(json.dumps(silences.expire(args.id).to_json()))
    return 0


def serve(host: str, port: int, *, quiet: bool = False, function_key: str | None = None) -> int:
    from handlers.tools.localhost import FlusherThread, make_server, server_routes

    notes = apply_local_defaults(os.environ, jwt_off=True)
    if function_key:
        notes.append("routes other than /api/health need the function key, as in Azure")
    settings = load_settings()  # validated before anything listens
    # The terminal is one more destination: each notification printed as a block.
    runtime = Runtime.build(settings, sinks=[*build_sinks(settings), TerminalSink()])
    reset_runtime(runtime)
    try:
        server = make_server(
            host, port, access_log=not quiet, function_key=function_key or None
        )
    except OSError as error:  # the port is taken (EADDRINUSE), or not ours to take (EACCES)
        reason = "is already in use" if error.errno == errno.EADDRINUSE else "cannot be used"
        print(
            f"acs-triage: port {port} on {host} {reason} ({error.strerror}); "
            "stop what holds it or choose another with --port",
            file=sys.stderr,
        )
        return 2
    bound_host, bound_port = server.server_address[:2]
    base = f"http://{bound_host!s}:{bound_port}/api"
    out = sys.stderr
    entries = len(runtime.pipeline.catalog.all_entries)
    print(f"acs-triage {__version__} on {base}  ({entries} catalog entries)", file=out)
    for route in server_routes(server):
        print(f"  {', '.join(route.methods):13} {base}/{route.route}", file=out)
    in_use = destinations(runtime.settings)
    print(f"  alerts to      {'; '.join(in_use) if in_use else 'nowhere'}", file=out)
    for note in notes:
        print(f"  note: {note}", file=out)
    sink_names = _alert_sink_names(runtime)
    # One readable line per delivery, whatever -v says: the app's log records carry the data.
    app_logger = logging.getLogger("acs_triage")
    app_logger.setLevel(logging.INFO)
    app_logger.addHandler(DeliveryLines(sink_names, out))
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



def _alert_sink_names(runtime: Runtime) -> list[str]:
    """Where alerts go: the terminal prints notifications only, and other destinations may
    have chosen notifications only too (ALERT_*_RECEIVES)."""
    flusher = runtime.flusher
    if flusher is None:
        return []
    return [
        sink.name
        for sink in flusher.sinks
        if not isinstance(sink, TerminalSink) and flusher.takes_alerts(sink)
    ]

def replay(files: Sequence[Path], *, as_json: bool, out: TextIO = sys.stdout) -> int:
    """Run each file (a folder: its ``*.json``) through the pipeline in one process.

    1 when a file cannot be read or is not JSON, or an alert destination failed; 0 otherwise
    (JSON that is not an event delivery is reported as the route would answer it).
    """
    # Replay reads files, never callbacks: the JWT check has nothing to check here.
    notes = apply_local_defaults(os.environ, jwt_off=True)
    notes = [note for note in notes if "JWT" not in note]
    runtime = get_runtime()
    records: list[ReplayRecord] = []
    failed = False
    for path in payload_files(files):
        file_records, file_failed = _replay_file(path, runtime)
        records.extend(file_records)
        failed = failed or file_failed
    try:
        failed = any(report.failed for report in runtime.flush()) or failed
    except StateUnavailable:
        failed = True
    if as_json:
        json.dump(
            [record.to_json() for record in records], out, ensure_ascii=False, indent=2,
            allow_nan=False,
        )
        out.write("\n")
    else:
        _print_table(records, out)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    return 1 if failed else 0


def payload_files(paths: Sequence[Path]) -> list[Path]:
    """The paths as given, each folder replaced by its ``*.json`` files in name order."""
    return [
        found
        for path in paths
        for found in (sorted(path.glob("*.json")) if path.is_dir() else [path])
    ]


def _replay_file(path: Path, runtime: Runtime) -> tuple[list[ReplayRecord], bool]:
    try:
        body = path.read_bytes()
    except OSError as error:
        return [ReplayRecord.unreadable(str(path), f"cannot read: {error.strerror}")], True
    is_json = False
    try:
        payload = decode_body(body)
        is_json = True
        delivery = runtime.pipeline.run(parse_events(payload), way_in=f"replay:{path.name}")
    except TriageError as error:
        # What the route would answer with a 4xx/503: no event of this file was handled. JSON
        # that is not an event delivery is reported as the route would answer it; a file that
        # is not JSON at all, or a destination or store that failed (503), fails the replay.
        problem = problem_of(error)
        status = problem.status if problem else 500
        failed = not is_json or status >= 500
        return [ReplayRecord.unreadable(str(path), f"{status}: {error.detail}")], failed
    return [ReplayRecord(t.record(), str(path)) for t in delivery.triages], False


def _print_table(records: Sequence[ReplayRecord], out: TextIO) -> None:
    """One block per file, one aligned line per event, then the totals."""
    rows = [_row(record.event) for record in records]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(4)]
    current_file = None
    for record, row in zip(records, rows, strict=True):
        if record.file != current_file:
            current_file = record.file
            print(f"{'' if current_file == records[0].file else chr(10)}{current_file}", file=out)
        cells = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        print(f"  {cells}  {row[4]}".rstrip(), file=out)
    counts = Counter(record.event.outcome for record in records)
    alerts = sum(1 for record in records if record.event.alert)
    summary = ", ".join(f"{n} {name}" for name, n in counts.most_common())
    print(f"\n{len(records)} event(s): {summary}; {alerts} alert(s) sent", file=out)


def _row(record: EventRecord) -> list[str]:
    """outcome, type, code/subcode, category, then what to know about it."""
    event_type = (record.type or "-").removeprefix("Microsoft.Communication.")
    code = "-" if record.code is None else str(record.code)
    if record.subcode is not None:
        code += f"/{record.subcode}"
    if record.alert:
        data = record.alert.data
        detail = f"alert {record.alert.id[:8]} ({data.kind}): {data.reason}"
    elif record.outcome == "duplicate":
        detail = "already handled: no second alert"
    else:
        detail = record.message or record.reason or ""
    category = record.category or "-"
    if record.match:
        category += f" ({record.match})"
    return [record.outcome, event_type, code, category, detail]
