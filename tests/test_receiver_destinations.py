"""The on-call receivers are destinations of the flusher: a storm of alerts reaches PagerDuty as
the real group notification (one trigger, deduplicated by the group), never as the alerts; a
destination that keeps failing reaches every receiver as one firing and one resolved message."""

from __future__ import annotations

import json
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from handlers.alerting.webhook_sink import WebhookSink
from handlers.board import ReceiverSink
from handlers.http import routes
from handlers.http.messages import Headers, Request
from handlers.runtime import Runtime
from handlers.settings import load_settings
from handlers.state.memory import MemoryDedupeStore
from tests.capture_server import CaptureServer, Reply
from tests.conftest import Clock, read_notifications
from tests.events import call_result
from tests.oncall_receivers import (
    RECEIVER_KINDS,
    group_and_status,
    receiver_server,
    receiver_settings,
)

ROUTING_KEY = "R0UT1NGKEY0000000000000000000000"
WEBHOOK_SECRET = "whsec_c2VjcmV0LWZvci10aGUtdGVzdHM="


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


def test_a_failing_destination_is_told_to_every_receiver_and_so_is_its_recovery(
    tmp_path: Path,
) -> None:
    with ExitStack() as stack:
        servers = {kind: stack.enter_context(receiver_server(kind)) for kind in RECEIVER_KINDS}
        hook = stack.enter_context(CaptureServer())
        hook.fail(3, status=503)  # three passes, one attempt each, then it takes everything
        settings = {k: v for kind, server in servers.items()
                    for k, v in receiver_settings(kind, server).items()}
        runtime = Runtime.build(
            load_settings(callback_jwt_required=False, sink_max_attempts=1,
                          group_wait_seconds=3600, alarm_rules="",
                          alert_webhook_receives="both", **settings),
            sinks=[WebhookSink(hook.url("/hook"), WEBHOOK_SECRET)],
            dedupe=MemoryDedupeStore(timedelta(hours=1)),
        )
        assert runtime.flusher is not None
        clock = Clock()
        runtime.flusher.clock = clock
        failed = [call_result("down-1", "CallDisconnected", code=503, subcode=560503)]
        assert routes.callbacks(Request("POST", _json(failed), Headers({})), runtime).status == 200
        for step in (0, 301, 10, 10):  # down, down for five minutes (told), down, back
            clock.now += step
            runtime.flush()
        seen = {kind: [group_and_status(kind, r) for r in server.accepted()]
                for kind, server in servers.items()}
        refused = [r.status for s in servers.values() for r in s.requests if r.status >= 300]
        alertmanager = [r.json() for r in servers["alertmanager"].accepted()]
    assert refused == []
    assert seen["pagerduty"] == [("destination-webhook", "firing"),
                                 ("destination-webhook", "resolved")]
    assert seen["alertmanager"] == [('{}:{destination="webhook"}', "firing"),
                                    ('{}:{destination="webhook"}', "resolved")]
    for kind in ("teams", "slack"):
        assert seen[kind] == [("destination=webhook", "firing"),
                              ("destination=webhook", "resolved")]
    assert {a["alerts"][0]["labels"]["alertname"] for a in alertmanager} == {
        "AcsTriageDestinationDown"}
    assert len(hook.accepted()) == 2  # the webhook got everything at once, then the recovery
