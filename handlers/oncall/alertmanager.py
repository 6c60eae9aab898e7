"""Alertmanager's webhook payload, version 4, so tools that take Alertmanager's webhooks take ours.

One payload per notification, as Alertmanager sends one per group: ``groupLabels`` are the
group's labels, and ``alerts`` holds the group as one alert whose labels are those plus
``alertname`` and ``severity`` (an Alertmanager alert is a label set; acs-triage's events of one
group share it, and their count and examples go into the annotations). A firing alert's
``endsAt`` is Alertmanager's zero time; a resolved one's is when it resolved. An optional
bearer token is sent as ``Authorization``, as Alertmanager's ``http_config`` does.
"""

from __future__ import annotations

from typing import Any

from handlers.alerting.http_post import HttpPoster
from handlers.oncall.receivers import post_json
from handlers.oncall.views import AlarmView, DestinationView, GroupView, NotificationView
from handlers.oncall.wording import example_lines, silence_line

PAYLOAD_VERSION = "4"
ZERO_TIME = "0001-01-01T00:00:00Z"
GROUP_ALERT_NAME = "ACSFailureGroup"
ALARM_ALERT_NAME = "ACSFailureRate"
DESTINATION_ALERT_NAME = "AcsTriageDestinationDown"
ALERT_NAMES = {
    "group": GROUP_ALERT_NAME,
    "alarm": ALARM_ALERT_NAME,
    "destination": DESTINATION_ALERT_NAME,
}


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def group_key(labels: dict[str, str]) -> str:
    """Alertmanager's ``{}:{name="value", …}`` (route path, then the group's labels)."""
    inner = ", ".join(f'{name}="{_quote(value)}"' for name, value in sorted(labels.items()))
    return "{}:{" + inner + "}"


def _rfc3339(moment: Any) -> str:
    return str(moment.isoformat().replace("+00:00", "Z"))


def alert_labels(notification: NotificationView) -> dict[str, str]:
    about = notification.about
    return {**about.labels, "alertname": ALERT_NAMES[about.kind], "severity": about.severity.value}


def _annotations(notification: NotificationView) -> dict[str, str]:
    about = notification.about
    notes = {"summary": about.title}
    if isinstance(about, AlarmView):
        notes["description"] = (
            f"{about.failed} of {about.total} results failed over {about.window_seconds} s"
        )
        return notes
    if isinstance(about, DestinationView):
        notes["description"] = (
            f"Its alerts and notifications wait in the outbox ({about.pending or 0} entries) "
            "and go out, in order, when it takes them again."
        )
        if about.reason:
            notes["last_error"] = about.reason
        return notes
    if about.meaning:
        notes["description"] = about.meaning
    if about.advice:
        notes["advice"] = about.advice
    notes["alerts_total"] = str(about.alerts_total)
    notes["alerts_new"] = str(about.alerts_new)
    if about.recipients is not None:
        notes["recipients"] = str(about.recipients)
    examples = example_lines(notification)
    if examples:
        notes["examples"] = "\n".join(examples)
    command = silence_line(notification)
    if command:
        notes["silence"] = command
    return notes


def alertmanager_payload(
    notification: NotificationView, *, receiver: str, status_url: str
) -> dict[str, Any]:
    """The version-4 webhook body for one notification."""
    about = notification.about
    starts = about.first_seen if isinstance(about, GroupView) else about.since
    labels = alert_labels(notification)
    alert = {
        "status": about.status,
        "labels": labels,
        "annotations": _annotations(notification),
        "startsAt": _rfc3339(starts),
        "endsAt": _rfc3339(about.resolved_at) if about.resolved_at else ZERO_TIME,
        "generatorURL": f"{status_url}#{about.fingerprint}",
        "fingerprint": about.fingerprint,
    }
    return {
        "version": PAYLOAD_VERSION,
        "groupKey": group_key(about.labels),
        "truncatedAlerts": 0,
        "status": about.status,
        "receiver": receiver,
        "groupLabels": dict(about.labels),
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": status_url,
        "alerts": [alert],
    }


class AlertmanagerReceiver:
    """POSTs version-4 webhook payloads to one Alertmanager-compatible endpoint."""

    name = "alertmanager"

    def __init__(
        self, url: str, *, receiver: str, status_url: str, bearer_token: str | None = None
    ) -> None:
        self._receiver = receiver
        self._status_url = status_url
        self._headers = {"Authorization": f"Bearer {bearer_token}"} if bearer_token else {}
        self._poster = HttpPoster(self.name, url)
        self.timeout_seconds = self._poster.timeout_seconds

    def send(self, notification: NotificationView) -> None:
        payload = alertmanager_payload(
            notification, receiver=self._receiver, status_url=self._status_url
        )
        post_json(self._poster, payload, self._headers)

    def __repr__(self) -> str:
        return "AlertmanagerReceiver(url=..., bearer_token=**********)"
