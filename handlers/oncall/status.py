"""What the status page reads and changes: a :class:`StatusSource`, and the silence form.

The source is the notification state (groups, alarms, silences, the last notifications and
where they went); the page only reads a :class:`~handlers.oncall.views.StatusView` of it and
asks it to add or expire a silence. The form's fields are read and checked here, so a bad
matcher is answered with the page and what is wrong, never with a half-made silence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Protocol

from handlers.alerting.matchers import Matcher, parse_matcher_list
from handlers.errors import InvalidSilence
from handlers.masking import mask_personal_in
from handlers.oncall.views import SilenceView, StatusView

MAX_SILENCE = timedelta(days=7)
_DURATION = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


class StatusSource(Protocol):
    """The notification state, as the status page needs it."""

    def snapshot(self, now: datetime) -> StatusView:
        """Firing groups, active alarms, silences and the last notifications at ``now``."""
        ...

    def add_silence(
        self, matchers: tuple[Matcher, ...], *, created_by: str, comment: str,
        starts_at: datetime, ends_at: datetime,
    ) -> SilenceView:
        """Store a silence; the groups it matches are counted but not notified from now on."""
        ...

    def expire_silence(self, silence_id: str, now: datetime) -> None:
        """End a silence at ``now`` (an unknown id is an InvalidSilence)."""
        ...


def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """``code=503, channel=call`` (or one per line); ``!=``, ``=~`` and ``!~`` as Alertmanager."""
    return parse_matcher_list(text)


def parse_duration(text: str) -> timedelta:
    """``30m``, ``2h``, ``1d``: up to a week, so a forgotten silence ends by itself."""
    found = _DURATION.match(text or "")
    if found is None:
        raise InvalidSilence("The duration is a number and m, h or d, such as 2h.")
    amount, unit = found.groups()
    duration = timedelta(**{_UNITS[unit]: int(amount)})
    if not timedelta(0) < duration <= MAX_SILENCE:
        raise InvalidSilence("A silence lasts more than nothing and at most 7 days.")
    return duration


def _free_text(value: str, field: str, limit: int) -> str:
    # Shown to everyone who opens the page: no phone number, no e-mail address.
    text = mask_personal_in(value.strip())
    if not text:
        raise InvalidSilence(f"The {field} is required: say who and why.")
    if len(text) > limit:
        raise InvalidSilence(f"The {field} is at most {limit} characters.")
    return text


def add_silence_from_form(
    source: StatusSource, form: Mapping[str, str], now: datetime
) -> SilenceView:
    matchers = parse_matchers(form.get("matchers", ""))
    duration = parse_duration(form.get("duration", ""))
    return source.add_silence(
        matchers,
        created_by=_free_text(form.get("created_by", ""), "author", 100),
        comment=_free_text(form.get("comment", ""), "comment", 500),
        starts_at=now,
        ends_at=now + duration,
    )


def expire_silence_from_form(
    source: StatusSource, form: Mapping[str, str], now: datetime
) -> None:
    silence_id = form.get("silence_id", "").strip()
    if not silence_id:
        raise InvalidSilence("Which silence? The form names none.")
    source.expire_silence(silence_id, now)
