"""The on-call receivers against loopback stand-ins that check key, signature and payload shape.

Every receiver is built from its settings, as the app builds it, and driven with the storm's
notifications (the real notification model) read into views by the one adapter.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from handlers.alerting.delivery import SinkError
from handlers.board import notification_view
from handlers.notify.notification import Notification, NotificationData
from handlers.oncall.alertmanager import ZERO_TIME, alertmanager_payload
from handlers.oncall.pagerduty import pagerduty_event
from handlers.oncall.receivers import Receiver
from handlers.oncall.slack import Pacer, slack_message
from handlers.oncall.teams import adaptive_card
from handlers.oncall.views import GroupView, NotificationView
from handlers.runtime import build_receivers
from handlers.settings import SettingsError, load_settings
from tests.capture_server import CaptureServer, Reply
from tests.oncall_receivers import (
    ALERTMANAGER_TOKEN,
    RECEIVER_KINDS,
    ROUTING_KEY,
    SLACK_TOKEN,
    TEAMS_SIGNATURE,
    adaptive_card_problems,
    group_and_status,
    receiver_server,
    receiver_settings,
    slack_problems,
)
from tests.oncall_storm import RAW_EMAIL, RAW_NUMBERS, storm_models, storm_notifications

STATUS_URL = "http://127.0.0.1:7071/api/status"
KINDS = RECEIVER_KINDS
SECRETS = (ROUTING_KEY, TEAMS_SIGNATURE, SLACK_TOKEN.split("/")[-1], ALERTMANAGER_TOKEN)


def receiver_for(kind: str, server: CaptureServer, **wrong: str) -> Receiver:
    settings = load_settings(
        status_page_url=STATUS_URL, callback_jwt_required=False,
        **receiver_settings(kind, server, **wrong),
    )
    (receiver,) = build_receivers(settings)
    assert receiver.name == kind
    return receiver


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(kind: str) -> Iterator[CaptureServer]:
    with receiver_server(kind) as running:
        yield running


def changed(notification: Notification, **data: Any) -> Notification:
    """The same notification with some of its data changed."""
    return notification.model_copy(update={"data": notification.data.model_copy(update=data)})


# --- the storm, end to end -------------------------------------------------------------------


def test_each_receiver_takes_one_firing_and_one_resolved_message_per_group(
    kind: str, server: CaptureServer
) -> None:
    receiver = receiver_for(kind, server)
    for notification in storm_notifications():
        receiver.send(notification)
    requests = server.requests
    assert [r.status for r in requests] == [r.status for r in server.accepted()]
    assert len(requests) == 6
    seen = Counter(group_and_status(kind, r) for r in requests)
    groups = {group for group, _ in seen}
    assert len(groups) == 3
    assert seen == Counter({(g, s): 1 for g in groups for s in ("firing", "resolved")})


def test_no_phone_number_or_secret_reaches_a_message_body(
    kind: str, server: CaptureServer
) -> None:
    receiver = receiver_for(kind, server)
    for notification in storm_notifications():
        receiver.send(notification)
    bodies = [r.body.decode() for r in server.requests]
    for number in RAW_NUMBERS:
        assert not any(number in body or number[1:] in body for body in bodies)
    assert not any(RAW_EMAIL in body for body in bodies)
    assert any("0123" in body for body in bodies)  # the masked form still tells numbers apart
    if kind != "pagerduty":  # PagerDuty authenticates by the key in the body, by design
        assert not any(secret in body for body in bodies for secret in SECRETS)


def test_a_wrong_key_is_refused_and_never_retried(kind: str, server: CaptureServer) -> None:
    wrong = "T00000000/B00000000/wrong" if kind == "slack" else "wrong-key"
    receiver = receiver_for(kind, server, key=wrong)
    with pytest.raises(SinkError) as raised:
        receiver.send(storm_notifications()[0])
    assert raised.value.permanent
    assert 400 <= server.requests[0].status < 500
    assert "wrong" not in str(raised.value)


def test_a_failing_receiver_raises_a_retryable_error_and_the_retry_sends_the_same_message(
    kind: str, server: CaptureServer
) -> None:
    receiver = receiver_for(kind, server)
    notification = storm_notifications()[0]
    server.answer(Reply(503, headers={"Retry-After": "7"}))
    with pytest.raises(SinkError) as raised:
        receiver.send(notification)
    assert not raised.value.permanent
    assert raised.value.retry_after == 7.0
    receiver.send(notification)  # what the outbox does with a notification not yet taken
    first, second = server.requests
    assert first.status == 503 and 200 <= second.status < 300
    assert first.json() == second.json()


def test_a_receiver_that_does_not_answer_raises_a_retryable_error(caplog: Any) -> None:
    settings = load_settings(
        pagerduty_routing_key=ROUTING_KEY, pagerduty_events_url="http://127.0.0.1:9/v2/enqueue",
        callback_jwt_required=False,
    )
    (receiver,) = build_receivers(settings)
    with caplog.at_level(logging.DEBUG), pytest.raises(SinkError) as raised:
        receiver.send(storm_notifications()[0])
    assert not raised.value.permanent
    assert ROUTING_KEY not in caplog.text and ROUTING_KEY not in repr(receiver)


# --- PagerDuty ---------------------------------------------------------------------------------


def test_pagerduty_triggers_and_resolves_on_the_groups_fingerprint() -> None:
    firing, *_, resolved = [
        n for n in storm_notifications() if n.fingerprint == "grp-call-503-560503"
    ]
    trigger = pagerduty_event(firing, routing_key=ROUTING_KEY, status_url=STATUS_URL)
    resolve = pagerduty_event(resolved, routing_key=ROUTING_KEY, status_url=STATUS_URL)
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == "grp-call-503-560503"
    assert resolve == {"routing_key": ROUTING_KEY, "event_action": "resolve",
                       "dedup_key": "grp-call-503-560503"}
    details = trigger["payload"]["custom_details"]
    assert "Call failed because of an internal server error" in details["meaning"]
    assert "SBC" in details["advice"]
    assert (details["alerts_total"], details["alerts_new"]) == (400, 400)
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["links"] == [{"href": STATUS_URL, "text": "acs-triage status page"}]


@pytest.mark.parametrize(("ours", "theirs"), [("critical", "critical"), ("warning", "warning"),
                                              ("info", "info")])
def test_pagerduty_severity_is_mapped(ours: str, theirs: str) -> None:
    trigger = pagerduty_event(
        notification_view(changed(storm_models()[0], severity=ours)),
        routing_key=ROUTING_KEY, status_url=STATUS_URL,
    )
    assert trigger["payload"]["severity"] == theirs


def test_pagerduty_summary_is_cut_to_its_limit() -> None:
    trigger = pagerduty_event(
        notification_view(changed(storm_models()[0], meaning="x" * 5000)),
        routing_key=ROUTING_KEY, status_url=STATUS_URL,
    )
    assert len(trigger["payload"]["summary"]) == 1024


# --- Teams -----------------------------------------------------------------------------------


def test_every_storm_card_is_valid_against_the_published_schema() -> None:
    for notification in storm_notifications():
        card = adaptive_card(notification, status_url=STATUS_URL)
        assert adaptive_card_problems(card) == []
        assert card["version"] == "1.4"


def test_the_schema_check_refuses_an_invalid_card() -> None:
    card = adaptive_card(storm_notifications()[0], status_url=STATUS_URL)
    card["body"].append({"type": "FactSet", "facts": [{"title": "x"}]})  # a fact without value
    card["actions"][0]["style"] = "loud"
    assert len(adaptive_card_problems(card)) >= 1


def test_the_card_says_status_counts_times_advice_examples_and_the_silence_command() -> None:
    card = adaptive_card(storm_notifications()[0], status_url=STATUS_URL)
    text = json.dumps(card)
    for expected in ("[FIRING]", "400 in all", "First seen", "Last seen", "**Advice:**",
                     "evt-00000", "python -m handlers silence add",
                     "--matcher 'code=503'"):
        assert expected in text
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open the status page", "url": STATUS_URL}
    ]


# --- Slack -----------------------------------------------------------------------------------


def test_a_burst_to_slack_is_paced_one_message_per_interval() -> None:
    with receiver_server("slack") as server:
        paced_settings = {**receiver_settings("slack", server), "slack_min_interval_seconds": 0.25,
                          "callback_jwt_required": False}
        (receiver,) = build_receivers(load_settings(**paced_settings))
        for notification in storm_notifications():
            receiver.send(notification)
        arrivals = [r.at for r in server.accepted()]
    assert len(arrivals) == 6
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert min(gaps) >= 0.24


def test_the_pacer_spaces_sends_a_second_apart_by_default_and_honours_retry_after() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        now[0] += seconds

    pacer = Pacer(clock=lambda: now[0], sleep=sleep)
    with pacer.turn():
        now[0] += 0.2  # the first send takes 0.2 s: the next may start 1 s after its answer
    with pacer.turn():
        pass
    now[0] += 0.4
    with pacer.turn():
        pacer.hold_for(30)  # answered 429, Retry-After: 30
    with pacer.turn():
        pass
    assert slept == [1.0, 0.6, 30.0]


def test_slack_429_holds_the_channel_for_its_retry_after() -> None:
    with receiver_server("slack") as server:
        receiver = receiver_for("slack", server)
        server.answer(Reply(429, b"rate_limited", {"Retry-After": "1"}))
        with pytest.raises(SinkError) as raised:
            receiver.send(storm_notifications()[0])
        receiver.send(storm_notifications()[0])
        first, second = server.requests
    assert raised.value.retry_after == 1.0 and not raised.value.permanent
    assert second.at - first.at >= 0.95


def test_slack_text_is_escaped_and_blocks_stay_within_limits() -> None:
    advice = "Check <SBC> & trunks " + "y" * 4000
    message = slack_message(
        notification_view(changed(storm_models()[0], advice=advice)), status_url=STATUS_URL
    )
    advice = message["blocks"][2]["text"]["text"]
    assert "&lt;SBC&gt; &amp; trunks" in advice
    assert len(advice) == 3000
    assert message["blocks"][0]["text"]["text"].startswith("[FIRING] call 503/560503")


# --- Alertmanager -----------------------------------------------------------------------------


def test_alertmanager_payload_carries_the_group_and_its_labels() -> None:
    notifications: list[NotificationView] = storm_notifications()
    firing, resolved = (n for n in notifications if n.fingerprint == "grp-sms-5000")
    fired = alertmanager_payload(firing, receiver="oncall", status_url=STATUS_URL)
    ended = alertmanager_payload(resolved, receiver="oncall", status_url=STATUS_URL)
    assert fired["version"] == "4" and fired["receiver"] == "oncall"
    assert fired["groupKey"] == ended["groupKey"]
    assert re.fullmatch(r'\{\}:\{category="UnexpectedServerError", channel="sms", .*\}',
                        fired["groupKey"])
    (alert,) = fired["alerts"]
    assert isinstance(firing.about, GroupView)
    assert alert["labels"] == {**firing.about.labels, "alertname": "ACSFailureGroup",
                               "severity": "critical"}
    assert alert["endsAt"] == ZERO_TIME
    assert ended["alerts"][0]["endsAt"].startswith("2026-11-21T03:23:00")
    assert alert["generatorURL"] == f"{STATUS_URL}#grp-sms-5000"
    assert alert["annotations"]["description"].startswith("Message failed to deliver.")


# --- settings ----------------------------------------------------------------------------------


def test_a_receiver_url_is_checked_at_start_and_never_quoted() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(
            callback_jwt_required=False,
            slack_webhook_url="http://hooks.slack.com/services/T0/B0/tokentokentoken",
        )
    assert "SLACK_WEBHOOK_URL" in str(raised.value)
    assert "tokentokentoken" not in str(raised.value)


def test_an_empty_secret_configures_no_receiver() -> None:
    settings = load_settings(
        callback_jwt_required=False, pagerduty_routing_key="  ", teams_workflow_url="",
        slack_webhook_url="", alertmanager_webhook_url="",
    )
    assert build_receivers(settings) == []
    configured = load_settings(callback_jwt_required=False, pagerduty_routing_key=ROUTING_KEY)
    assert ROUTING_KEY not in repr(configured) and ROUTING_KEY not in str(configured)


def test_an_alarm_says_how_to_silence_it_and_a_destination_does_not() -> None:
    alarm = next(n for n in storm_notifications() if n.about.kind == "alarm")
    card = json.dumps(adaptive_card(alarm, status_url=STATUS_URL))
    assert "--matcher 'alarm=sms-failure-rate' --matcher 'channel=sms'" in card
    outage = notification_view(Notification(
        id="outage-1", source="/acs-triage", time="2026-11-21T03:10:00+00:00",
        data=NotificationData(status="firing", about="destination", destination="webhook",
                              failing_since="2026-11-21T03:05:00+00:00", summary="down"),
    ))
    message = slack_message(outage, status_url=STATUS_URL)
    assert "Silence it" not in json.dumps(message)
    assert slack_problems(message) == []
    assert adaptive_card_problems(adaptive_card(outage, status_url=STATUS_URL)) == []
