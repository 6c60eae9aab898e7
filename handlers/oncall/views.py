"""A small, explicit view of what the receivers and the status page need from the
notification model: a group, a rate alarm, a notification about either, a silence.

The fields mirror the notifications issue's words (status, labels, counts in all and since the
last notification, first and last seen, distinct recipients, up to five masked examples with
ids, the catalog's meaning and advice, severity; an alarm's failed / all ratio over a window
with its thresholds; a silence's matchers, author, comment and expiry). Everything in a view is
already masked: a receiver or the page prints it as it is.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from handlers.alerting.matchers import Matcher

MAX_EXAMPLES = 5


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


Status = Literal["firing", "resolved"]


class _View(BaseModel):
    # defer_build: validators are built at the first notification, not at cold start.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Example(_View):
    """One event of a group, as the alert showed it (subject masked)."""

    event_id: str
    time: AwareDatetime | None = None
    event_type: str | None = None
    subject: str | None = None


class GroupView(_View):
    """The alerts that share a fingerprint of labels."""

    kind: Literal["group"] = "group"
    fingerprint: str = Field(min_length=1, max_length=255)
    labels: dict[str, str]
    status: Status
    severity: Severity
    alerts_total: int = Field(ge=0)
    alerts_new: int = Field(ge=0, description="Alerts since the group's last notification.")
    recipients: int | None = Field(
        default=None, ge=0, description="Distinct recipients, where counted; never who."
    )
    recipients_capped: bool = Field(default=False, description="The count is 'at least'.")
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    resolved_at: AwareDatetime | None = None
    examples: tuple[Example, ...] = Field(default=(), max_length=MAX_EXAMPLES)
    meaning: str | None = None
    advice: str | None = None
    silenced_by: str | None = Field(default=None, description="Id of the silence muting it.")

    @property
    def title(self) -> str:
        """What a person reads first: the code and where it happened."""
        code = self.labels.get("code", "?")
        subcode = self.labels.get("subcode")
        if subcode == "none":  # the alert's label for a code without a subcode (SMS, email)
            subcode = None
        channel = self.labels.get("channel", "acs")
        return f"{channel} {code}{'/' + subcode if subcode else ''}: {self.short_meaning}"

    @property
    def recipients_text(self) -> str:
        """``37 distinct``; ``at least 2000 distinct`` once the group stopped counting."""
        if self.recipients is None:
            return "not counted"
        return f"{'at least ' if self.recipients_capped else ''}{self.recipients} distinct"

    @property
    def short_meaning(self) -> str:
        """The meaning's first line: the catalog lists several causes as "- " lines."""
        lines = [line.strip().removeprefix("- ") for line in (self.meaning or "").splitlines()]
        first = next((line for line in lines if line), "failure")
        # An SMS report's own words start with its code ("5000: Message failed to deliver"),
        # which the title already says.
        return first.removeprefix(f"{self.labels.get('code')}: ") or first


class RatioPoint(_View):
    at: AwareDatetime
    ratio: float = Field(ge=0.0, le=1.0)


class AlarmView(_View):
    """A rate rule over a window: failed / all results of a channel."""

    kind: Literal["alarm"] = "alarm"
    fingerprint: str = Field(min_length=1, max_length=255)
    name: str
    channel: str
    status: Status
    level: Literal["warning", "critical"] | None
    severity: Severity
    failed: int = Field(ge=0)
    total: int = Field(ge=0)
    window_seconds: int = Field(gt=0)
    warning_ratio: float = Field(ge=0.0, le=1.0)
    critical_ratio: float = Field(ge=0.0, le=1.0)
    min_volume: int = Field(ge=0)
    since: AwareDatetime
    resolved_at: AwareDatetime | None = None
    history: tuple[RatioPoint, ...] = Field(default=(), description="The last hour's ratio.")

    @property
    def ratio(self) -> float:
        return self.failed / self.total if self.total else 0.0

    @property
    def labels(self) -> dict[str, str]:
        return {"alarm": self.name, "channel": self.channel}

    @property
    def title(self) -> str:
        return f"{self.channel} failure rate {self.ratio:.0%} ({self.failed} of {self.total})"


class DestinationView(_View):
    """A destination of the flusher (an alert sink or another receiver) that has kept failing:
    its alerts and notifications wait in the outbox until it takes them again."""

    kind: Literal["destination"] = "destination"
    fingerprint: str = Field(min_length=1, max_length=255)
    destination: str = Field(min_length=1)
    status: Status
    severity: Severity = Severity.WARNING
    since: AwareDatetime = Field(description="When its current run of failures began.")
    reason: str | None = Field(default=None, description="Why its last attempt failed.")
    pending: int | None = Field(default=None, ge=0, description="Entries in the outbox then.")
    resolved_at: AwareDatetime | None = None

    @property
    def labels(self) -> dict[str, str]:
        return {"destination": self.destination}

    @property
    def title(self) -> str:
        if self.status == "resolved":
            return f"destination {self.destination} takes notifications again"
        return f"destination {self.destination} is failing ({self.reason or 'no answer'})"


class DeliveryView(_View):
    """Where a notification went and how that ended."""

    destination: str
    at: AwareDatetime
    outcome: Literal["sent", "failed", "pending"]


class NotificationView(_View):
    """A message to a person or system about a group, an alarm or a failing destination."""

    id: str = Field(min_length=1)
    sequence: int = Field(ge=1)
    created_at: AwareDatetime
    about: GroupView | AlarmView | DestinationView = Field(discriminator="kind")
    deliveries: tuple[DeliveryView, ...] = ()

    @property
    def status(self) -> Status:
        return self.about.status

    @property
    def fingerprint(self) -> str:
        return self.about.fingerprint


class SilenceView(_View):
    id: str = Field(min_length=1)
    matchers: tuple[Matcher, ...] = Field(min_length=1)
    created_by: str
    comment: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    def is_active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, labels: dict[str, str], now: datetime) -> bool:
        return self.is_active(now) and all(m.matches(labels) for m in self.matchers)


class StatusView(_View):
    """Everything the status page shows, at one moment."""

    now: AwareDatetime
    groups: tuple[GroupView, ...] = ()
    alarms: tuple[AlarmView, ...] = ()
    silences: tuple[SilenceView, ...] = ()
    notifications: tuple[NotificationView, ...] = ()


def silence_command(labels: dict[str, str], *, hours: int = 2) -> str:
    """The CLI line that silences exactly this group (the notifications issue's command)."""
    matchers = " ".join(f"--matcher '{name}={value}'" for name, value in sorted(labels.items()))
    return (
        f"python -m handlers silence add {matchers} --duration {hours}h "
        "--comment 'known incident'"
    )
