"""Slack incoming webhooks: Block Kit messages, paced to Slack's one message a second.

An incoming webhook posts to one channel, and Slack allows about one message per second per
channel (short bursts tolerated, then 429 with ``Retry-After``). :class:`Pacer` spaces the
messages of a burst at least ``min_interval`` apart, and after a 429 holds every message until
the time Slack asked for. The webhook URL carries the token: it is the secret.

Block Kit limits kept here: 50 blocks a message, a header's text 150 characters, a section's
text 3,000, at most 10 fields of 2,000, a context's 10 elements.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from handlers.alerting.delivery import SinkError
from handlers.alerting.http_post import HttpPoster
from handlers.oncall.receivers import post_json
from handlers.oncall.views import GroupView, NotificationView
from handlers.oncall.wording import example_lines, facts, headline, silence_line

SLACK_MIN_INTERVAL_SECONDS = 1.0
HEADER_MAX_CHARS = 150
SECTION_TEXT_MAX_CHARS = 3000
FIELD_MAX_CHARS = 2000
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10


def escape(text: str) -> str:
    """Slack's three control characters; anything else in mrkdwn is shown as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str, limit: int = SECTION_TEXT_MAX_CHARS) -> dict[str, str]:
    return {"type": "mrkdwn", "text": _clip(text, limit)}


def slack_message(notification: NotificationView, *, status_url: str) -> dict[str, Any]:
    """The webhook body: ``text`` (the notification's fallback and push text) and the blocks."""
    about = notification.about
    fields = [
        _mrkdwn(f"*{fact.title}*\n{escape(fact.value)}", FIELD_MAX_CHARS)
        for fact in facts(notification)
    ][:MAX_FIELDS]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _clip(headline(notification), HEADER_MAX_CHARS),
                "emoji": False,
            },
        },
        {"type": "section", "fields": fields},
    ]
    if isinstance(about, GroupView) and (about.meaning or about.advice):
        lines = []
        if about.meaning:
            lines.append(f"*Meaning:* {escape(about.meaning)}")
        if about.advice:
            lines.append(f"*Advice:* {escape(about.advice)}")
        blocks.append({"type": "section", "text": _mrkdwn("\n".join(lines))})
    examples = example_lines(notification)
    if examples:
        elements = [_mrkdwn("*Examples (masked)*")]
        elements += [_mrkdwn(escape(line)) for line in examples]
        blocks.append({"type": "context", "elements": elements[:MAX_CONTEXT_ELEMENTS]})
    command = silence_line(notification)
    if about.status == "firing" and command:
        silence = f"*Silence it*\n```{escape(command)}```"
        blocks.append({"type": "section", "text": _mrkdwn(silence)})
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open the status page"},
                    "url": status_url,
                }
            ],
        }
    )
    return {"text": escape(headline(notification)), "blocks": blocks}


class Pacer:
    """One message at a time per channel, the next at least ``min_interval`` seconds after the
    previous one was answered (so arrivals, not just departures, are spaced), and none before
    a 429's Retry-After."""

    def __init__(
        self,
        min_interval: float = SLACK_MIN_INTERVAL_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._min_interval = min_interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_at = float("-inf")

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for this channel's next slot, send inside the block, book the slot after."""
        with self._lock:
            delay = self._next_at - self._clock()
            if delay > 0:
                self._sleep(delay)
            try:
                yield
            finally:
                self._next_at = max(self._next_at, self._clock() + self._min_interval)

    def hold_for(self, seconds: float) -> None:
        """Slack said 429: no message before ``seconds`` from now (called inside a turn)."""
        self._next_at = max(self._next_at, self._clock() + seconds)


class SlackReceiver:
    """Posts notifications to one Slack channel through its incoming webhook, paced."""

    name = "slack"

    def __init__(self, webhook_url: str, *, status_url: str, pacer: Pacer | None = None) -> None:
        self._status_url = status_url
        self._poster = HttpPoster(self.name, webhook_url)
        self._pacer = pacer or Pacer()
        self.timeout_seconds = self._poster.timeout_seconds

    def send(self, notification: NotificationView) -> None:
        message = slack_message(notification, status_url=self._status_url)
        with self._pacer.turn():
            try:
                post_json(self._poster, message)
            except SinkError as error:
                if error.retry_after is not None:
                    self._pacer.hold_for(error.retry_after)
                raise

    def __repr__(self) -> str:
        return "SlackReceiver(webhook_url=**********)"
