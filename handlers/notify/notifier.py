"""Groups and their notifications.

An **alert** is one event's record. A **group** is the alerts that share the values of the
``GROUP_BY`` labels (their fingerprint). A **notification** is a message about a group: its
first (``firing``, after ``group_wait``), its updates (new alerts, at most every
``group_interval``), a reminder while it keeps firing with nothing new (every
``repeat_interval``), and ``resolved`` after ``resolve_timeout`` without a new alert.

Only the claimant of an event records its alert in its group (:meth:`Notifier.record`, from the
pipeline), so counts are exact under redelivery and concurrency. The flusher asks
:meth:`Notifier.due` once per pass, puts the notifications in the outbox, and then marks them
sent in their groups: a crash in between gives the same notification id again (the group's
fingerprint and sequence), which each destination gets once.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from handlers.alerting.alert import Alert
from handlers.notify.notification import (
    NOTIFICATION_TYPE,
    Example,
    Notification,
    NotificationData,
    Reason,
)
from handlers.notify.severity import SeverityRule
from handlers.notify.silences import Silences
from handlers.state.groups import Document, GroupStore

__all__ = ["NOTIFICATION_TYPE", "Due", "Notification", "Notifier", "Timers"]
MAX_EXAMPLES = 5
_NAMESPACE = uuid.UUID("3f0b7c52-1e8d-4a9b-b6c4-5d2e8f1a0c93")


@dataclass(frozen=True)
class Timers:
    """Alertmanager's four timers, in seconds."""

    group_wait: float = 30.0
    group_interval: float = 300.0
    repeat_interval: float = 4 * 3600.0
    resolve_timeout: float = 900.0


def fingerprint(labels: dict[str, str], group_by: Sequence[str]) -> str:
    chosen = "\n".join(f"{name}={labels.get(name, '')}" for name in group_by)
    return hashlib.sha256(chosen.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Due:
    """A notification that is due, and its group as it was read."""

    notification: Notification
    group: Document


@dataclass
class Notifier:
    groups: GroupStore
    source: str
    group_by: tuple[str, ...] = ("channel", "kind", "code", "subcode")
    timers: Timers = Timers()
    clock: Callable[[], float] = time.time
    silences: Silences | None = None
    severity: SeverityRule = field(default_factory=SeverityRule)

    # --- the pipeline: the claimant records its alerts --------------------------------------

    def record(self, alerts: Sequence[Alert]) -> None:
        """Count ``alerts`` into their groups: one change per group per delivery."""
        by_group: dict[str, list[Alert]] = defaultdict(list)
        for alert in alerts:
            by_group[fingerprint(alert.labels, self.group_by)].append(alert)
        now = self.clock()
        for key, members in by_group.items():
            self.groups.change(key, partial(self._add, key=key, alerts=members, now=now))

    def _add(
        self, doc: Document | None, *, key: str, alerts: list[Alert], now: float
    ) -> Document:
        first = alerts[0].data
        if doc is None:
            labels = first.labels
            doc = {
                "fingerprint": key,
                "labels": {name: labels.get(name, "") for name in self.group_by},
                "total": 0,
                "since_last": 0,
                "first_seen": now,
                "last_seen": now,
                "examples": [],
                "status": "pending",
                "notified_at": None,
                "seq": 0,
                "kind": first.kind,
                "category": first.category,
                "meaning": first.message or first.reason,
                "advice": first.advice,
            }
        doc["total"] += len(alerts)
        doc["since_last"] += len(alerts)
        doc["last_seen"] = now
        room = MAX_EXAMPLES - len(doc["examples"])
        doc["examples"] += [
            _example(alert).model_dump(mode="json") for alert in alerts[: max(0, room)]
        ]
        return doc

    # --- the flusher: which notifications are due -------------------------------------------

    def due(self) -> list[Due]:
        """The notifications due now, oldest group first."""
        now = self.clock()
        silences = self.silences.active() if self.silences is not None else []
        found = []
        for doc in sorted(self.groups.documents(), key=lambda d: d["first_seen"]):
            reason = self._reason(doc, now)
            if reason is None:
                continue
            if any(silence.matches(doc["labels"]) for silence in silences):
                self._hush(doc, reason)
                continue
            found.append(Due(self._notification(doc, reason, now), doc))
        return found

    def _hush(self, doc: Document, reason: str) -> None:
        """A silenced group is counted, not notified; resolved under a silence, it goes."""

        def hush(current: Document | None) -> Document | None:
            if current is None or reason == "resolved":
                return None
            current["silenced"] = True
            return current

        self.groups.change(doc["fingerprint"], hush)

    def mark_sent(self, due: Due) -> None:
        """The notification is in the outbox: the group moves on (or goes, once resolved)."""
        sent_at = self.clock()
        notification = due.notification
        resolved = notification.data.status == "resolved"
        seq = notification.data.sequence
        seen_until = due.group["last_seen"]
        counted = due.group["since_last"]

        def advance(doc: Document | None) -> Document | None:
            if doc is None or doc["seq"] >= seq:
                return doc  # already advanced (another pass) or gone
            if resolved and doc["last_seen"] <= seen_until:
                return None
            doc.update(seq=seq, notified_at=sent_at, status="firing", silenced=False)
            doc["since_last"] -= counted  # alerts that came meanwhile wait for the next one
            return doc

        self.groups.change(due.group["fingerprint"], advance)

    def _reason(self, doc: Document, now: float) -> Reason | None:
        timers = self.timers
        if doc["status"] == "pending":
            return "new" if now - doc["first_seen"] >= timers.group_wait else None
        if now - doc["last_seen"] >= timers.resolve_timeout:
            return "resolved"
        since_notified = now - doc["notified_at"]
        if doc["since_last"] > 0 and since_notified >= timers.group_interval:
            return "update"
        if since_notified >= timers.repeat_interval:
            return "repeat"
        return None

    def _notification(self, doc: Document, reason: Reason, now: float) -> Notification:
        seq = doc["seq"] + 1
        status = "resolved" if reason == "resolved" else "firing"
        labels = doc["labels"]
        summary = ", ".join(f"{k}={v}" for k, v in labels.items())
        data = NotificationData(
            status=status,
            reason=reason,
            about="group",
            group=doc["fingerprint"],
            sequence=seq,
            labels=labels,
            severity=self.severity.of(doc["category"], doc["kind"], doc["total"]),
            total=doc["total"],
            since_last=doc["since_last"],
            first_seen=_iso(doc["first_seen"]),
            last_seen=_iso(doc["last_seen"]),
            examples=[Example.model_validate(example) for example in doc["examples"]],
            meaning=doc["meaning"],
            advice=doc["advice"],
            after_silence=bool(doc.get("silenced")),
            summary=f"{status}: {doc['total']} alert(s) ({doc['since_last']} new) for {summary}",
        )
        return Notification(
            id=str(uuid.uuid5(_NAMESPACE, f"{doc['fingerprint']}:{seq}")),
            source=self.source,
            subject=f"group/{doc['fingerprint']}",
            time=_iso(now),
            data=data,
        )


def _example(alert: Alert) -> Example:
    data = alert.data
    return Example(
        alert=alert.id,
        event=data.event.id,
        type=data.event.type,
        time=data.event.time,
        code=data.code,
        subcode=data.subcode,
    )


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()
