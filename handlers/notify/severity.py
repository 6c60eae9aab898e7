"""How severe a notification is: critical, warning or info, as the settings map it.

A group takes the more severe of what ``SEVERITY_BY_CATEGORY`` says for its category and for
its alert kind (an unknown code has no category, so the kind speaks for it), info when neither
is listed; a warning group that reaches ``SEVERITY_CRITICAL_SIZE`` alerts is an outage, so
critical. A rate alarm's severity is its level (``handlers.notify.alarms``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from handlers.settings import (
    DEFAULT_SEVERITY_BY_CATEGORY,
    DEFAULT_SEVERITY_CRITICAL_SIZE,
    Settings,
    SeverityName,
)

RANK: Mapping[SeverityName, int] = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class SeverityRule:
    """``SEVERITY_BY_CATEGORY`` and ``SEVERITY_CRITICAL_SIZE``; the defaults are theirs."""

    by_category: Mapping[str, SeverityName] = field(
        default_factory=lambda: dict(DEFAULT_SEVERITY_BY_CATEGORY)
    )
    critical_size: int = DEFAULT_SEVERITY_CRITICAL_SIZE  # 0: size never makes a group critical

    @classmethod
    def from_settings(cls, settings: Settings) -> SeverityRule:
        return cls(settings.severity_by_category, settings.severity_critical_size)

    def of(self, category: str | None, kind: str, total: int) -> SeverityName:
        """A group's severity from its category, its alert kind and its size."""
        named = [self.by_category.get(name) for name in (category, kind) if name]
        severity: SeverityName = "info"
        for listed in named:
            if listed is not None and RANK[listed] > RANK[severity]:
                severity = listed
        if severity == "warning" and 0 < self.critical_size <= total:
            return "critical"
        return severity
