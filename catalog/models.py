"""The catalog's data model: an Entry per row of a provider's table, and the Match a lookup returns.

Also the format of the data files (:class:`TableFile`, :class:`Row`) and of the irregularities
record (:class:`IrregularitiesFile`), which the loader validates, the retry verdict every entry
carries (:class:`Retry`), and the category a code's class implies (:func:`code_class`), which both
the loader and the lookup apply. The rules are in ``docs/catalog.md``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


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

CategorySource = Literal["document", "derived"]
# How an overridden entry's category_reason begins (its category_source is "derived").
OVERRIDE_REASON_PREFIX = "catalog override"
MatchRule = Literal["exact", "subcode", "generic-subcode", "generic-code", "code-class", "none"]

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
    """One catalog entry: one code (and subcode) of one provider table, with its text as written."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(description="table id, one of TABLE_IDS")
    code: int | None
    subcode: int | None
    message: str
    category: Category | None
    category_raw: str | None = Field(description="the category exactly as the document spells it")
    category_source: CategorySource
    category_reason: str | None = Field(
        default=None, description="why a derived category was chosen or a document's overridden"
    )
    advice: str | None
    retry: Retry
    doc: str = Field(description="seed document file name")
    line: int = Field(ge=1, description="first line of the row in the document")
    line_end: int = Field(ge=1)
    url: str | None = Field(description="the public page of the document, where one exists")
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
        """'source:code/subcode', '-' for a missing number: how a match names the entry."""
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

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "category": self.category.value if self.category else None,
            "category_reason": self.category_reason,
            "message": self.message,
            "advice": self.advice,
            "advice_from": self.advice_from,
            "retry": self.retry.to_json(),
            "entry": self.entry.to_json() if self.entry else None,
        }


# The data files' format (Table, TableFile, Row, …, IrregularitiesFile) builds its validation
# schemas only when a file is validated (the tests, a catalog being edited): ``defer_build``. The
# app's cold start reads the shipped files without them (``catalog.loader.load_catalog``).


class Table(BaseModel):
    """One source table, without its rows: what the CLI shows beside an entry."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    table: TableId
    title: str = Field(min_length=1)
    doc: str = Field(min_length=1)
    url: str | None
    columns: tuple[str, ...] = Field(min_length=1)


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


class TableFile(Table):
    """One data file: a table and all its rows."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)

    rows: tuple[Row, ...] = Field(min_length=1)


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


class IrregularitiesFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)

    description: str
    irregularities: tuple[Irregularity, ...]
