"""The terminal as a destination, for ``make serve``: each notification as a readable block,
so a person trying the app sees a storm become one notification. Alerts are not printed
(they are in ``alerts.jsonl``); the flusher gives this destination what it gives the others."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

from handlers.alerting.cloudevent import CloudEvent
from handlers.notify.notification import Notification


class TerminalSink:
    name = "terminal"
    timeout_seconds = 0.0

    def __init__(self, out: TextIO = sys.stderr) -> None:
        self._out = out

    def send(self, alerts: Sequence[CloudEvent[Any]]) -> None:
        for event in alerts:
            if isinstance(event, Notification):
                self._out.write(render(event))
        self._out.flush()


def render(notification: Notification) -> str:
    data = notification.data
    if data.about == "alarm":
        labels = "  ".join(f"{k}={v}" for k, v in (data.labels or {}).items())
        return (
            f"\n== {data.status.upper()} ({data.reason}, {data.severity})  {labels}\n"
            f"   {data.summary}\n   notification {notification.id}\n"
        )
    if data.about != "group":
        return f"\n== {data.status.upper()}  {data.summary}\n"
    labels = "  ".join(f"{k}={v}" for k, v in (data.labels or {}).items())
    lines = [
        "",
        f"== {data.status.upper()} ({data.reason}, {data.severity})  {labels}",
        f"   {data.total} alert(s), {data.since_last} new; "
        f"first {data.first_seen}, last {data.last_seen}",
    ]
    if data.recipients is not None:  # None: the group's events name no recipient (calls)
        at_least = "at least " if data.recipients_capped else ""
        lines.append(f"   {at_least}{data.recipients} distinct recipient(s)")
    for name, value in (("meaning", data.meaning), ("advice", data.advice)):
        if value:
            text = value.replace("\n", "\n" + " " * 12)  # keep the block's margin
            lines.append(f"   {name + ':':8} {text}")
    for example in data.examples or []:
        lines.append(f"   e.g. {example.event} ({example.type}) alert {example.alert}")
    lines.append(f"   notification {notification.id}")
    return "\n".join(lines) + "\n"
