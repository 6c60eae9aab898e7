"""No non-finite number ever leaves the app: each spelling of one, in each numeric field of each
event family, and what leaves (alert file, webhook body, answer) still parses as strict JSON."""

from __future__ import annotations

import base64
import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from handlers.alerting.file_sink import FileSink
from handlers.alerting.webhook_sink import WebhookSink
from handlers.http.messages import Request
from handlers.http.routes import eventgrid
from handlers.logs import json_line, log_event
from tests.capture_server import CaptureServer
from tests.conftest import RuntimeFactory
from tests.events import call_result, sms_report

WHSEC = "whsec_" + base64.b64encode(bytes(range(32))).decode()
POISON = "__poison__"

# JSON literals the app's decoder refuses (the whole body is not JSON), then strings that a
# lenient number parser would read as non-finite.
LITERALS = ["1e999", "-1e999", "NaN", "Infinity", "-Infinity"]
STRINGS = ["NaN", "nan", "Infinity", "-Infinity", "inf", "1e999", "-1E999"]
SPELLINGS = [(text, True) for text in LITERALS] + [(json.dumps(text), False) for text in STRINGS]


def strict_json(text: str) -> Any:
    """RFC 8259 JSON only: Python writes a non-finite float as NaN / Infinity, which it refuses."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _sms(event_id: str) -> dict[str, Any]:
    return sms_report(event_id, status="Failed", details="5000: failed", failed_segments=1)


def _call(event_id: str) -> dict[str, Any]:
    event = call_result(event_id, "PlayFailed", code=500, subcode=9999, message="failed")
    event["data"]["resultInformation"]["q850Details"] = {"code": 16, "message": "normal"}
    return event


def _call_ended(event_id: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "topic": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Communication/"
        "communicationServices/acs",
        "subject": "call/x",
        "eventType": "Microsoft.Communication.CallEnded",
        "eventTime": "2026-11-21T10:00:00Z",
        "dataVersion": "1.0",
        "data": {
            "reason": {"code": 999, "subCode": 999, "phrase": "ended"},
            "callDurationInSeconds": 12.5,
        },
    }


FIELDS: dict[str, tuple[Callable[[str], dict[str, Any]], tuple[str | int, ...]]] = {
    "sms segmentsSucceeded": (_sms, ("data", "deliveryAttempts", 0, "segmentsSucceeded")),
    "sms segmentsFailed": (_sms, ("data", "deliveryAttempts", 0, "segmentsFailed")),
    "call code": (_call, ("data", "resultInformation", "code")),
    "call subCode": (_call, ("data", "resultInformation", "subCode")),
    "call sipDetails.code": (_call, ("data", "resultInformation", "sipDetails", "code")),
    "call q850Details.code": (_call, ("data", "resultInformation", "q850Details", "code")),
    "CallEnded code": (_call_ended, ("data", "reason", "code")),
    "CallEnded subCode": (_call_ended, ("data", "reason", "subCode")),
    "CallEnded callDurationInSeconds": (_call_ended, ("data", "callDurationInSeconds")),
}


def poisoned_body(make: Callable[[str], dict[str, Any]], path: tuple[str | int, ...],
                  spelling: str) -> bytes:
    """A delivery of a good alerting event and one with ``spelling`` written at ``path``."""
    bad = make("poisoned")
    node: Any = bad
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = POISON
    text = json.dumps([make("good"), bad]).replace(json.dumps(POISON), spelling)
    return text.encode()


@pytest.mark.parametrize(("spelling", "literal"), SPELLINGS, ids=[s for s, _ in SPELLINGS])
@pytest.mark.parametrize(("make", "path"), FIELDS.values(), ids=FIELDS.keys())
def test_a_non_finite_number_never_leaves_and_the_good_alert_does(
    make_runtime: RuntimeFactory,
    alert_file: Path,
    make: Callable[[str], dict[str, Any]],
    path: tuple[str | int, ...],
    spelling: str,
    literal: bool,
) -> None:
    with CaptureServer() as webhook:
        sinks = [FileSink(alert_file), WebhookSink(webhook.url("/hook"), WHSEC)]
        make_runtime(sinks=sinks, alert_webhook_receives="alerts")
        answer = eventgrid(Request("POST", poisoned_body(make, path, spelling)))
        bodies = [(request.body, request.headers) for request in webhook.requests]

    summary = strict_json(answer.body.decode())
    alerts = [strict_json(line) for line in alert_file.read_text().splitlines()] if (
        alert_file.exists()
    ) else []
    for body, headers in bodies:
        strict_json(body.decode())
        Webhook(WHSEC).verify(body, headers)
    if literal:  # not JSON at all: refused whole, nothing sent
        assert answer.status == 400
        assert not alerts and not bodies
        return
    assert answer.status == 200, summary
    assert [event["outcome"] for event in summary["events"]] == ["alert", "invalid"]
    kinds = {alert["data"]["event"]["id"]: alert["data"]["kind"] for alert in alerts}
    assert kinds == {"good": kinds["good"], "poisoned": "invalid-event"}
    assert len(bodies) == 1


def test_a_log_line_with_a_non_finite_number_is_strict_json_with_null() -> None:
    line = json_line({"event": "x", "ratio": math.nan, "nested": [math.inf, 1.5]})
    assert strict_json(line) == {"event": "x", "ratio": None, "nested": [None, 1.5]}


def test_logging_a_non_finite_number_does_not_fail_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="acs_triage"):
        log_event("probe", elapsed_ms=math.inf)
    assert strict_json(caplog.records[-1].getMessage())["elapsed_ms"] is None
