"""PagerDuty Events API v2: ``trigger`` while a group or alarm fires, ``resolve`` when it ends.

The ``dedup_key`` is the group's (or alarm's) fingerprint, so every update of a firing group
lands on the same PagerDuty alert and the resolve closes it; a destination that keeps failing
is ``destination-<name>``, resolved when it takes notifications again. The routing key travels
in the body (that is how the Events API authenticates); it is a secret and never logged.
"""

from __future__ import annotations

from typing import Any

from handlers.alerting.http_post import HttpPoster
from handlers.oncall.receivers import post_json
from handlers.oncall.views import (
    AlarmView,
    DestinationView,
    GroupView,
    NotificationView,
    Severity,
)
from handlers.oncall.wording import example_lines, label_text, silence_line

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SUMMARY_MAX_CHARS = 1024
DEDUP_KEY_MAX_CHARS = 255
# PagerDuty knows critical, error, warning, info; ours map onto three of them.
SEVERITY = {Severity.CRITICAL: "critical", Severity.WARNING: "warning", Severity.INFO: "info"}


def pagerduty_event(
    notification: NotificationView, *, routing_key: str, status_url: str
) -> dict[str, Any]:
    """The Events API v2 body for one notification."""
    about = notification.about
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger" if about.status == "firing" else "resolve",
        "dedup_key": about.fingerprint[:DEDUP_KEY_MAX_CHARS],
    }
    if about.status == "resolved":
        return event  # a resolve needs nothing but the key: PagerDuty ignores a payload on it
    labels = about.labels
    component = labels.get("channel", about.kind)
    event["payload"] = {
        "summary": _summary(notification),
        "source": f"acs-triage/{component}",
        "severity": SEVERITY[about.severity],
        "timestamp": (
            about.last_seen if isinstance(about, GroupView) else notification.created_at
        ).isoformat(),
        "component": component,
        "group": labels.get("code") or labels.get("alarm") or labels.get("destination", ""),
        "class": labels.get("category", about.kind),
        "custom_details": _details(notification),
    }
    event["links"] = [{"href": status_url, "text": "acs-triage status page"}]
    event["client"] = "acs-triage"
    event["client_url"] = status_url
    return event


def _summary(notification: NotificationView) -> str:
    text = notification.about.title
    return text if len(text) <= SUMMARY_MAX_CHARS else text[: SUMMARY_MAX_CHARS - 1] + "…"


def _details(notification: NotificationView) -> dict[str, Any]:
    about = notification.about
    details: dict[str, Any] = {
        "notification": notification.id,
        "sequence": notification.sequence,
        "labels": label_text(about.labels),
    }
    if isinstance(about, AlarmView):
        details.update(
            failure_ratio=round(about.ratio, 4),
            failed=about.failed,
            total=about.total,
            window_seconds=about.window_seconds,
            level=about.level,
        )
        return details
    if isinstance(about, DestinationView):
        details.update(
            destination=about.destination,
            failing_since=about.since.isoformat(),
            last_error=about.reason,
            waiting_in_outbox=about.pending,
        )
        return details
    details.update(
        meaning=about.meaning,
        advice=about.advice,
        alerts_total=about.alerts_total,
        alerts_new=about.alerts_new,
        recipients=about.recipients,
        first_seen=about.first_seen.isoformat(),
        last_seen=about.last_seen.isoformat(),
        examples=example_lines(notification),
        silence=silence_line(notification),
    )
    return details


class PagerDutyReceiver:
    """Sends notifications to one PagerDuty service (its Events API v2 integration key)."""

    name = "pagerduty"

    def __init__(
        self, routing_key: str, *, status_url: str, url: str = PAGERDUTY_EVENTS_URL
    ) -> None:
        if not routing_key:
            raise ValueError("the PagerDuty routing key is empty")
        self._routing_key = routing_key
        self._status_url = status_url
        self._poster = HttpPoster(self.name, url)
        self.timeout_seconds = self._poster.timeout_seconds

    def send(self, notification: NotificationView) -> None:
        body = pagerduty_event(
            notification, routing_key=self._routing_key, status_url=self._status_url
        )
        post_json(self._poster, body)

    def __repr__(self) -> str:
        return "PagerDutyReceiver(routing_key=**********)"
