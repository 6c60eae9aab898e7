"""An alert's labels: the channel, and for a message where it went (country, carrier) and from
which line (the sender, masked), read by libphonenumber's real offline data from the parties
as the event wrote them, before anything is masked; both paths give the same labels; and the
carrier data is loaded only when a label needs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.events import sms_report
from handlers.alerting.labels import LABEL_NAMES, channel_of, number_labels, sender_label
from handlers.fast.reading import FastEvent
from handlers.inbound.envelope import parse_events
from handlers.notify.silences import KNOWN_LABELS as SILENCE_LABELS
from handlers.settings import KNOWN_LABELS as SETTINGS_LABELS
from tests.conftest import RuntimeFactory, read_alerts, read_notifications
from tests.events import call_result
from tests.test_event_families import email_report, whatsapp_status
from tests.test_fast_path import side
from tests.test_storm import Clock, clocked_runtime

REPO = Path(__file__).resolve().parent.parent
# Numbers whose ranges libphonenumber's carrier data names (the United Kingdom publishes who
# each mobile range was allocated to), and one of North America, whose numbers are portable
# and have no such data.
UK_THREE = "+447400123456"
UK_VODAFONE = "+447900123456"
US_NUMBER = "+12015550123"
SENDER = "+15555550100"


@pytest.mark.parametrize(
    ("number", "country", "carrier"),
    [
        (UK_THREE, "GB", "Three"),
        (UK_VODAFONE, "GB", "Vodafone"),
        ("447900123456", "GB", "Vodafone"),  # E.164 without its '+', as a subject writes it
        ("+33612345678", "FR", "SFR"),
        (US_NUMBER, "US", "unknown"),  # the number plan says the country, not the carrier
        ("+16135550123", "CA", "unknown"),
        ("+15555550123", "unknown", "unknown"),  # +1 is shared and 555 is no one's range
        ("+80012345678", "unknown", "unknown"),  # a non-geographic number
        ("jane.doe@contoso.com", "unknown", "unknown"),  # an address has neither
        ("3f870487-d59e-4c01-82dd-46b9d388aa9d", "unknown", "unknown"),
        ("", "unknown", "unknown"),
        (None, "unknown", "unknown"),
    ],
)
def test_a_recipient_gives_its_country_and_carrier_where_they_can_be_known(
    number: str | None, country: str, carrier: str
) -> None:
    assert number_labels(number) == (country, carrier)


@pytest.mark.parametrize(
    ("sender", "label"),
    [
        (SENDER, "+*******0100"),
        ("Contoso", "Contoso"),  # an alphanumeric sender id names the business
        ("12345", "12345"),  # a short code
        ("DoNotReply@contoso.com", "D*********@contoso.com"),
        ("3f870487-d59e-4c01-82dd-46b9d388aa9d", "3f870487-d59e-4c01-82dd-46b9d388aa9d"),
        (None, "unknown"),
        ("x" * 500, "x" * 63 + "…"),
    ],
)
def test_the_sender_line_is_masked_as_everywhere_else_and_bounded(
    sender: str | None, label: str
) -> None:
    assert sender_label(sender) == label


@pytest.mark.parametrize(
    ("event_type", "channel"),
    [
        ("Microsoft.Communication.SMSDeliveryReportReceived", "sms"),
        ("Microsoft.Communication.EmailDeliveryReportReceived", "email"),
        ("Microsoft.Communication.AdvancedMessageDeliveryStatusUpdated", "whatsapp"),
        ("Microsoft.Communication.RouterJobSchedulingFailed", "router"),
        ("Microsoft.Communication.CallDisconnected", "call"),
        ("Microsoft.Communication.CallEnded", "call"),
        ("Microsoft.Communication.ChatMessageReceived", "chat"),
        ("Other.Event", "other"),
        (None, "other"),
    ],
)
def test_each_family_has_its_own_channel(event_type: str | None, channel: str) -> None:
    assert channel_of(event_type) == channel


def test_every_list_of_known_labels_is_the_same() -> None:
    """GROUP_BY and silences name the same labels; silences also name a rate alarm."""
    assert SETTINGS_LABELS == LABEL_NAMES
    assert (*LABEL_NAMES, "alarm") == SILENCE_LABELS


def failed_sms(event_id: str, to: str, sender: str = SENDER) -> dict[str, Any]:
    event = sms_report(event_id, status="Failed", details="5000: failed", failed_segments=1)
    event["data"]["to"] = to
    event["data"]["from"] = sender
    event["subject"] = f"/phonenumber/{to.removeprefix('+')}"
    return event


def only_alert(alert_file: Path) -> dict[str, Any]:
    [alert] = read_alerts(alert_file)
    return alert


def test_an_sms_alert_says_country_carrier_and_sender_and_no_number(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    make_runtime().pipeline.run(parse_events([failed_sms("uk-1", UK_THREE)]), way_in="test")
    alert = only_alert(alert_file)
    assert alert["data"]["labels"] == {
        "channel": "sms", "event_type": "SMSDeliveryReportReceived", "kind": "error",
        "code": "5000", "subcode": "none", "category": "UnexpectedServerError",
        "country": "GB", "carrier": "Three", "sender": "+*******0100",
    }
    text = json.dumps(alert)
    assert UK_THREE[1:-4] not in text and SENDER[1:-4] not in text


def test_a_whatsapp_alert_is_labelled_by_its_recipient_and_keeps_the_channel_id(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    event = whatsapp_status("wa-1", "failed", code="999999")  # unknown code: it alerts
    event["data"]["to"] = UK_VODAFONE
    make_runtime().pipeline.run(parse_events([event]), way_in="test")
    labels = only_alert(alert_file)["data"]["labels"]
    assert (labels["channel"], labels["country"], labels["carrier"]) == (
        "whatsapp", "GB", "Vodafone"
    )
    assert labels["sender"] == "3f870487-d59e-4c01-82dd-46b9d388aa9d"


def test_an_email_alert_has_no_country_or_carrier_and_a_masked_sender(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    make_runtime().pipeline.run(parse_events([email_report("em-1", "Failed")]), way_in="test")
    labels = only_alert(alert_file)["data"]["labels"]
    assert (labels["channel"], labels["country"], labels["carrier"], labels["sender"]) == (
        "email", "unknown", "unknown", "n******@contoso.net"
    )


def test_a_call_names_no_party(make_runtime: RuntimeFactory, alert_file: Path) -> None:
    make_runtime().pipeline.run(
        parse_events([call_result("c-1", code=503, subcode=560503)]), way_in="test"
    )
    labels = only_alert(alert_file)["data"]["labels"]
    assert (labels["channel"], labels["origin"]) == ("call", "sbc")
    assert (labels["country"], labels["carrier"], labels["sender"]) == ("unknown",) * 3


def _labels_sent(*, fast_path: bool, body: bytes) -> list[dict[str, str]]:
    sent = side(fast_path=fast_path)
    if fast_path:  # the body is one the typed records read, not one handed to the careful path
        assert sent.runtime.fast is not None
        events = sent.runtime.fast.read(body)
        assert events is not None and all(isinstance(e, FastEvent) for e in events)
    status, _, alerts = sent.deliver(body)
    assert status == 200
    return [alert["data"]["labels"] for alert in alerts]


def test_both_paths_give_the_same_labels() -> None:
    ordinary = [sms_report(f"ok-{n}") for n in range(5)]
    failed = [failed_sms(f"f-{n}", to) for n, to in enumerate([UK_THREE, UK_VODAFONE, US_NUMBER])]
    body = json.dumps(ordinary + failed).encode()
    fast = _labels_sent(fast_path=True, body=body)
    careful = _labels_sent(fast_path=False, body=body)
    assert fast == careful
    assert [(labels["country"], labels["carrier"]) for labels in fast] == [
        ("GB", "Three"), ("GB", "Vodafone"), ("US", "unknown")
    ]


def test_the_carrier_data_is_loaded_by_the_first_label_that_needs_it() -> None:
    probe = (
        "import sys\n"
        "import function_app\n"
        "from handlers.alerting.labels import labels_for\n"
        "assert 'phonenumbers' not in sys.modules\n"
        "labels_for(event_type='Microsoft.Communication.CallDisconnected', kind='error',\n"
        "           code=503, subcode=560503, category=None)\n"
        "assert 'phonenumbers' not in sys.modules  # a call names no party\n"
        f"labels_for(event_type='x', kind='error', code=1, subcode=None, category=None,\n"
        f"           recipient={UK_THREE!r})\n"
        "assert 'phonenumbers.carrier' in sys.modules\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALERT_", "CALLBACK_"))}
    env |= {"CALLBACK_JWT_REQUIRED": "false", "ALERT_FILE": ""}
    subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env, check=True, timeout=60)


def test_the_default_grouping_keeps_each_carriers_outage_in_a_group_of_its_own(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    clock = Clock()
    runtime = clocked_runtime(make_runtime, clock)
    # The same code to every number: only the carrier tells the two outages apart.
    three = [failed_sms(f"three-{n}", f"+4474001234{n:02d}") for n in range(30)]
    vodafone = [failed_sms(f"voda-{n}", f"+4479001234{n:02d}") for n in range(20)]
    north_america = [failed_sms(f"us-{n}", f"+120155501{n:02d}") for n in range(10)]
    runtime.pipeline.run(parse_events(three + vodafone + north_america), way_in="test")
    clock.now += 31
    runtime.flush()
    groups = {n["data"]["labels"]["carrier"]: n["data"] for n in read_notifications(alert_file)}
    assert {carrier: data["total"] for carrier, data in groups.items()} == {
        "Three": 30, "Vodafone": 20, "unknown": 10
    }
    assert groups["Three"]["labels"] == {
        "channel": "sms", "kind": "error", "code": "5000", "subcode": "none", "carrier": "Three"
    }
