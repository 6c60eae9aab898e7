"""Microsoft Teams through Workflows: an Adaptive Card in a ``message`` envelope.

Office 365 connectors (and their MessageCard) are retired; a Workflows webhook ("Send webhook
alerts to a channel", trigger "When a Teams webhook request is received") takes
``{"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
"content": <card>}]}``. The card declares version 1.4, which the Workflows "post card" action
renders; ``tests/data/adaptive-card-1.4.json`` (the published schema) checks every card we
build. The Workflows URL carries its own signature (``sig=``): the URL is the secret.
"""

from __future__ import annotations

from typing import Any

from handlers.alerting.http_post import HttpPoster
from handlers.oncall.receivers import post_json
from handlers.oncall.views import GroupView, NotificationView
from handlers.oncall.wording import example_lines, facts, headline, silence_line

ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_CARD_VERSION = "1.4"


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def adaptive_card(notification: NotificationView, *, status_url: str) -> dict[str, Any]:
    """The card: headline, facts, meaning and advice, examples, the silence command, a link."""
    about = notification.about
    firing = about.status == "firing"
    body: list[dict[str, Any]] = [
        _text(headline(notification), size="Large", weight="Bolder",
              color="Attention" if firing else "Good"),
        {
            "type": "FactSet",
            "facts": [{"title": fact.title, "value": fact.value} for fact in facts(notification)],
        },
    ]
    if isinstance(about, GroupView):
        if about.meaning:
            body.append(_text(f"**Meaning:** {about.meaning}"))
        if about.advice:
            body.append(_text(f"**Advice:** {about.advice}"))
        examples = example_lines(notification)
        if examples:
            body.append(_text("Examples (masked)", weight="Bolder", spacing="Medium"))
            body.extend(_text(line, isSubtle=True, spacing="None") for line in examples)
    command = silence_line(notification)
    if firing and command:
        body.append(_text("Silence it", weight="Bolder", spacing="Medium"))
        body.append(_text(command, fontType="Monospace", spacing="None"))
    return {
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "fallbackText": headline(notification),
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open the status page", "url": status_url}],
    }


def teams_message(notification: NotificationView, *, status_url: str) -> dict[str, Any]:
    """The Workflows webhook body: one Adaptive Card attachment."""
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": ADAPTIVE_CARD_CONTENT_TYPE,
                "contentUrl": None,
                "content": adaptive_card(notification, status_url=status_url),
            }
        ],
    }


class TeamsReceiver:
    """Posts notifications to one Teams channel through its Workflows webhook URL."""

    name = "teams"

    def __init__(self, workflow_url: str, *, status_url: str) -> None:
        self._status_url = status_url
        self._poster = HttpPoster(self.name, workflow_url)
        self.timeout_seconds = self._poster.timeout_seconds

    def send(self, notification: NotificationView) -> None:
        post_json(self._poster, teams_message(notification, status_url=self._status_url))

    def __repr__(self) -> str:
        return "TeamsReceiver(workflow_url=**********)"
