"""What ``serve`` prints: its destinations, and one readable line per delivery."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from handlers.logs import log_event
from handlers.settings import load_settings
from handlers.tools.console import DeliveryLines, delivery_line, destinations

WHSEC = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="


def test_destinations_name_each_sink_without_a_url_path_or_query() -> None:
    settings = load_settings(
        callback_jwt_required=False,
        alert_file=Path("alerts.jsonl"),
        alert_webhook_url="https://hooks.example.com:8443/services/T0/secret-token?sig=abc",
        alert_webhook_secret=WHSEC,
        alert_topic_endpoint="https://alerts.westeurope-1.eventgrid.azure.net/api/events",
    )
    assert destinations(settings) == [
        "file alerts.jsonl",
        "signed webhook https://hooks.example.com:8443 (notifications only)",
        "Event Grid topic https://alerts.westeurope-1.eventgrid.azure.net",
    ]


@pytest.mark.parametrize(
    ("fields", "line"),
    [
        ({"way_in": "eventgrid", "received": 1, "outcomes": {"alert": 1}, "alerts": 1},
         "eventgrid: 1 event in (1 alert) -> 1 alert out to file, webhook"),
        ({"way_in": "callbacks", "received": 3, "outcomes": {"ok": 2, "ignored": 1}, "alerts": 0},
         "callbacks: 3 events in (2 ok, 1 ignored) -> nothing out"),
    ],
)
def test_a_delivery_reads_as_what_came_in_and_what_went_out(
    fields: dict[str, object], line: str
) -> None:
    assert delivery_line(fields, ["file", "webhook"]) == line


def test_only_delivery_records_print_a_line() -> None:
    stream = io.StringIO()
    handler = DeliveryLines(["file"], stream)
    logger = logging.getLogger("acs_triage")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        log_event("alert", alert_id="a")
        log_event("delivery", way_in="eventgrid", received=2, outcomes={"ok": 2}, alerts=0)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert stream.getvalue() == "eventgrid: 2 events in (2 ok) -> nothing out\n"
