"""The catalog's data model: an Entry per row of a provider's table, and the Match a lookup returns.

Two kinds of table: the *transcribed* tables (``catalog/data/``, the seed documents' rows as
written: :class:`TableFile`, :class:`Row`) and the *written* tables (``catalog/written/``, facts
gathered from public pages and written for this project: :class:`WrittenTableFile`,
:class:`WrittenRow`). Also the irregularities record (:class:`IrregularitiesFile`), the retry
verdict (:class:`Retry`) and the category a code's class implies (:func:`code_class`). The rules
are in ``docs/catalog.md``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator


class Category(StrEnum):
    """The documents' result categories, spelled correctly."""

    SUCCESS = "Success"
    EXPECTED_ERROR = "ExpectedError"
    UNEXPECTED_CLIENT_ERROR = "UnexpectedClientError"
    UNEXPECTED_SERVER_ERROR = "UnexpectedServerError"


# Every spelling of a category the documents use, and the category it means. A spelling not
# listed here is rejected on load, so that a new typo is read by a person before it is trusted.
CATEGORY_SPELLINGS: dict[str, Category] = {
    **{category.value: category for category in Category},
    "UnxpectedClientError": Category.UNEXPECTED_CLIENT_ERROR,  # doc 002, call-end 3100, 3101, 3111
}


class Domain(StrEnum):
    """An event family: which tables a lookup searches, in order of preference."""

    CALL_AUTOMATION = "call-automation"  # Call Automation callbacks: CallDisconnected, *Failed
    CALL_END = "call-end"  # CallEnded / CallParticipantRemoved reason, Calling SDK callEndReason
    PSTN = "pstn"  # ParticipantEndReason / ParticipantEndSubCode
    SMS_DELIVERY = "sms-delivery"  # SMSDeliveryReportReceived
    PROVIDER = "provider"  # HTTP / API codes of ACS, Chat, RealTime SMS and 8x8
    EMAIL_DELIVERY = "email-delivery"  # EmailDeliveryReportReceived: a status word, no code
    ADVANCED_MESSAGING = "advanced-messaging"  # AdvancedMessageDeliveryStatusUpdated channelCode


# One id per source table of the seed documents (13 tables).
TableId = Literal[
    "acs-http",
    "acs-sms-http",
    "realtime-sms-http",
    "calling-sdk",
    "call-end",
    "call-automation",
    "generic-codes",
    "generic-subcodes",
    "pstn",
    "chat",
    "sms-delivery",
    "8x8-http",
    "8x8-api",
]
TABLE_IDS: tuple[str, ...] = get_args(TableId)

# A Call Automation action whose failures have a table of their own (catalog/written/action-*.json).
Action = Literal[
    "play",
    "recognize",
    "dtmf",
    "participants",
    "transfer",
    "hold",
    "media-streaming",
    "transcription",
    "call-setup",
]
ACTIONS: tuple[str, ...] = get_args(Action)

# One id per written table: the email statuses, the WhatsApp channel codes, one table per action.
WrittenTableId = Literal[
    "email-delivery",
    "whatsapp-channel",
    "action-play",
    "action-recognize",
    "action-dtmf",
    "action-participants",
    "action-transfer",
    "action-hold",
    "action-media-streaming",
    "action-transcription",
    "action-call-setup",
]
WRITTEN_TABLE_IDS: tuple[str, ...] = get_args(WrittenTableId)
ALL_TABLE_IDS: tuple[str, ...] = TABLE_IDS + WRITTEN_TABLE_IDS

# "written": the catalog's own category, chosen when the table was written (reason required).
CategorySource = Literal["document", "derived", "written"]
# How an overridden entry's category_reason begins (its category_source is "derived").
OVERRIDE_REASON_PREFIX = "catalog override"
MatchRule = Literal[
    "action-exact",
    "action-subcode",
    "exact",
    "subcode",
    "generic-subcode",
    "generic-code",
    "code-class",
    "status",
    "none",
]
Origin = Literal["transcribed", "written"]

# Can sending the same thing again succeed? "unknown" also answers for what is no failure at all.
RetryVerdict = Literal["permanent", "transient", "unknown"]


class Retry(BaseModel):
    """Whether sending again can succeed, and why: the first thing an on-call engineer asks."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    verdict: RetryVerdict
    reason: str = Field(min_length=1)
    rule: str | None = Field(
        default=None,
        description="the docs/catalog.md retry rule that gave the verdict; None when the table's "
        "writer gave it",
    )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def code_class(code: int | None) -> tuple[Category, str] | None:
    """The category a code's class implies (docs/catalog.md), with the reason; None outside them.

    0 and 2xx are Success; 4xx ExpectedError (the documents call client errors precondition
    failures the app can fix); 5xx UnexpectedServerError; 6xx ExpectedError (busy, declined:
    the documents call these "expected behavior").
    """
    if code is None:
        return None
    if code == 0:
        return Category.SUCCESS, "code 0: the call ended normally"
    match code // 100:
        case 2:
            return Category.SUCCESS, "code class 2xx: success"
        case 4:
            return (
                Category.EXPECTED_ERROR,
                "code class 4xx: a client error, a precondition the app can fix",
            )
        case 5:
            return Category.UNEXPECTED_SERVER_ERROR, "code class 5xx: a server error"
        case 6:
            return (
                Category.EXPECTED_ERROR,
                "code class 6xx: a global error such as busy or declined, expected behavior",
            )
        case _:
            return None


class Entry(BaseModel):
    """One catalog entry: one code (and subcode), or one status, of one table.

    A transcribed entry carries the provider's text as written and the document line it stands on;
    a written entry carries the catalog's own words, and the public page and date of its facts.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(description="table id, one of ALL_TABLE_IDS")
    code: int | None
    subcode: int | None
    status: str | None = Field(
        default=None, description="the status word a written row is keyed by"
    )
    message: str
    category: Category | None
    category_raw: str | None = Field(description="the category exactly as the document spells it")
    category_source: CategorySource
    category_reason: str | None = Field(
        default=None, description="why a derived category was chosen or a document's overridden"
    )
    advice: str | None
    retry: Retry
    origin: Origin = "transcribed"
    doc: str = Field(
        description="where the row is written: the seed document's file name (transcribed), or "
        "the written table's data file, catalog/written/<table>.json (written)"
    )
    line: int = Field(ge=1, description="first line of the row in that file")
    line_end: int = Field(ge=1)
    url: str | None = Field(description="the public page of the document, where one exists")
    read: str | None = Field(
        default=None, description="the date the public page was read (written entries)"
    )
    cell: str | None = Field(
        default=None,
        description="the code cell as written, where it is more than the code ('400 Bad Request', "
        "'490, 491, 496, 497, 498')",
    )
    advice_note: str | None = Field(
        default=None,
        description="the catalog's own note on this row (see catalog/irregularities.json), "
        "never the document's text",
    )

    @property
    def key(self) -> str:
        """'source:code/subcode' ('-' for a missing number), or 'source:status': how a match names
        the entry."""
        if self.status is not None:
            return f"{self.source}:{self.status}"
        return f"{self.source}:{_number(self.code)}/{_number(self.subcode)}"

    @property
    def full_advice(self) -> str | None:
        """The document's advice followed by the catalog's note, where there is one."""
        parts = [part for part in (self.advice, self.advice_note) if part]
        return "\n".join(parts) or None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _number(value: int | None) -> str:
    return "-" if value is None else str(value)


UNKNOWN_CODE_RETRY = Retry(
    verdict="unknown",
    reason="the catalog does not know this code, so nothing says whether sending again can help",
    rule="unknown-code",
)


class Match(BaseModel):
    """What a lookup found for one (code, subcode) in one domain, and by which rule."""

    model_config = ConfigDict(frozen=True)

    rule: MatchRule
    entry: Entry | None = None
    category: Category | None = None
    message: str | None = None
    advice: str | None = None
    advice_from: str | None = Field(
        default=None, description="'source:code/subcode' of the entry the advice came from"
    )
    category_reason: str | None = Field(
        default=None,
        description="where the category came from: the document, a derivation rule, the code class",
    )
    retry: Retry = Field(
        default=UNKNOWN_CODE_RETRY,
        description="can sending again succeed: the entry's verdict, or the code class's",
    )
    action: str | None = Field(
        default=None, description="the action whose table was tried first (one of ACTIONS)"
    )

    @property
    def table(self) -> str | None:
        """The table that answered (None for a code class or an unknown code)."""
        return self.entry.source if self.entry else None

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "table": self.table,
            "action": self.action,
            "category": self.category.value if self.category else None,
            "category_reason": self.category_reason,
            "message": self.message,
            "advice": self.advice,
            "advice_from": self.advice_from,
            "retry": self.retry.to_json(),
            "entry": self.entry.to_json() if self.entry else None,
        }


# The data files' format (Table, TableFile, Row, …, WrittenTableFile, IrregularitiesFile) builds
# its validation schemas only when a file is validated (the tests, a catalog being edited):
# ``defer_build``. The app's cold start reads the shipped files without them
# (``catalog.loader.load_catalog``).


class Source(BaseModel):
    """A public page a written table took its facts from, and when it was read."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    title: str = Field(min_length=1)
    url: str = Field(pattern=r"^https://")
    read: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="date read, YYYY-MM-DD")
    revision: str | None = Field(
        default=None, description="the revision read, where the page is kept in a public repository"
    )


class Table(BaseModel):
    """One table, without its rows: what the CLI shows beside an entry.

    Transcribed tables name their seed document (``doc``) and its public page; written tables name
    every public page they took facts from (``sources``) and, for Call Automation, the action and
    the events whose failures they explain.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    table: str = Field(description="one of ALL_TABLE_IDS")
    title: str = Field(min_length=1)
    origin: Origin = "transcribed"
    doc: str | None = None
    url: str | None = None
    columns: tuple[str, ...] = Field(min_length=1)
    sources: tuple[Source, ...] = ()
    action: Action | None = None
    events: tuple[str, ...] = ()


# ---- the data file format (catalog/data/<table-id>.json) ----------------------------------------


class CategoryOverride(BaseModel):
    """A category the catalog sets against the derivation rules, because the row's text says so."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)

    category: Category
    reason: str = Field(min_length=1)


class Row(BaseModel):
    """One row of a table as the data file holds it: the document's text, never bent."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)

    line: int = Field(ge=1)
    line_end: int = Field(ge=1)
    code: int | None = Field(ge=0)
    subcode: int | None = Field(ge=0)
    message: str = Field(min_length=1)
    category: str | None
    advice: str | None
    cell: str | None = None
    category_override: CategoryOverride | None = None

    @field_validator("category")
    @classmethod
    def _known_spelling(cls, value: str | None) -> str | None:
        if value is not None and value not in CATEGORY_SPELLINGS:
            known = ", ".join(sorted(CATEGORY_SPELLINGS))
            raise ValueError(f"unknown category spelling {value!r} (known: {known})")
        return value

    @field_validator("line_end")
    @classmethod
    def _line_end_not_before_line(cls, value: int, info: ValidationInfo) -> int:
        line = info.data.get("line")
        if isinstance(line, int) and value < line:
            raise ValueError(f"line_end {value} is before line {line}")
        return value


class TableFile(BaseModel):
    """One data file: a transcribed table and all its rows."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)

    table: TableId
    title: str = Field(min_length=1)
    doc: str = Field(min_length=1)
    url: str | None
    columns: tuple[str, ...] = Field(min_length=1)
    rows: tuple[Row, ...] = Field(min_length=1)

    def as_table(self) -> Table:
        # Built, not validated: the file's fields are the table's, already checked (or, at a cold
        # start, read as shipped).
        return Table.model_construct(
            table=self.table, title=self.title, doc=self.doc, url=self.url, columns=self.columns
        )


# ---- the written table format (catalog/written/<table-id>.json) ---------------------------------


class WrittenRow(BaseModel):
    """One row of a written table: the catalog's own words, its category and retry verdict with
    their reasons, and the source its facts come from. Keyed by code (and subcode), or by status."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)

    code: int | None = Field(default=None, ge=0)
    subcode: int | None = Field(default=None, ge=0)
    status: str | None = Field(default=None, min_length=1)
    message: str = Field(min_length=1)
    category: Category
    category_reason: str = Field(min_length=1)
    retry: Retry
    advice: str | None = Field(default=None, min_length=1)
    sources: tuple[str, ...] = Field(
        min_length=1, description="ids of the table's sources the row's facts come from, main first"
    )

    @model_validator(mode="after")
    def _keyed_by_status_or_numbers(self) -> WrittenRow:
        has_numbers = self.code is not None or self.subcode is not None
        if (self.status is None) != has_numbers:
            raise ValueError("a row is keyed by a status, or by a code and subcode: one of the two")
        return self


class WrittenTableFile(BaseModel):
    """One written table: where its facts come from, and its rows."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)

    table: WrittenTableId
    title: str = Field(min_length=1)
    columns: tuple[str, ...] = Field(min_length=1)
    sources: tuple[Source, ...] = Field(min_length=1)
    action: Action | None = None
    events: tuple[str, ...] = ()
    rows: tuple[WrittenRow, ...] = Field(min_length=1)

    def as_table(self) -> Table:
        return Table.model_construct(
            table=self.table,
            title=self.title,
            origin="written",
            url=self.sources[0].url,
            columns=self.columns,
            sources=self.sources,
            action=self.action,
            events=self.events,
        )


# ---- the irregularities record (catalog/irregularities.json) ------------------------------------


class Place(BaseModel):
    """Where in a document an irregularity stands."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)

    doc: str = Field(min_length=1)
    lines: tuple[int, ...] = Field(min_length=1)
    table: TableId | None = None


class AdviceNote(BaseModel):
    """The catalog's own note, appended to the advice of one entry."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)

    table: TableId
    code: int | None
    subcode: int | None
    note: str = Field(min_length=1)


class Irregularity(BaseModel):
    """Something a document does that a reader would not expect, and what the catalog does."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    places: tuple[Place, ...] = Field(min_length=1)
    what: str = Field(min_length=1)
    decision: str = Field(min_length=1)
    advice_notes: tuple[AdviceNote, ...] = ()


class EntryPlace(BaseModel):
    """An entry of a written table, or of any table a written one disagrees with."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)

    table: str = Field(min_length=1, description="one of ALL_TABLE_IDS")
    code: int | None = None
    subcode: int | None = None
    status: str | None = None

    @property
    def key(self) -> str:
        """The key of the entry it names (as :attr:`Entry.key` spells it)."""
        if self.status is not None:
            return f"{self.table}:{self.status}"
        return f"{self.table}:{_number(self.code)}/{_number(self.subcode)}"


class WrittenIrregularity(BaseModel):
    """Where the public pages behind a written table disagree with each other or with the seed
    tables (the same subcode meaning two things, say), and what the catalog does."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    places: tuple[EntryPlace, ...] = Field(min_length=1)
    what: str = Field(min_length=1)
    decision: str = Field(min_length=1)


class IrregularitiesFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)

    description: str
    irregularities: tuple[Irregularity, ...]
    written_tables: tuple[WrittenIrregularity, ...] = ()
