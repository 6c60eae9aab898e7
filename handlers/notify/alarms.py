"""Rate alarms: a channel's failed / all results over a sliding window.

Words, kept apart: an **alert** is one event's record; a **group** the alerts that share their
``GROUP_BY`` labels; an **alarm** a rate rule over a window (this module); a **notification**
a message about a group or an alarm; a **silence** mutes groups and alarms by their labels (an
alarm's are ``alarm`` and ``channel``).

Counting. The pipeline hands :meth:`RateAlarms.count` the results of the events its attempt
won the claim for, never a duplicate nor an event another attempt holds, so counts are exact
under redelivery and concurrency. A result is an event read as one (``ok``, or ``alert`` when
it failed); ignored and unreadable events are not results. Each channel's tally goes into
per-minute buckets with **one** change of a counts document per channel per delivery, however
many events it held; buckets older than the window and an hour of history are dropped on the
way. The counts of a channel are spread over a few documents (``COUNT_SHARDS``), one picked at
random per change: with Table Storage every change is a conditional write, and every instance
writing one row for every delivery would make them retry each other's writes.

Evaluation. The flusher asks :meth:`RateAlarms.due` once per pass (it holds the flusher's
claim: one evaluator at a time), puts the notifications in the outbox, then
:meth:`RateAlarms.mark_sent` records each alarm's new state. A crash in between gives the same
notification id again: the alarm's name and sequence, which only grows (an alarm's state is
kept after it resolves, so a later firing never reuses an id a destination already has).

The rule. Fewer than ``min_volume`` results in the window never fire. A ratio at or above the
warning ratio fires as a warning, at or above the critical ratio as critical; a rise to critical
is a notification (``escalated``) at once. A level is left only once the ratio has stayed under
that level's ratio × ``clear_fraction``, or the volume under ``min_volume``, for
``clear_seconds``: critical then drops to warning (``de-escalated``), warning to ``resolved``.
While firing with nothing new, a reminder (``repeat``) goes every ``repeat_interval``.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

from handlers.alerting.labels import channel_of
from handlers.notify.notification import (
    AlarmInfo,
    Notification,
    NotificationData,
    RatioPoint,
    iso_time,
)
from handlers.notify.silences import Muting, Silences
from handlers.settings import RateRule, Settings, SeverityName
from handlers.state.groups import Document, GroupStore

__all__ = ["AlarmDue", "AlarmLimits", "AlarmSnapshot", "RateAlarms", "Tally", "tally"]

Level = Literal["warning", "critical"]
_RANK: Mapping[Level | None, int] = {None: 0, "warning": 1, "critical": 2}
_NAMESPACE = uuid.UUID("b2e7f1c4-8a3d-4e59-9c06-7d1a5f3e2b48")
BUCKET_SECONDS = 60
HISTORY_SECONDS = 3600
# A resolved alarm is shown as resolved on the status page for as long as its chart reaches.
RESOLVED_SHOWN_SECONDS = HISTORY_SECONDS
COUNT_SHARDS = 4


@dataclass(frozen=True, slots=True)
class Tally:
    """A channel's results: how many, and how many of them failed."""

    total: int = 0
    failed: int = 0

    @property
    def ratio(self) -> float:
        return self.failed / self.total if self.total else 0.0


def tally(results: Iterable[tuple[str | None, str]]) -> dict[str, Tally]:
    """Per channel, the results among ``(event type, verdict)`` pairs: ``ok`` and ``alert``
    are results, ``alert`` a failed one; any other verdict is not a result."""
    totals: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    channels: dict[str | None, str] = {}  # a delivery holds a handful of types
    for event_type, verdict in results:
        if verdict not in ("ok", "alert"):
            continue
        channel = channels.get(event_type)
        if channel is None:
            channel = channels[event_type] = channel_of(event_type)
        totals[channel] += 1
        failed[channel] += verdict == "alert"
    return {channel: Tally(total, failed[channel]) for channel, total in totals.items()}


@dataclass(frozen=True)
class AlarmLimits:
    """What every rule shares: the window, the volume and the hysteresis (the settings'
    ``ALARM_*``), and the reminder interval of the groups (``REPEAT_INTERVAL_SECONDS``)."""

    window_seconds: int = 300
    min_volume: int = 30
    clear_seconds: float = 300.0
    clear_fraction: float = 0.5
    repeat_interval: float = 4 * 3600.0


@dataclass(frozen=True)
class AlarmDue:
    """A notification that is due, and the alarm's state once it is recorded."""

    notification: Notification
    state: Document


@dataclass(frozen=True)
class AlarmSnapshot:
    """An alarm as the status page shows it at one moment (:meth:`RateAlarms.snapshot`).

    ``fingerprint`` is ``alarm-<name>``, the ``group`` of its notifications. ``status`` is what
    people were told: ``firing`` until its resolved notification went out, ``resolved`` for an
    hour after that, ``ok`` otherwise (never fired, or resolved long ago). ``severity`` is the
    level it fires at, or last fired at (``info`` if it never fired). ``alarm`` holds the
    window's counts as of now with the thresholds, the notified level (None unless firing),
    ``since`` (when its last firing began; now if it never fired) and the last hour's ratio.
    ``resolved_at`` is when it last resolved, ISO 8601 in UTC (None while firing or if never).
    """

    fingerprint: str
    status: Literal["firing", "resolved", "ok"]
    severity: SeverityName
    alarm: AlarmInfo
    resolved_at: str | None


@dataclass(frozen=True)
class _Seen:
    """What a pass read of one channel: its buckets, and its window's results at ``now``."""

    buckets: Mapping[str, list[int]]
    window: Tally
    now: float


@dataclass(frozen=True)
class _Step:
    """What a pass decided for one alarm: the notification's reason and the level after it."""

    reason: Literal["new", "escalated", "de-escalated", "repeat", "resolved"]
    level: Level | None


def alarm_name(rule: RateRule) -> str:
    return f"{rule.channel}-failure-rate"


def alarm_fingerprint(rule: RateRule) -> str:
    return f"alarm-{alarm_name(rule)}"


def alarm_labels(rule: RateRule) -> dict[str, str]:
    return {"alarm": alarm_name(rule), "channel": rule.channel}


@dataclass
class RateAlarms:
    """The rate alarms of the settings: counted by the pipeline, evaluated by the flusher.

    ``counts`` holds the per-minute buckets (documents keyed ``<channel>:<shard>``), ``states``
    each alarm's state (keyed by its name): both where the groups live, so shared by every
    instance in Azure.
    """

    counts: GroupStore
    states: GroupStore
    rules: Sequence[RateRule]
    source: str
    limits: AlarmLimits = field(default_factory=AlarmLimits)
    clock: Callable[[], float] = time.time
    silences: Silences | None = None
    shard: Callable[[], int] = field(default=partial(random.randrange, COUNT_SHARDS))

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        counts: GroupStore,
        states: GroupStore,
        silences: Silences | None,
    ) -> RateAlarms:
        limits = AlarmLimits(
            window_seconds=settings.alarm_window_seconds,
            min_volume=settings.alarm_min_volume,
            clear_seconds=settings.alarm_clear_seconds,
            clear_fraction=settings.alarm_clear_fraction,
            repeat_interval=settings.repeat_interval_seconds,
        )
        return cls(
            counts=counts,
            states=states,
            rules=settings.alarm_rules,
            source=settings.alert_source,
            limits=limits,
            silences=silences,
        )

    # --- the pipeline: the claimant counts its results --------------------------------------

    def count(self, results: Mapping[str, Tally]) -> None:
        """Add one delivery's results: one change per channel that has a rule."""
        now = self.clock()
        minute = _minute(now)
        oldest = minute - self.limits.window_seconds - HISTORY_SECONDS
        watched = {rule.channel for rule in self.rules}
        for channel, results_of_channel in results.items():
            if channel not in watched or results_of_channel.total == 0:
                continue
            add = partial(
                _add_to_bucket,
                channel=channel,
                minute=minute,
                tally=results_of_channel,
                oldest=oldest,
            )
            self.counts.change(f"{channel}:{self.shard()}", add)

    # --- the flusher: which notifications are due -------------------------------------------

    def due(self) -> list[AlarmDue]:
        """The alarm notifications due now, in the order of the rules."""
        now = self.clock()
        buckets = self._buckets()
        states = {doc["name"]: doc for doc in self.states.documents()}
        muting = Muting(self.silences)
        found = []
        for rule in self.rules:
            seen = self._seen(buckets, rule, now)
            state = states.get(alarm_name(rule)) or _fresh_state(rule)
            state = self._track_clear_levels(rule, state, seen)
            step = self._step(rule, state, seen)
            if step is None:
                continue
            if muting.silence_for(alarm_labels(rule)) is not None:
                self._hush(rule, state)
                continue
            found.append(self._due(rule, state, step, seen))
        return found

    def mark_sent(self, due: AlarmDue) -> None:
        """The notification is in the outbox: the alarm takes its new state (kept once
        resolved: its sequence goes on)."""
        new = due.state

        def advance(doc: Document | None) -> Document | None:
            if doc is not None and doc["seq"] >= new["seq"]:
                return doc  # already advanced by an earlier pass
            return dict(new)

        self.states.change(new["name"], advance)

    # --- the status page ------------------------------------------------------------------

    def snapshot(self, now: float) -> list[AlarmSnapshot]:
        """Every alarm of the settings at ``now`` (seconds since the epoch), in their order."""
        buckets = self._buckets()
        states = {doc["name"]: doc for doc in self.states.documents()}
        found = []
        for rule in self.rules:
            state = states.get(alarm_name(rule)) or _fresh_state(rule)
            firing = state["status"] == "firing"
            resolved_at = state["resolved_at"] if not firing else None
            found.append(
                AlarmSnapshot(
                    fingerprint=alarm_fingerprint(rule),
                    status=_shown_status(state, now),
                    severity=state["last_level"] or "info",
                    alarm=self._info(
                        rule,
                        state["level"] if firing else None,
                        state["since"] or now,
                        self._seen(buckets, rule, now),
                    ),
                    resolved_at=iso_time(resolved_at) if resolved_at is not None else None,
                )
            )
        return found

    def _seen(
        self, buckets: Mapping[str, Mapping[str, list[int]]], rule: RateRule, now: float
    ) -> _Seen:
        channel = buckets.get(rule.channel, {})
        return _Seen(channel, _window(channel, _minute(now), self.limits.window_seconds), now)

    # --- the rule -------------------------------------------------------------------------

    def _level(self, rule: RateRule, window: Tally) -> Level | None:
        """The level the window's ratio calls for; none below the minimum volume."""
        if window.total < self.limits.min_volume:
            return None
        if window.ratio >= rule.critical:
            return "critical"
        if window.ratio >= rule.warning:
            return "warning"
        return None

    def _under_clear_level(self, rule: RateRule, level: Level, window: Tally) -> bool:
        threshold = rule.critical if level == "critical" else rule.warning
        too_few = window.total < self.limits.min_volume
        return too_few or window.ratio < threshold * self.limits.clear_fraction

    def _track_clear_levels(self, rule: RateRule, state: Document, seen: _Seen) -> Document:
        """Note since when the ratio has stayed under each level's clear level (only while
        firing: that is when it decides anything); written only when that changes."""
        if state["status"] != "firing":
            return state
        below = {
            level: state["below"].get(level, seen.now)
            for level in ("warning", "critical")
            if self._under_clear_level(rule, level, seen.window)
        }
        if below == state["below"]:
            return state
        seq = state["seq"]

        def note(doc: Document | None) -> Document | None:
            if doc is None or doc["seq"] != seq:
                return doc  # moved on meanwhile: the next pass looks again
            doc["below"] = below
            return doc

        self.states.change(alarm_name(rule), note)
        return {**state, "below": below}

    def _step(self, rule: RateRule, state: Document, seen: _Seen) -> _Step | None:
        target, now = self._level(rule, seen.window), seen.now
        if state["status"] != "firing":
            return _Step("new", target) if target is not None else None
        level: Level = state["level"]
        if _RANK[target] > _RANK[level]:
            return _Step("escalated", target)
        if self._cleared(state, "warning", now):
            return _Step("resolved", None)
        if level == "critical" and self._cleared(state, "critical", now):
            return _Step("de-escalated", "warning")
        if now - state["notified_at"] >= self.limits.repeat_interval:
            return _Step("repeat", level)
        return None

    def _cleared(self, state: Document, level: Level, now: float) -> bool:
        since = state["below"].get(level)
        return since is not None and now - since >= self.limits.clear_seconds

    def _hush(self, rule: RateRule, state: Document) -> None:
        """A silenced alarm is evaluated but not notified, and keeps the state people were
        told; its next notification after the silence says something was held back."""
        if state.get("silenced"):
            return

        def hush(doc: Document | None) -> Document:
            current = doc if doc is not None else _fresh_state(rule)
            current["silenced"] = True
            return current

        self.states.change(alarm_name(rule), hush)

    # --- the notification -----------------------------------------------------------------

    def _due(self, rule: RateRule, state: Document, step: _Step, seen: _Seen) -> AlarmDue:
        new = _next_state(state, step, seen.now)
        resolved = step.reason == "resolved"
        info = self._info(rule, step.level, new["since"], seen)
        data = NotificationData(
            status="resolved" if resolved else "firing",
            about="alarm",
            reason=step.reason,
            group=alarm_fingerprint(rule),
            sequence=new["seq"],
            labels=alarm_labels(rule),
            severity=new["last_level"],
            after_silence=bool(state.get("silenced")),
            summary=self._summary(rule, step, seen.window),
            alarm=info,
        )
        notification = Notification(
            id=str(uuid.uuid5(_NAMESPACE, f"{alarm_name(rule)}:{new['seq']}")),
            source=self.source,
            subject=f"alarm/{alarm_name(rule)}",
            time=iso_time(seen.now),
            data=data,
        )
        return AlarmDue(notification, new)

    def _info(self, rule: RateRule, level: Level | None, since: float, seen: _Seen) -> AlarmInfo:
        limits, window = self.limits, seen.window
        return AlarmInfo(
            name=alarm_name(rule),
            channel=rule.channel,
            level=level,
            failed=window.failed,
            total=window.total,
            window_seconds=limits.window_seconds,
            warning_ratio=rule.warning,
            critical_ratio=rule.critical,
            min_volume=limits.min_volume,
            since=iso_time(since),
            history=_history(seen.buckets, _minute(seen.now), limits.window_seconds),
        )

    def _summary(self, rule: RateRule, step: _Step, window: Tally) -> str:
        minutes = self.limits.window_seconds // 60
        rate = (
            f"{rule.channel} failure rate {window.ratio:.0%}: {window.failed} of {window.total} "
            f"results in the last {minutes} min"
        )
        if step.level is None:
            clear = rule.warning * self.limits.clear_fraction
            return (
                f"resolved: {rate}; under {_percent(clear)} (or under {self.limits.min_volume} "
                f"results) for {self.limits.clear_seconds / 60:g} min"
            )
        return (
            f"firing ({step.level}, {step.reason}): {rate}; warning at "
            f"{_percent(rule.warning)}, critical at {_percent(rule.critical)}"
        )

    def _buckets(self) -> dict[str, dict[str, list[int]]]:
        """Every channel's buckets, its shards added up."""
        merged: dict[str, dict[str, list[int]]] = {}
        for doc in self.counts.documents():
            channel = merged.setdefault(doc["channel"], {})
            for minute, (total, failed) in doc["buckets"].items():
                before = channel.get(minute, [0, 0])
                channel[minute] = [before[0] + total, before[1] + failed]
        return merged


# --- documents ----------------------------------------------------------------------------


def _add_to_bucket(
    doc: Document | None, *, channel: str, minute: int, tally: Tally, oldest: int
) -> Document:
    buckets: dict[str, list[int]] = doc["buckets"] if doc is not None else {}
    total, failed = buckets.get(str(minute), [0, 0])
    buckets[str(minute)] = [total + tally.total, failed + tally.failed]
    # Bounded: the window and an hour of history, whatever the traffic.
    kept = {key: value for key, value in buckets.items() if int(key) > oldest}
    return {"channel": channel, "buckets": kept}


def _fresh_state(rule: RateRule) -> Document:
    return {
        "name": alarm_name(rule),
        "channel": rule.channel,
        "status": "ok",
        "level": None,
        "last_level": None,
        "since": None,
        "seq": 0,
        "notified_at": None,
        "resolved_at": None,
        "below": {},
        "silenced": False,
    }


def _next_state(state: Document, step: _Step, now: float) -> Document:
    """The alarm's state once a notification of ``step`` is recorded."""
    resolved = step.reason == "resolved"
    return {
        **state,
        "status": "ok" if resolved else "firing",
        "level": step.level,
        "last_level": step.level or state["level"],
        "since": now if step.reason == "new" else state["since"],
        "seq": state["seq"] + 1,
        "notified_at": now,
        "resolved_at": now if resolved else None,
        # The clear clocks run within one firing; a lower level's keeps running.
        "below": {} if step.reason in ("new", "resolved") else state["below"],
        "silenced": False,
    }


def _shown_status(state: Document, now: float) -> Literal["firing", "resolved", "ok"]:
    if state["status"] == "firing":
        return "firing"
    resolved_at = state["resolved_at"]
    if resolved_at is not None and now - resolved_at < RESOLVED_SHOWN_SECONDS:
        return "resolved"
    return "ok"


# --- buckets ------------------------------------------------------------------------------


def _minute(seconds: float) -> int:
    return int(seconds // BUCKET_SECONDS) * BUCKET_SECONDS


def _window(buckets: Mapping[str, list[int]], minute: int, window_seconds: int) -> Tally:
    """The results of the window that ends with the minute ``minute`` (this minute so far and
    the whole minutes before it)."""
    total = failed = 0
    for start in range(minute - window_seconds + BUCKET_SECONDS, minute + 1, BUCKET_SECONDS):
        counted = buckets.get(str(start))
        if counted is not None:
            total += counted[0]
            failed += counted[1]
    return Tally(total, failed)


def _history(
    buckets: Mapping[str, list[int]], minute: int, window_seconds: int
) -> list[RatioPoint]:
    """The window's ratio as it stood at each minute of the last hour (the ratio the
    thresholds are compared with); a minute whose window had no result has no point."""
    points = []
    for start in range(minute - HISTORY_SECONDS + BUCKET_SECONDS, minute + 1, BUCKET_SECONDS):
        window = _window(buckets, start, window_seconds)
        if window.total:
            points.append(RatioPoint(at=iso_time(start), ratio=window.ratio))
    return points


def _percent(ratio: float) -> str:
    return f"{ratio * 100:g}%"

