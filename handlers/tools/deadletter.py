"""``python -m handlers deadletter list | replay``: the events Event Grid gave up on, read back
from the dead-letter container and brought back through the pipeline.

Event Grid writes a blob per batch of events it could not deliver (or was told, with 400 or
413, never to retry), named ``<TOPIC>/<SUBSCRIPTION>/<yyyy>/<M>/<d>/<H>/<guid>.json``: names
upper-cased, the date and hour of dead-lettering in UTC without zero padding. Each blob is a JSON
array of the original events, each with ``deadLetterReason``, ``deliveryAttempts``,
``lastDeliveryOutcome``, ``lastHttpStatusCode``, ``publishTime`` and ``lastDeliveryAttemptTime``
added (spelled in lower case in the CloudEvents schema).

``replay`` runs every event through the app's own pipeline, built from the same settings as the
app (alert destinations, dedupe store). The event claim makes a second replay, or the replay of an
event that did arrive after all, a ``duplicate``: nothing is alerted twice, provided the replay
uses the app's dedupe table (``DEDUPE_STORE=table``). A blob whose events all went through is
marked (blob metadata ``acstriage_replayed_at``) and left out afterwards; a blob with an event
that fails again stays as it was, marked with the reason (``acstriage_replay_error``), and is
tried again next time.

The container is reached with an Entra ID identity (``--container-url``, the deployment's output
``DEAD_LETTER_CONTAINER_URL``; needs Storage Blob Data Contributor) or with a connection string
(``--connection-string``, Azurite).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TextIO

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from handlers.errors import TriageError
from handlers.inbound.envelope import parse_events
from handlers.inbound.handshake import check_topics
from handlers.state.outbox import MemoryOutbox

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

    from handlers.runtime import Runtime

DEFAULT_CONTAINER = "eventgrid-deadletter"
REPLAYED_AT = "acstriage_replayed_at"
REPLAY_FAILED_AT = "acstriage_replay_failed_at"
REPLAY_ERROR = "acstriage_replay_error"
# Blob metadata values are ASCII and together at most 8 KiB: the reasons are kept short.
MAX_REASON_CHARS = 1000
_BLOB_DATE = re.compile(r"^(?P<year>\d{4})/(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<hour>\d{1,2})$")
_NO_HOUR = datetime.max.replace(tzinfo=UTC)  # blobs outside Event Grid's layout come last
_RELATIVE = re.compile(r"^(?P<amount>\d+)(?P<unit>[mhd])$")

# The fields Event Grid adds to a dead-lettered event, in both schemas' spellings.
DEAD_LETTER_FIELDS = frozenset(
    {
        "deadLetterReason",
        "deliveryAttempts",
        "lastDeliveryOutcome",
        "lastHttpStatusCode",
        "publishTime",
        "lastDeliveryAttemptTime",
        "deadletterreason",
        "deliveryattempts",
        "lastdeliveryoutcome",
        "lasthttpstatuscode",
        "publishtime",
        "lastdeliveryattempttime",
    }
)


class DeadLetterFields(BaseModel):
    """Why Event Grid gave up on one event, as it wrote it beside the event."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    reason: str | None = Field(
        None, validation_alias=AliasChoices("deadLetterReason", "deadletterreason")
    )
    attempts: int | None = Field(
        None, validation_alias=AliasChoices("deliveryAttempts", "deliveryattempts")
    )
    last_outcome: str | None = Field(
        None, validation_alias=AliasChoices("lastDeliveryOutcome", "lastdeliveryoutcome")
    )
    last_http_status: int | None = Field(
        None, validation_alias=AliasChoices("lastHttpStatusCode", "lasthttpstatuscode")
    )
    publish_time: datetime | None = Field(
        None, validation_alias=AliasChoices("publishTime", "publishtime")
    )
    last_attempt_time: datetime | None = Field(
        None, validation_alias=AliasChoices("lastDeliveryAttemptTime", "lastdeliveryattempttime")
    )


def read_fields(item: dict[str, Any]) -> DeadLetterFields:
    """The dead-letter fields of an event; a field Event Grid wrote in a shape it does not
    document is read as missing rather than losing the event."""
    data = {key: value for key, value in item.items() if key in DEAD_LETTER_FIELDS}
    while True:
        try:
            return DeadLetterFields.model_validate(data)
        except ValidationError as error:
            wrong = {str(problem["loc"][0]) for problem in error.errors() if problem["loc"]}
            if not wrong & set(data):
                return DeadLetterFields()
            data = {key: value for key, value in data.items() if key not in wrong}


# --- where a blob sits in Event Grid's layout ---------------------------------------------


@dataclass(frozen=True, slots=True)
class BlobName:
    """A dead-letter blob's name, read as Event Grid lays them out."""

    name: str
    topic: str | None
    subscription: str | None
    hour: datetime | None  # start of the UTC hour the events were dead-lettered in

    @classmethod
    def parse(cls, name: str) -> BlobName:
        parts = name.split("/")
        if len(parts) < 6 or not parts[-1].lower().endswith(".json"):
            return cls(name, None, None, None)
        match = _BLOB_DATE.match("/".join(parts[-5:-1]))
        hour = None
        if match:
            try:
                hour = datetime(
                    int(match["year"]),
                    int(match["month"]),
                    int(match["day"]),
                    int(match["hour"]),
                    tzinfo=UTC,
                )
            except ValueError:  # a month 13 or an hour 24: not Event Grid's
                hour = None

        subscription = parts[-6]
        topic = parts[-7] if len(parts) >= 7 else None
        return cls(name, topic, subscription, hour)

    def overlaps(self, since: datetime | None, until: datetime | None) -> bool:
        """Whether the hour of this blob overlaps [since, until); a blob of unknown hour only
        belongs to an unbounded window."""
        if since is None and until is None:
            return True
        if self.hour is None:
            return False
        end = self.hour + timedelta(hours=1)
        return (since is None or end > since) and (until is None or self.hour < until)


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """`2026-11-21T10:00:00Z`, `2026-11-21`, or a time ago: `90m`, `24h`, `7d` (UTC)."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[relative["unit"]]
        return (now or datetime.now(UTC)) - timedelta(**{unit: int(relative["amount"])})
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- the container ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadLetterBlob:
    """One dead-letter blob: its place, its replay marks, and its events as written."""

    location: BlobName
    metadata: dict[str, str]
    events: list[dict[str, Any]]
    unreadable: str | None = None  # why the blob is not a JSON array of events

    @property
    def replayed_at(self) -> str | None:
        return self.metadata.get(REPLAYED_AT)

    @property
    def state(self) -> Literal["new", "replayed", "failed"]:
        if self.replayed_at:
            return "replayed"
        return "failed" if self.metadata.get(REPLAY_FAILED_AT) else "new"


class DeadLetterContainer:
    """The dead-letter container, through the Azure Blob SDK."""

    def __init__(self, client: ContainerClient) -> None:
        self._client = client

    @classmethod
    def from_connection_string(cls, connection_string: str, container: str) -> DeadLetterContainer:
        from azure.storage.blob import ContainerClient

        return cls(ContainerClient.from_connection_string(connection_string, container))

    @classmethod
    def from_url(cls, container_url: str, *, client_id: str | None = None) -> DeadLetterContainer:
        from azure.identity import DefaultAzureCredential
        from azure.storage.blob import ContainerClient

        credential = DefaultAzureCredential(managed_identity_client_id=client_id or None)
        return cls(ContainerClient.from_container_url(container_url, credential=credential))

    def blobs(
        self,
        *,
        subscription: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[DeadLetterBlob]:
        """The dead-letter blobs, oldest first. Names sort '10' before '9' (the hour is not
        zero-padded), so the listing is ordered by the hour read from the name."""
        listed = []
        for properties in self._client.list_blobs(include=["metadata"]):
            location = BlobName.parse(properties.name)
            if subscription and (location.subscription or "").lower() != subscription.lower():
                continue
            if location.overlaps(since, until):
                listed.append((location, dict(properties.metadata or {})))
        listed.sort(key=lambda item: (item[0].hour or _NO_HOUR, item[0].name))
        for location, metadata in listed:
            yield self._read(location, metadata)

    def _read(self, location: BlobName, metadata: dict[str, str]) -> DeadLetterBlob:
        body = self._client.download_blob(location.name).readall()
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return DeadLetterBlob(location, metadata, [], f"not JSON: {error}")
        if isinstance(payload, dict):
            payload = [payload]
        if not isinstance(payload, list) or not all(isinstance(e, dict) for e in payload):
            return DeadLetterBlob(location, metadata, [], "not an array of events")
        return DeadLetterBlob(location, metadata, payload)

    def mark_replayed(self, blob: DeadLetterBlob, at: datetime) -> None:
        metadata = {
            k: v for k, v in blob.metadata.items() if k not in {REPLAY_ERROR, REPLAY_FAILED_AT}
        }
        metadata[REPLAYED_AT] = at.isoformat()
        self._client.get_blob_client(blob.location.name).set_blob_metadata(metadata)

    def mark_failed(self, blob: DeadLetterBlob, at: datetime, reason: str) -> None:
        metadata = dict(blob.metadata)
        metadata[REPLAY_FAILED_AT] = at.isoformat()
        metadata[REPLAY_ERROR] = _metadata_value(reason)
        self._client.get_blob_client(blob.location.name).set_blob_metadata(metadata)


def _metadata_value(text: str) -> str:
    """Blob metadata is sent as HTTP headers: printable ASCII on one line, and short."""
    ascii_text = text.encode("ascii", "replace").decode("ascii")
    one_line = "".join(ch if ch.isprintable() else " " for ch in ascii_text)
    return one_line[:MAX_REASON_CHARS]


# --- one dead-lettered event --------------------------------------------------------------


@dataclass(slots=True)
class DeadLetter:
    """One event of a dead-letter blob and what became of it here."""

    blob: DeadLetterBlob
    index: int
    event: dict[str, Any]  # as first delivered: the dead-letter fields taken off
    fields: DeadLetterFields
    outcome: str = "-"  # pipeline verdict, "would replay", "skipped", or "failed"
    detail: str = ""

    @classmethod
    def of(cls, blob: DeadLetterBlob, index: int, item: dict[str, Any]) -> DeadLetter:
        event = {k: v for k, v in item.items() if k not in DEAD_LETTER_FIELDS}
        return cls(blob, index, event, read_fields(item))

    @property
    def event_id(self) -> str:
        value = self.event.get("id")
        return value if isinstance(value, str) else "-"

    @property
    def event_type(self) -> str:
        value = self.event.get("eventType", self.event.get("type"))
        return value if isinstance(value, str) else "-"

    def why(self) -> str:
        """Why Event Grid gave up on it, in one line."""
        fields = self.fields
        parts = [fields.reason or "no reason given"]
        if fields.last_http_status is not None or fields.last_outcome:
            status = "" if fields.last_http_status is None else f"{fields.last_http_status} "
            parts.append(f"last answer {status}{fields.last_outcome or ''}".rstrip())
        if fields.attempts is not None:
            parts.append(f"{fields.attempts} attempt(s)")
        return ", ".join(parts)

    def record(self) -> dict[str, Any]:
        location = self.blob.location
        return {
            "blob": location.name,
            "index": self.index,
            "subscription": location.subscription,
            "dead_lettered_hour": location.hour.isoformat() if location.hour else None,
            "id": self.event_id,
            "type": self.event_type,
            "dead_letter_reason": self.fields.reason,
            "delivery_attempts": self.fields.attempts,
            "last_delivery_outcome": self.fields.last_outcome,
            "last_http_status_code": self.fields.last_http_status,
            "publish_time": _iso(self.fields.publish_time),
            "last_delivery_attempt_time": _iso(self.fields.last_attempt_time),
            "state": self.blob.state,
            "outcome": self.outcome,
            "detail": self.detail,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def dead_letters(blob: DeadLetterBlob) -> list[DeadLetter]:
    return [DeadLetter.of(blob, index, item) for index, item in enumerate(blob.events)]


# --- list and replay ----------------------------------------------------------------------


@dataclass
class Report:
    """What `list` or `replay` found and did, event by event."""

    letters: list[DeadLetter] = field(default_factory=list)
    unreadable: list[DeadLetterBlob] = field(default_factory=list)
    blobs_marked_replayed: int = 0
    blobs_marked_failed: int = 0
    blobs_skipped: int = 0

    @property
    def failed(self) -> int:
        return sum(1 for letter in self.letters if letter.outcome == "failed")


def list_dead_letters(container: DeadLetterContainer, **window: Any) -> Report:
    report = Report()
    for blob in container.blobs(**window):
        if blob.unreadable:
            report.unreadable.append(blob)
        for letter in dead_letters(blob):
            letter.outcome = blob.state
            report.letters.append(letter)
    return report


def replay_dead_letters(
    container: DeadLetterContainer,
    runtime: Runtime,
    *,
    dry_run: bool = False,
    include_replayed: bool = False,
    now: datetime | None = None,
    **window: Any,
) -> Report:
    """Replay each event of each (not yet replayed) blob through the pipeline, one event per
    run so that one failing event does not hold back the others, then mark the blob."""
    report = Report()
    for blob in container.blobs(**window):
        if blob.unreadable:
            report.unreadable.append(blob)
            continue
        letters = dead_letters(blob)
        if blob.replayed_at and not include_replayed:
            report.blobs_skipped += 1
            for letter in letters:
                letter.outcome, letter.detail = "skipped", f"replayed {blob.replayed_at}"
            report.letters.extend(letters)
            continue
        for letter in letters:
            if dry_run:
                letter.outcome = "would replay"
            else:
                _replay_one(letter, runtime)
        report.letters.extend(letters)
        if not dry_run:
            _send_now(letters, runtime)
            _mark(container, blob, letters, now or datetime.now(UTC), report)
    return report


def _send_now(letters: Sequence[DeadLetter], runtime: Runtime) -> None:
    """Send the blob's alerts from the outbox at once, before the blob is marked.

    A table outbox keeps what a destination refused for the app's flusher: the events went
    through. A memory outbox dies with this process, so an alert it could not send fails its
    event: the blob stays, and the next replay (a new process and a new memory store) triages
    it again, under the same alert id.
    """
    alerted = [letter for letter in letters if letter.outcome == "alert"]
    if not alerted or runtime.flusher is None:
        return
    try:
        failed = sorted({name for report in runtime.flush() for name in report.failed})
    except TriageError as error:
        failed, detail = ["(state store)"], error.detail
    else:
        detail = f"Alert destination(s) {', '.join(failed)} failed"
    if failed and isinstance(runtime.flusher.outbox, MemoryOutbox):
        for letter in alerted:
            letter.outcome, letter.detail = "failed", f"{detail}; the alert was not sent"


def _replay_one(letter: DeadLetter, runtime: Runtime) -> None:
    try:
        # The same gate as the route: only events from the allowed topics are triaged.
        check_topics([letter.event], runtime.settings.allowed_topics)
        delivery = runtime.pipeline.run(
            parse_events([letter.event]), way_in=f"deadletter:{letter.blob.location.name}"
        )
    except TriageError as error:
        letter.outcome, letter.detail = "failed", error.detail
        return
    [triage] = delivery.triages
    letter.outcome = triage.verdict
    if triage.alert is not None:
        letter.detail = f"alert {triage.alert.id[:8]}: {triage.alert.data.reason}"
    elif triage.verdict == "duplicate":
        letter.detail = "handled before: nothing sent again"
    else:
        letter.detail = triage.outcome.reason or ""


def _mark(
    container: DeadLetterContainer,
    blob: DeadLetterBlob,
    letters: Sequence[DeadLetter],
    at: datetime,
    report: Report,
) -> None:
    failures = [letter for letter in letters if letter.outcome == "failed"]
    if failures:
        reason = "; ".join(f"event {f.event_id}: {f.detail}" for f in failures)
        container.mark_failed(blob, at, reason)
        report.blobs_marked_failed += 1
    else:
        container.mark_replayed(blob, at)
        report.blobs_marked_replayed += 1


# --- printing -----------------------------------------------------------------------------


def print_report(report: Report, out: TextIO, *, replaying: bool) -> None:
    """A line per event, then the totals: why Event Grid gave up, and (replay) what became of
    each event here."""
    rows = [_row(letter, replaying=replaying) for letter in report.letters]
    header = ["dead-lettered", "subscription", "event id", "type", "why Event Grid gave up"]
    header += ["replay", "detail"] if replaying else ["state"]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for cells in [header, *rows]:
        line = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        print(line.rstrip(), file=out)
    for blob in report.unreadable:
        print(f"unreadable blob {blob.location.name}: {blob.unreadable}", file=out)
    print("", file=out)
    for line in summary_lines(report, replaying=replaying):
        print(line, file=out)


def _row(letter: DeadLetter, *, replaying: bool) -> list[str]:
    hour = letter.blob.location.hour
    cells = [
        hour.strftime("%Y-%m-%d %H:00Z") if hour else "?",
        letter.blob.location.subscription or "?",
        letter.event_id,
        letter.event_type.removeprefix("Microsoft.Communication."),
        letter.why(),
    ]
    return [*cells, letter.outcome, letter.detail] if replaying else [*cells, letter.outcome]


def summary_lines(report: Report, *, replaying: bool) -> list[str]:
    reasons = Counter(letter.fields.reason or "no reason given" for letter in report.letters)
    blobs = len({letter.blob.location.name for letter in report.letters})
    lines = [
        f"{len(report.letters)} dead-lettered event(s) in {blobs} blob(s): "
        + (", ".join(f"{n} {reason}" for reason, n in reasons.most_common()) or "none")
    ]
    statuses = Counter(
        letter.fields.last_http_status
        for letter in report.letters
        if letter.fields.last_http_status
    )
    if statuses:
        lines.append(
            "last answers: " + ", ".join(f"{n}x {status}" for status, n in statuses.most_common())
        )
    if replaying:
        outcomes = Counter(letter.outcome for letter in report.letters)
        lines.append(
            "replay: " + (", ".join(f"{n} {o}" for o, n in outcomes.most_common()) or "nothing")
        )
        lines.append(
            f"blobs marked replayed: {report.blobs_marked_replayed}, left with the reason: "
            f"{report.blobs_marked_failed}, skipped (replayed before): {report.blobs_skipped}"
        )
    if report.unreadable:
        lines.append(f"{len(report.unreadable)} blob(s) could not be read")
    return lines


def report_json(report: Report) -> list[dict[str, Any]]:
    return [letter.record() for letter in report.letters]
