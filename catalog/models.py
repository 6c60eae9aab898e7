"""The catalog's data model: one Entry per row of a provider's table, and the Match a lookup returns."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Category(StrEnum):
    """The documents' result categories, spelled correctly."""

    SUCCESS = "Success"
    EXPECTED_ERROR = "ExpectedError"
    UNEXPECTED_CLIENT_ERROR = "UnexpectedClientError"
    UNEXPECTED_SERVER_ERROR = "UnexpectedServerError"


class Domain(StrEnum):
    """An event family: which tables a lookup searches, in order of preference."""

    CALL_AUTOMATION = "call-automation"  # Call Automation callbacks: CallDisconnected, *Failed
    CALL_END = "call-end"  # CallEnded / CallParticipantRemoved reason, Calling SDK callEndReason
    PSTN = "pstn"  # ParticipantEndReason / ParticipantEndSubCode
    SMS_DELIVERY = "sms-delivery"  # SMSDeliveryReportReceived
    PROVIDER = "provider"  # HTTP / API codes of ACS, Chat, RealTime SMS and 8x8


# One id per source table of the seed documents (13 tables).
TABLE_IDS = (
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
)

CategorySource = Literal["document", "derived"]
MatchRule = Literal["exact", "subcode", "generic-subcode", "generic-code", "code-class", "none"]


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
    doc: str = Field(description="seed document file name")
    line: int = Field(ge=1, description="first line of the row in the document")
    line_end: int = Field(ge=1)
    url: str | None = Field(description="the public page of the document, where one exists")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


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

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "category": self.category.value if self.category else None,
            "message": self.message,
            "advice": self.advice,
            "advice_from": self.advice_from,
            "entry": self.entry.to_json() if self.entry else None,
        }
