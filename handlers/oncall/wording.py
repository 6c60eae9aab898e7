"""What every receiver says about a notification, once: the headline, the facts, the examples.

Teams, Slack and the status page lay these out each in their own markup; the words are the same
everywhere, so a person who reads a Slack message and then opens the page finds the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from handlers.oncall.views import (
    AlarmView,
    DestinationView,
    GroupView,
    NotificationView,
    silence_command,
)


@dataclass(frozen=True, slots=True)
class Fact:
    title: str
    value: str


def when(moment: datetime) -> str:
    """UTC, to the second: on-call people compare these across tools and time zones."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def headline(notification: NotificationView) -> str:
    """``[FIRING] sms 4007/…: meaning`` — status first, as Alertmanager's templates do."""
    about = notification.about
    return f"[{about.status.upper()}] {about.title}"


def facts(notification: NotificationView) -> list[Fact]:
    about = notification.about
    if isinstance(about, GroupView):
        return _group_facts(about)
    if isinstance(about, AlarmView):
        return _alarm_facts(about)
    return _destination_facts(about)


def _group_facts(group: GroupView) -> list[Fact]:
    rows = [
        Fact("Status", group.status),
        Fact("Severity", group.severity.value),
        Fact("Alerts", f"{group.alerts_total} in all, {group.alerts_new} since the last message"),
        Fact("First seen", when(group.first_seen)),
        Fact("Last seen", when(group.last_seen)),
    ]
    if group.recipients is not None:
        rows.insert(3, Fact("Recipients", group.recipients_text))
    if group.resolved_at is not None:
        rows.append(Fact("Resolved", when(group.resolved_at)))
    rows.append(Fact("Labels", label_text(group.labels)))
    return rows


def _alarm_facts(alarm: AlarmView) -> list[Fact]:
    seconds = alarm.window_seconds
    window = f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"
    rows = [
        Fact("Status", alarm.status),
        Fact("Severity", alarm.severity.value),
        Fact("Level", alarm.level or "none"),
        Fact("Failure ratio", f"{alarm.ratio:.1%} ({alarm.failed} of {alarm.total}) over {window}"),
        Fact(
            "Thresholds",
            f"warning {alarm.warning_ratio:.0%}, critical {alarm.critical_ratio:.0%}, "
            f"at least {alarm.min_volume} results",
        ),
        Fact("Since", when(alarm.since)),
    ]
    if alarm.resolved_at is not None:
        rows.append(Fact("Resolved", when(alarm.resolved_at)))
    rows.append(Fact("Labels", label_text(alarm.labels)))
    return rows


def _destination_facts(destination: DestinationView) -> list[Fact]:
    rows = [
        Fact("Status", destination.status),
        Fact("Severity", destination.severity.value),
        Fact("Destination", destination.destination),
        Fact("Failing since", when(destination.since)),
    ]
    if destination.reason:
        rows.append(Fact("Last error", destination.reason))
    if destination.pending is not None:
        rows.append(Fact("Waiting", f"{destination.pending} entries in the outbox"))
    if destination.resolved_at is not None:
        rows.append(Fact("Recovered", when(destination.resolved_at)))
    rows.append(Fact("Labels", label_text(destination.labels)))
    return rows


def label_text(labels: dict[str, str]) -> str:
    return ", ".join(f"{name}={value}" for name, value in sorted(labels.items()))


def example_lines(notification: NotificationView) -> list[str]:
    """One line per example event: id, time, type, masked subject."""
    about = notification.about
    if not isinstance(about, GroupView):
        return []
    lines = []
    for example in about.examples:
        parts = [example.event_id]
        if example.time is not None:
            parts.append(when(example.time))
        if example.event_type:
            parts.append(example.event_type)
        if example.subject:
            parts.append(example.subject)
        lines.append(" · ".join(parts))
    return lines


def silence_line(notification: NotificationView) -> str | None:
    """The command that silences a group or an alarm (by its labels); None for a destination,
    which silences do not mute."""
    about = notification.about
    return None if isinstance(about, DestinationView) else silence_command(about.labels)
