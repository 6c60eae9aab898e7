"""Which outcomes deserve an alert: the policy the settings configure."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.models import Category, Match
from handlers.alerting.alert import AlertKind
from handlers.events.outcome import Outcome
from handlers.settings import Settings


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """Which outcomes deserve an alert (docs/alerts.md).

    Unreadable events and unknown codes always alert; a known code alerts when its category is
    listed; ``include`` / ``exclude`` hold ``(code, subcode)`` pairs, subcode None meaning any,
    and override the category.
    """

    categories: frozenset[Category]
    include: frozenset[tuple[int, int | None]] = frozenset()
    exclude: frozenset[tuple[int, int | None]] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertPolicy:
        return cls(
            categories=frozenset(Category(name) for name in settings.alert_categories),
            include=frozenset(_code_pair(item) for item in settings.alert_include_codes),
            exclude=frozenset(_code_pair(item) for item in settings.alert_exclude_codes),
        )

    def decide(self, outcome: Outcome, match: Match | None) -> AlertKind | None:
        if outcome.status == "invalid":
            return "invalid-event"
        if outcome.status != "ok":
            return None
        if outcome.code is not None:
            if self._listed(self.exclude, outcome):
                return None
            if self._listed(self.include, outcome):
                return "unknown-code" if match is None or match.rule == "none" else "error"
        if match is None or match.rule == "none":
            # No code at all is only news when the event reports a failure (Failed SMS,
            # *Failed callback without resultInformation); an unknown code always is.
            return "unknown-code" if outcome.failed or outcome.code is not None else None
        if outcome.failed and match.category in (None, Category.SUCCESS):
            return "unknown-code"  # the event failed but its code says success: unexplained
        return "error" if match.category in self.categories else None

    @staticmethod
    def _listed(pairs: frozenset[tuple[int, int | None]], outcome: Outcome) -> bool:
        assert outcome.code is not None
        return (outcome.code, outcome.subcode) in pairs or (outcome.code, None) in pairs


def _code_pair(item: str) -> tuple[int, int | None]:
    code, _, subcode = item.partition("/")
    return int(code), int(subcode) if subcode else None
