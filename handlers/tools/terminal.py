"""The terminal as a destination, for ``make serve``: each notification as a readable block,
so a person trying the app sees a storm become one notification. Alerts are not printed
(they are in ``alerts.jsonl``); the flusher gives this destination what it gives the others."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from handlers.alerting.alert import Alert
from handlers.notify.notifier import NOTIFICATION_TYPE


class TerminalSink:
    name = "terminal"
    timeout_seconds = 0.0

    def __init__(self, out: TextIO = sys.stderr) -> None:
        self._out = out

    def send(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            if alert.type == NOTIFICATION_TYPE:
                self._out.write(render(alert))
        self._out.flush()


def render(notification: Alert) -> str:
    data = notification.data
    if data.get("about") != "group":
        return f"\n== {data['status'].upper()}  {data.get('summary', '')}\n"
    labels = "  ".join(f"{k}={v}" for k, v in data["labels"].items())
    lines = [
        "",
        f"== {data['status'].upper()} ({data['reason']}, {data['severity']})  {labels}",
        f"   {data['total']} alert(s), {data['sinceLast']} new; "
        f"first {data['firstSeen']}, last {data['lastSeen']}",
    ]
    for name in ("meaning", "advice"):
        if data.get(name):
            text = str(data[name]).replace("\n", "\n" + " " * 12)  # keep the block's margin
            lines.append(f"   {name + ':':8} {text}")
    for example in data["examples"]:
        lines.append(f"   e.g. {example['event']} ({example['type']}) alert {example['alert']}")
    lines.append(f"   notification {notification.id}")
    return "\n".join(lines) + "\n"
