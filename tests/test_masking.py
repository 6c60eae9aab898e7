"""Phone numbers never leave the app unmasked, whatever their shape and whichever field of an
event carries them; ids, dates and GUIDs are left alone. E-mail addresses in free text shown to
people (a silence's author and comment) keep only their first letter and domain."""

from __future__ import annotations

import base64
import copy
import json
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from handlers.alerting.file_sink import FileSink
from handlers.alerting.webhook_sink import WebhookSink
from handlers.http.messages import Headers, Request
from handlers.http.routes import eventgrid
from handlers.masking import (
    mask_email,
    mask_emails_in,
    mask_personal_in,
    mask_phone,
    mask_phones_in,
)
from tests.capture_server import CaptureServer
from tests.conftest import LocalHost, RuntimeFactory
from tests.events import call_result, sms_report


@pytest.mark.parametrize(
    ("number", "masked"),
    [("+15555550123", "+*******0123"), ("15555550123", "*******0123"), ("123", "***")],
)
def test_a_phone_number_keeps_its_plus_and_last_four_digits(number: str, masked: str) -> None:
    assert mask_phone(number) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("/phonenumber/15555555555", "/phonenumber/*******5555"),
        ("sent to +442071234567 and +15555550123", "sent to +********4567 and +*******0123"),
        ("4007: opted out", "4007: opted out"),
        ("Outgoing_202009180022138813a09b-0cbf", "Outgoing_202009180022138813a09b-0cbf"),
        (
            "8:acs:d9ff4983-39e7-4420-8d54-f6354ed06ccd",
            "8:acs:d9ff4983-39e7-4420-8d54-f6354ed06ccd",
        ),
    ],
)
def test_phone_numbers_inside_text_are_masked_and_ids_are_not(text: str, masked: str) -> None:
    assert mask_phones_in(text) == masked


# --- the shapes numbers take, in every free-text field that leaves ------------------------------

WHSEC = "whsec_" + base64.b64encode(bytes(range(32))).decode()

# Each shape ends in its own last four digits, so each can be found (masked) in what leaves.
SHAPES = [
    "+1 555 021 4301",
    "+1-555-022-4302",
    "(555) 023-4303",
    "555.024.4304",
    "to15550254305",
    "msisdn_15550264306",
    "+15550274307",
    "15550284308",
    "+44 20 7946 4309",
    "442079464310",
]


Put = Callable[[dict[str, Any], str], None]


def _put(path: tuple[str, ...], template: Callable[[str], str] = "{}".format) -> Put:
    """A function that writes the text ``template(shape)`` at ``path`` inside an event."""

    def put(event: dict[str, Any], shape: str) -> None:
        node = event
        for name in path[:-1]:
            node = node.setdefault(name, {})
        node[path[-1]] = template(shape)

    return put


def _sms() -> dict[str, Any]:
    return sms_report("sms", status="Failed", details="5000: failed", failed_segments=1)


def _call() -> dict[str, Any]:
    event = call_result("call", "PlayFailed", code=500, subcode=9999, message="failed")
    event["data"]["resultInformation"]["q850Details"] = {"code": 16, "message": "normal"}
    return event


def _call_ended() -> dict[str, Any]:
    return {
        "id": "ended",
        "topic": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Communication/"
        "communicationServices/acs",
        "subject": "call/aHR0cHM6Ly9hcGk/startedBy/8:acs:d9ff4983-39e7-4420-8d54-f6354ed06ccd",
        "eventType": "Microsoft.Communication.CallEnded",
        "eventTime": "2026-11-21T10:00:00Z",
        "dataVersion": "1.0",
        "data": {"reason": {"code": 999, "subCode": 999, "phrase": "ended"}},
    }


FIELDS: dict[str, tuple[Callable[[], dict[str, Any]], Put]] = {
    "sms subject": (_sms, _put(("subject",), "/phonenumber/{}".format)),
    "sms deliveryStatusDetails": (_sms, _put(("data", "deliveryStatusDetails"),
                                             "5000: carrier refused {} today".format)),
    "sms tag": (_sms, _put(("data", "tag"), "campaign for {}".format)),
    "sms from": (_sms, _put(("data", "from"))),
    "sms to": (_sms, _put(("data", "to"))),
    "sms deliveryStatus": (_sms, _put(("data", "deliveryStatus"), "Failed for {}".format)),
    "call subject": (_call, _put(("subject",), "calling/callConnections/{}".format)),
    "call message": (_call, _put(("data", "resultInformation", "message"),
                                 "Play failed calling {}.".format)),
    "call operationContext": (_call, _put(("data", "operationContext"), "customer:{}".format)),
    "call SIP phrase": (_call, _put(("data", "resultInformation", "sipDetails", "message"),
                                    "486 Busy Here <sip:{}@pstn>".format)),
    "call Q.850 phrase": (_call, _put(("data", "resultInformation", "q850Details", "message"),
                                      "user busy ({})".format)),
    "CallEnded phrase": (_call_ended, _put(("data", "reason", "phrase"),
                                           "Call ended by {}".format)),
    "CallEnded subject": (_call_ended, _put(("subject",), "call/x/startedBy/4:{}".format)),
    "malformed specversion": (_call, _put(("specversion",))),
}


@pytest.mark.parametrize(("make_event", "put"), FIELDS.values(), ids=FIELDS.keys())
def test_every_shape_is_masked_in_every_field_everywhere_it_leaves(
    make_runtime: RuntimeFactory,
    local_host: LocalHost,
    alert_file: Path,
    caplog: pytest.LogCaptureFixture,
    make_event: Callable[[], dict[str, Any]],
    put: Put,
) -> None:
    events = []
    for index, shape in enumerate(SHAPES):
        event = copy.deepcopy(make_event())
        event["id"] = f"event-{index}"
        put(event, shape)
        events.append(event)
    with CaptureServer() as webhook, caplog.at_level(logging.DEBUG):
        sinks = [FileSink(alert_file), WebhookSink(webhook.url("/hook"), WHSEC)]
        make_runtime(sinks=sinks, alert_webhook_receives="alerts")
        answer = local_host.post("eventgrid", events)
        webhook_bodies = [request.body.decode() for request in webhook.requests]
    assert answer.status_code == 200, answer.text
    alerts = alert_file.read_text(encoding="utf-8")
    # Unreadable events (a malformed specversion) share one invalid-event alert per delivery.
    unreadable = put is FIELDS["malformed specversion"][1]
    assert len(alerts.splitlines()) == (1 if unreadable else len(SHAPES))
    left = {"alert file": alerts, "webhook": "".join(webhook_bodies), "summary": answer.text,
            "logs": caplog.text}
    for shape in SHAPES:
        for where, text in left.items():
            assert shape[:-4] not in text, (shape, where)
            assert _digits(shape)[-10:] not in text, (shape, where)
        assert shape[-4:] in alerts, shape  # the field did leave, masked


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def test_ids_stay_verbatim_in_the_alert(make_runtime: RuntimeFactory, alert_file: Path) -> None:
    event = call_result("call-id-15550214301", "PlayFailed", code=500, subcode=9999,
                        connection="421f3500-f5de-4c12-bf61-9e2641433687")
    event["data"]["correlationId"] = "corr-15550214301"
    make_runtime()
    assert eventgrid(Request("POST", json.dumps([event]).encode(), Headers())).status == 200
    [alert] = [json.loads(line) for line in alert_file.read_text().splitlines()]
    assert alert["data"]["event"]["id"] == "call-id-15550214301"
    assert alert["data"]["context"]["correlationId"] == "corr-15550214301"
    assert alert["subject"] == "calling/callConnections/421f3500-f5de-4c12-bf61-9e2641433687"


@pytest.mark.parametrize(
    "text",
    ["2026-11-21T10:00:00Z", "at 2026-11-21 10:00:00", "421f3500-f5de-4c12-bf61-9e2641433687",
     "Outgoing_202009180022138813a09b-0cbf", "487/10004 and 603/560603",
     # Seconds and their fraction, which the library once read as a local number.
     "2026-12-02T16:31:13.320981+00:00", "2026-12-02T16:31:11.3300171Z"],
)
def test_dates_guids_and_long_ids_are_not_phone_numbers(text: str) -> None:
    assert mask_phones_in(text) == text


def test_text_with_fewer_than_seven_digits_never_reaches_the_library() -> None:
    probe = (
        "import sys\n"
        "from handlers.masking import mask_phones_in\n"
        "texts = ['4007: opted out', 'code 487/603', 'Outgoing_1', 'x' * 100_000 + '123456']\n"
        "assert [mask_phones_in(t) for t in texts] == texts\n"
        "assert 'phonenumbers' not in sys.modules\n"
        "mask_phones_in('call +1 555 021 4301')\n"
        "assert 'phonenumbers' in sys.modules\n"
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", probe], cwd=root, check=True, timeout=60)


def test_a_problem_detail_that_quotes_the_body_is_masked(
    make_runtime: RuntimeFactory, local_host: LocalHost, caplog: pytest.LogCaptureFixture
) -> None:
    make_runtime()
    body = b'[{"id": "x", "eventType": "T", "data": {"n": 15550214301e999}}]'
    with caplog.at_level(logging.DEBUG):
        answer = local_host.post("eventgrid", body)
    assert "5550214301" not in caplog.text
    assert answer.status_code == 400
    assert "out of range" in answer.json()["detail"]
    assert "5550214301" not in answer.text


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("jane.doe@contoso.com", "j*******@contoso.com"),
        ("a@b.io", "a@b.io"),
        ("15555550123@example.com", "1**********@example.com"),
    ],
)
def test_an_email_address_keeps_its_first_character_and_its_domain(
    address: str, masked: str
) -> None:
    assert mask_email(address) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("jane.doe@contoso.com", "j*******@contoso.com"),
        ("ask jane.doe@contoso.com or bob+oncall@ops.example.org", "ask j*******@contoso.com or "
         "b*********@ops.example.org"),
        ("no address here, just @mentions and a.b", "no address here, just @mentions and a.b"),
    ],
)
def test_email_addresses_inside_text_keep_their_first_letter_and_domain(
    text: str, masked: str
) -> None:
    assert mask_emails_in(text) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "sender/test2@contoso.org/message/950850f5-bcdf-4315-b77a-6447cf56fac9",
            "sender/t****@contoso.org/message/950850f5-bcdf-4315-b77a-6447cf56fac9",
        ),
        ("bounced: Jane.Doe+news@mail.contoso.co.uk", "bounced: J************@mail.contoso.co.uk"),
        ("to +15555550123 or bob@contoso.com", "to +*******0123 or b**@contoso.com"),
        ("15555550123@example.com", "1**********@example.com"),  # an address, not a number
        (
            "8:acs:d9ff4983-39e7-4420-8d54-f6354ed06ccd",
            "8:acs:d9ff4983-39e7-4420-8d54-f6354ed06ccd",
        ),
        ("DestinationMailboxFull", "DestinationMailboxFull"),
        ("user@localhost", "user@localhost"),  # no domain a mail system routes
    ],
)
def test_addresses_and_numbers_inside_text_are_masked_and_ids_are_not(
    text: str, masked: str
) -> None:
    assert mask_personal_in(text) == masked
