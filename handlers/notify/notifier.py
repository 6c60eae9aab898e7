"""Groups and their notifications.

An **alert** is one event's record. A **group** is the alerts that share the values of the
``GROUP_BY`` labels (their fingerprint). A **notification** is a message about a group: its
first (``firing``, after ``group_wait``), its updates (new alerts, at most every
``group_interval``), a reminder while it keeps firing with nothing new (every
``repeat_interval``), and ``resolved`` after ``resolve_timeout`` without a new alert.

Only the claimant of an event records its alert in its group (:meth:`Notifier.record`, from the
pipeline), so counts are exact under redelivery and concurrency. So is the count of distinct
recipients, kept as short keyed digests (:class:`Recipients`), never as who they are. The
flusher asks :meth:`Notifier.due` once per pass, puts the notifications in the outbox, and then
marks them sent in their groups: a crash in between gives the same notification id again (the
group's fingerprint, episode and sequence), which each destination gets once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from handlers.alerting.alert import Alert
from handlers.notify.notification import (
    NOTIFICATION_TYPE,
    Example,
    Notification,
    NotificationData,
    Reason,
    iso_time,
)
from handlers.notify.severity import SeverityRule
from handlers.notify.silences import Muting, Silences
from handlers.settings import DEFAULT_GROUP_BY
from handlers.state.groups import Document, GroupStore

__all__ = [
    "NOTIFICATION_TYPE", "Due", "GroupState", "Notification", "Notifier", "Recipients", "Timers"
]
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


# Distinct recipients are counted exactly up to this many per group, then as "at least": a
# group document is one table property (at most 32 K characters), and 2,000 digests take 22 K.
MAX_RECIPIENTS = 2_000
DIGEST_BYTES = 8  # 64 bits: two of 2,000 recipients share a digest about once in 10^13 groups
_DIGEST_CHARS = 11  # unpadded base64url of DIGEST_BYTES
_SALT_BYTES = 16


@dataclass(frozen=True)
class Recipients:
    """A group's distinct recipients, as its document keeps them: HMAC-SHA256 digests, keyed
    by a random salt of the group's own and cut to 8 bytes, one after the other in one string.

    The salt makes the same number give different digests in different groups, so documents
    cannot be joined on a person; the digests never leave the document (a notification says
    how many, never which). Anyone who can read the state store can still test a guessed
    number against them, as phone numbers are few: they keep who out of sight, they are no
    encryption. A group's document, digests and salt go when the group resolves.
    """

    salt: str
    digests: str
    capped: bool

    @classmethod
    def new(cls) -> Recipients:
        return cls(secrets.token_hex(_SALT_BYTES), "", capped=False)

    @classmethod
    def of(cls, doc: Document) -> Recipients:
        """The document's; a new salt for a group that has none yet (a new one, or one recorded
        before recipients were counted). A change that lost a race and runs again draws
        another salt, but only the one written with its digests is ever read."""
        salt = doc.get("recipient_salt")
        if not salt:
            return cls.new()
        return cls(salt, doc.get("recipient_digests", ""), bool(doc.get("recipients_capped")))

    @property
    def count(self) -> int:
        return len(self.digests) // _DIGEST_CHARS

    def each(self) -> set[str]:
        step = _DIGEST_CHARS
        return {self.digests[i : i + step] for i in range(0, len(self.digests), step)}

    def digest(self, recipient: str) -> str:
        key = bytes.fromhex(self.salt)
        mac = hmac.new(key, _comparable(recipient).encode("utf-8"), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:DIGEST_BYTES]).decode("ascii").rstrip("=")

    def adding(self, recipients: Sequence[str]) -> Recipients:
        """These recipients counted in too, each once; past the bound, only "at least"."""
        known = self.each()
        digests, capped = [self.digests], self.capped
        for recipient in recipients:
            digest = self.digest(recipient)
            if digest in known:
                continue
            if len(known) >= MAX_RECIPIENTS:
                capped = True
                break
            known.add(digest)
            digests.append(digest)
        return Recipients(self.salt, "".join(digests), capped)

    def into(self, doc: Document) -> None:
        doc.update(
            recipient_salt=self.salt, recipient_digests=self.digests, recipients_capped=self.capped
        )


def _comparable(recipient: str) -> str:
    """One spelling per recipient: an address in any casing, a number with or without its
    '+' or separators, count once."""
    text = recipient.strip()
    if "@" in text:
        return text.casefold()
    digits = "".join(ch for ch in text if ch.isdigit())
    return digits or text


def recipients_of(doc: Document) -> tuple[int, bool]:
    """How many distinct recipients a group document counts, and whether that is "at least"
    (the status page's and the notification's count; never the digests themselves)."""
    recipients = Recipients.of(doc)
    return recipients.count, recipients.capped


@dataclass(frozen=True)
class GroupState:
    """A group as it stands: what its next notification would say, and the silence that last
    muted it (None when none has)."""

    data: NotificationData
    silenced_by: str | None


@dataclass(frozen=True)
class Due:
    """A notification that is due, and its group as it was read."""

    notification: Notification
    group: Document


@dataclass
class Notifier:
    groups: GroupStore
    source: str
    group_by: tuple[str, ...] = DEFAULT_GROUP_BY
    timers: Timers = Timers()
    clock: Callable[[], float] = time.time
    silences: Silences | None = None
    severity: SeverityRule = field(default_factory=SeverityRule)

    # --- the pipeline: the claimant records its alerts --------------------------------------

    def record(self, alerts: Sequence[Alert], recipients: Mapping[str, str] | None = None) -> None:
        """Count ``alerts`` into their groups: one change per group per delivery.

        ``recipients`` maps an alert's id to its event's recipient as written (the pipeline's
        :class:`~handlers.events.outcome.Outcome` holds it; the alert, which leaves the app,
        does not). It is digested into the group's document and goes no further.
        """
        by_group: dict[str, list[Alert]] = defaultdict(list)
        for alert in alerts:
            by_group[fingerprint(alert.labels, self.group_by)].append(alert)
        now = self.clock()
        given = recipients or {}
        for key, members in by_group.items():
            parties = [given[a.id] for a in members if given.get(a.id)]
            add = partial(self._add, key=key, alerts=members, recipients=parties, now=now)
            self.groups.change(key, add)

    def _add(
        self,
        doc: Document | None,
        *,
        key: str,
        alerts: list[Alert],
        recipients: list[str],
        now: float,
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
        Recipients.of(doc).adding(recipients).into(doc)
        doc["total"] += len(alerts)
        doc["since_last"] += len(alerts)
        # A delivery that took its time may apply an older clock reading than one that came
        # after it: last seen never moves back.
        doc["last_seen"] = max(doc["last_seen"], now)
        room = MAX_EXAMPLES - len(doc["examples"])
        doc["examples"] += [
            _example(alert).model_dump(mode="json") for alert in alerts[: max(0, room)]
        ]
        return doc

    # --- the flusher: which notifications are due -------------------------------------------

    def due(self) -> list[Due]:
        """The notifications due now, oldest group first."""
        now = self.clock()
        muting = Muting(self.silences)
        found = []
        for doc in sorted(self.groups.documents(), key=lambda d: d["first_seen"]):
            reason = self._reason(doc, now)
            if reason is None:
                continue
            silence = muting.silence_for(doc["labels"])
            if silence is not None:
                self._hush(doc, reason, silence.id)
                continue
            found.append(Due(self._notification(doc, reason, now), doc))
        return found

    def _hush(self, doc: Document, reason: str, silence_id: str) -> None:
        """A silenced group is counted, not notified; resolved under a silence, it goes. The
        group remembers which silence muted it, for the status page."""

        def hush(current: Document | None) -> Document | None:
            if current is None or reason == "resolved":
                return None
            current.update(silenced=True, silenced_by=silence_id)
            return current

        self.groups.change(doc["fingerprint"], hush)

    def mark_sent(self, due: Due) -> None:
        """The notification is in the outbox: the group moves on (or goes, once resolved)."""
        sent_at = self.clock()
        notification = due.notification
        resolved = notification.data.status == "resolved"
        seq: int = due.group["seq"] + 1  # the notification's sequence, as it was made
        total_then = due.group["total"]
        counted = due.group["since_last"]

        episode = due.group["first_seen"]

        def advance(doc: Document | None) -> Document | None:
            if doc is None or doc["first_seen"] != episode or doc["seq"] >= seq:
                return doc  # already advanced (another pass), gone, or a new episode
            if resolved and doc["total"] == total_then:
                # Nothing came since the group was read: it goes. Judged by the count, not by
                # last seen, which a slow delivery can write after the read with an earlier time.
                return None
            if resolved:
                return _next_episode(doc, late=doc["total"] - total_then, seq=seq)
            doc.update(
                seq=seq, notified_at=sent_at, status="firing", silenced=False, silenced_by=None
            )
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

    # --- the status page: the groups as they stand ------------------------------------------

    def current(self) -> list[GroupState]:
        """Every group the store holds (pending, firing, or muted), oldest first, as its next
        notification would report it now."""
        docs = sorted(self.groups.documents(), key=lambda d: d["first_seen"])
        return [
            GroupState(self._data(doc, None, doc["seq"] or None), doc.get("silenced_by"))
            for doc in docs
        ]

    def _notification(self, doc: Document, reason: Reason, now: float) -> Notification:
        seq = doc["seq"] + 1
        return Notification(
            # The episode (its first seen) is part of the id: a group that resolved, went, and
            # came back starts again at sequence 1, and must not reuse the first episode's ids.
            id=str(uuid.uuid5(_NAMESPACE, f"{doc['fingerprint']}:{doc['first_seen']!r}:{seq}")),
            source=self.source,
            subject=f"group/{doc['fingerprint']}",
            time=iso_time(now),
            data=self._data(doc, reason, seq),
        )

    def _data(self, doc: Document, reason: Reason | None, seq: int | None) -> NotificationData:
        status = "resolved" if reason == "resolved" else "firing"
        labels = doc["labels"]
        summary = ", ".join(f"{k}={v}" for k, v in labels.items())
        recipients, capped = recipients_of(doc)
        return NotificationData(
            status=status,
            reason=reason,
            about="group",
            group=doc["fingerprint"],
            sequence=seq,
            labels=labels,
            severity=self.severity.of(doc["category"], doc["kind"], doc["total"]),
            total=doc["total"],
            since_last=doc["since_last"],
            # None when no event of the group named a recipient (calls): unknown, not zero.
            recipients=recipients or None,
            recipients_capped=capped if recipients else None,
            first_seen=iso_time(doc["first_seen"]),
            last_seen=iso_time(doc["last_seen"]),
            examples=[Example.model_validate(example) for example in doc["examples"]],
            meaning=doc["meaning"],
            advice=doc["advice"],
            after_silence=bool(doc.get("silenced")),
            summary=f"{status}: {doc['total']} alert(s) ({doc['since_last']} new) for {summary}",
        )


def _next_episode(doc: Document, *, late: int, seq: int | None) -> Document:
    """The alerts counted while the group was being resolved start its next episode: it is
    pending again and fires (``new``) after GROUP_WAIT, as a group that came back would."""
    doc.update(
        seq=seq,
        status="pending",
        notified_at=None,
        first_seen=doc["last_seen"],
        total=late,
        since_last=late,
        examples=[],
        silenced=False,
        silenced_by=None,
    )
    # Which recipients the late alerts had is not kept apart from the episode that ended:
    # the new episode counts from none rather than claim the old one's.
    Recipients.new().into(doc)
    return doc


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

