"""The terminal's block for a notification under ``make serve``: what a person trying the app
reads, the distinct recipients included where the group's events name any (never who)."""

from __future__ import annotations

from handlers.notify.notification import Notification, NotificationData
from handlers.tools.terminal import render


def group_notification(recipients: int | None, capped: bool | None = None) -> Notification:
    return Notification(
        id="n-1",
        source="/acs-triage",
        time="2026-12-02T10:00:00+00:00",
        data=NotificationData(
            status="firing",
            about="group",
            reason="new",
            summary="firing",
            group="g",
            sequence=1,
            labels={"channel": "sms", "code": "5000"},
            severity="warning",
            total=40,
            since_last=40,
            recipients=recipients,
            recipients_capped=capped,
            first_seen="2026-12-02T10:00:00+00:00",
            last_seen="2026-12-02T10:00:05+00:00",
            examples=[],
        ),
    )


def test_a_group_block_says_how_many_recipients_in_its_own_line() -> None:
    block = render(group_notification(12, capped=False))
    assert "== FIRING (new, warning)  channel=sms  code=5000" in block
    assert "   40 alert(s), 40 new;" in block
    assert "\n   12 distinct recipient(s)\n" in block


def test_past_the_bound_it_says_at_least_and_without_a_count_it_says_nothing() -> None:
    assert "at least 2000 distinct recipient(s)" in render(group_notification(2000, True))
    assert "recipient" not in render(group_notification(None))
