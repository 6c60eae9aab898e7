"""The on-call receivers are destinations of the flusher: a storm of alerts reaches PagerDuty as
the real group notification (one trigger, deduplicated by the group), never as the alerts."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from handlers.http import routes
from handlers.http.messages import Headers, Request
from handlers.runtime import ReceiverSink, Runtime
from handlers.settings import load_settings
from handlers.state.memory import MemoryDedupeStore
from tests.capture_server import CaptureServer, Reply
from tests.conftest import read_notifications
from tests.events import call_result

ROUTING_KEY = "R0UT1NGKEY0000000000000000000000"


def storm_runtime(tmp_path: Path, events_url: str) -> Runtime:
    settings = load_settings(
        callback_jwt_required=False,
        alert_file=str(tmp_path / "alerts.jsonl"),
        pagerduty_routing_key=ROUTING_KEY,
        pagerduty_events_url=events_url,
        group_wait_seconds=0,  # the group's first notification is due at the next pass
        # 30 failed calls are also a call failure rate of 100%: that alarm's notification is
        # test_alarms.py's; here the storm's group alone.
        alarm_rules="",
    )
    return Runtime.build(settings, dedupe=MemoryDedupeStore(timedelta(hours=1)))


def test_pagerduty_gets_the_group_notification_once_and_no_alert(tmp_path: Path) -> None:
    with CaptureServer(default=Reply(202)) as pagerduty:
        runtime = storm_runtime(tmp_path, pagerduty.url("/v2/enqueue"))
        assert runtime.flusher is not None
        names = [sink.name for sink in runtime.flusher.sinks]
        assert names == ["file", "pagerduty"]
        assert isinstance(runtime.flusher.sinks[1], ReceiverSink)
        storm = [
            call_result(f"storm-{n}", "CallDisconnected", code=503, subcode=560503)
            for n in range(30)
        ]
        answer = routes.callbacks(Request("POST", _json(storm), Headers({})), runtime)
        assert answer.status == 200
        runtime.flush()
        runtime.flush()  # nothing is due again, and nothing is sent twice
        [notification] = read_notifications(tmp_path / "alerts.jsonl")
        [sent] = [request.json() for request in pagerduty.accepted()]
    assert sent["routing_key"] == ROUTING_KEY and sent["event_action"] == "trigger"
    assert notification["data"]["group"].startswith(sent["dedup_key"])
    details = sent["payload"]["custom_details"]  # read from the real notification
    assert details["notification"] == notification["id"]
    assert (details["alerts_total"], details["alerts_new"]) == (30, 30)
    assert sent["payload"]["group"] == "503" and sent["payload"]["component"] == "call"


def _json(events: list[dict[str, object]]) -> bytes:
    return json.dumps(events).encode()
