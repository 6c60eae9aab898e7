"""Loopback stand-ins for PagerDuty, a Teams Workflows webhook, a Slack incoming webhook and an
Alertmanager-compatible receiver: each checks what the real one checks — its key or signature,
then the payload's shape (the Adaptive Card against Microsoft's published schema) — and answers
as the real one does. A refused request is recorded with its status, so a test sees it.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema

from tests.capture_server import CapturedRequest, CaptureServer, Reply

DATA = Path(__file__).parent / "data"
ROUTING_KEY = "R0UTINGKEY0123456789abcdefABCDEF"  # 32 characters, as PagerDuty issues them
TEAMS_SIGNATURE = "s1gNaTuRe-0123456789"
SLACK_TOKEN = "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
ALERTMANAGER_TOKEN = "am-bearer-0123456789"


def _json(reply_status: int, payload: Any) -> Reply:
    return Reply(reply_status, json.dumps(payload).encode(), {"Content-Type": "application/json"})


def _body(request: CapturedRequest) -> Any:
    try:
        return request.json()
    except ValueError:
        return None


# --- PagerDuty Events API v2 -------------------------------------------------------------------

PD_SEVERITIES = {"critical", "error", "warning", "info"}


def pagerduty_problems(event: Any) -> list[str]:
    """What PagerDuty would refuse in an Events API v2 event (its documented fields)."""
    if not isinstance(event, dict):
        return ["not a JSON object"]
    problems = []
    if event.get("event_action") not in ("trigger", "acknowledge", "resolve"):
        problems.append("event_action")
    key = event.get("dedup_key")
    if not isinstance(key, str) or not 0 < len(key) <= 255:
        problems.append("dedup_key")
    if event.get("event_action") == "trigger":
        payload = event.get("payload") or {}
        summary = payload.get("summary")
        if not isinstance(summary, str) or not 0 < len(summary) <= 1024:
            problems.append("payload.summary")
        if not payload.get("source"):
            problems.append("payload.source")
        if payload.get("severity") not in PD_SEVERITIES:
            problems.append("payload.severity")
        try:
            datetime.fromisoformat(payload["timestamp"])
        except (KeyError, TypeError, ValueError):
            problems.append("payload.timestamp")
        if not isinstance(payload.get("custom_details"), dict):
            problems.append("payload.custom_details")
        for link in event.get("links", []):
            if not (isinstance(link, dict) and link.get("href") and link.get("text")):
                problems.append("links")
    return problems


def judge_pagerduty(request: CapturedRequest) -> Reply | None:
    event = _body(request)
    if request.path != "/v2/enqueue":
        return _json(404, {"status": "not found"})
    if not isinstance(event, dict) or event.get("routing_key") != ROUTING_KEY:
        return _json(400, {"status": "invalid event", "message": "Event object is invalid",
                           "errors": ["Invalid routing key"]})
    problems = pagerduty_problems(event)
    if problems:
        return _json(400, {"status": "invalid event", "errors": problems})
    return None


# --- Teams Workflows ----------------------------------------------------------------------------


@cache
def adaptive_card_validator() -> jsonschema.Draft6Validator:
    schema = json.loads((DATA / "adaptive-cards" / "adaptive-card-1.4.0.json").read_text())
    return jsonschema.Draft6Validator(schema)


def adaptive_card_problems(card: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in adaptive_card_validator().iter_errors(card)
    ]


def judge_teams(request: CapturedRequest) -> Reply | None:
    query = parse_qs(urlsplit(request.path).query)
    if query.get("sig") != [TEAMS_SIGNATURE]:
        return _json(401, {"error": {"code": "DirectApiAuthorizationRequired"}})
    message = _body(request)
    if not isinstance(message, dict) or message.get("type") != "message":
        return _json(400, {"error": "type must be message"})
    attachments = message.get("attachments")
    if not isinstance(attachments, list) or len(attachments) != 1:
        return _json(400, {"error": "one attachment expected"})
    attachment = attachments[0]
    if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
        return _json(400, {"error": "contentType"})
    card = attachment.get("content")
    problems = adaptive_card_problems(card)
    if problems or card.get("version") != "1.4":
        return _json(400, {"error": "invalid card", "problems": problems})
    return None


# --- Slack incoming webhooks --------------------------------------------------------------------


def slack_problems(message: Any) -> list[str]:
    """Block Kit's documented limits for the blocks the Slack receiver uses."""
    if not isinstance(message, dict) or not isinstance(message.get("text"), str):
        return ["text"]
    blocks = message.get("blocks")
    if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
        return ["blocks"]
    problems = []
    for index, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "header":
            text = block["text"]
            if text.get("type") != "plain_text" or not 0 < len(text["text"]) <= 150:
                problems.append(f"{index}: header")
        elif kind == "section":
            fields = block.get("fields", [])
            if "text" not in block and not fields:
                problems.append(f"{index}: section without text or fields")
            if "text" in block and len(block["text"]["text"]) > 3000:
                problems.append(f"{index}: section text")
            if len(fields) > 10 or any(len(f["text"]) > 2000 for f in fields):
                problems.append(f"{index}: fields")
        elif kind == "context":
            if not 0 < len(block["elements"]) <= 10:
                problems.append(f"{index}: context")
        elif kind == "actions":
            if not 0 < len(block["elements"]) <= 25:
                problems.append(f"{index}: actions")
        else:
            problems.append(f"{index}: unexpected block {kind}")
    return problems


def judge_slack(request: CapturedRequest) -> Reply | None:
    if request.path != f"/services/{SLACK_TOKEN}":
        return Reply(403, b"invalid_token")
    if slack_problems(_body(request)):
        return Reply(400, b"invalid_blocks")
    return None


# --- Alertmanager webhook (version 4) -----------------------------------------------------------

AM_TOP = {
    "version": str, "groupKey": str, "truncatedAlerts": int, "status": str, "receiver": str,
    "groupLabels": dict, "commonLabels": dict, "commonAnnotations": dict, "externalURL": str,
    "alerts": list,
}
AM_ALERT = {
    "status": str, "labels": dict, "annotations": dict, "startsAt": str, "endsAt": str,
    "generatorURL": str, "fingerprint": str,
}


def alertmanager_problems(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["not a JSON object"]
    problems = [k for k, kind in AM_TOP.items() if not isinstance(payload.get(k), kind)]
    if payload.get("version") != "4" or payload.get("status") not in ("firing", "resolved"):
        problems.append("version/status")
    for alert in payload.get("alerts") or []:
        problems += [f"alert.{k}" for k, kind in AM_ALERT.items()
                     if not isinstance(alert.get(k), kind)]
        labels = alert.get("labels", {})
        if "alertname" not in labels or not all(isinstance(v, str) for v in labels.values()):
            problems.append("alert.labels")
        for stamp in ("startsAt", "endsAt"):
            try:
                datetime.fromisoformat(str(alert.get(stamp)))
            except ValueError:
                problems.append(f"alert.{stamp}")
    return problems


def judge_alertmanager(request: CapturedRequest) -> Reply | None:
    if request.header("Authorization") != f"Bearer {ALERTMANAGER_TOKEN}":
        return Reply(401, b"unauthorized")
    if alertmanager_problems(_body(request)):
        return Reply(400, b"bad payload")
    return None


def receiver_server(kind: str) -> CaptureServer:
    """A loopback receiver of ``kind`` (pagerduty, teams, slack, alertmanager)."""
    if kind == "pagerduty":
        return CaptureServer(_json(202, {"status": "success", "message": "Event processed"}),
                             judge=judge_pagerduty)
    if kind == "teams":
        return CaptureServer(Reply(202), judge=judge_teams)
    if kind == "slack":
        return CaptureServer(Reply(200, b"ok"), judge=judge_slack)
    if kind == "alertmanager":
        return CaptureServer(Reply(200), judge=judge_alertmanager)
    raise ValueError(kind)


RECEIVER_KINDS = ("pagerduty", "teams", "slack", "alertmanager")


def receiver_settings(kind: str, server: CaptureServer, **wrong: str) -> dict[str, Any]:
    """The settings an operator writes for ``kind``, pointed at its loopback receiver
    (``key=`` a wrong key or token instead of the right one)."""
    if kind == "pagerduty":
        return {
            "pagerduty_routing_key": wrong.get("key", ROUTING_KEY),
            "pagerduty_events_url": server.url("/v2/enqueue"),
        }
    if kind == "teams":
        path = "/workflows/7c1/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers"
        return {"teams_workflow_url": server.url(f"{path}&sig={wrong.get('key', TEAMS_SIGNATURE)}")}
    if kind == "slack":
        token = wrong.get("key", SLACK_TOKEN)
        return {
            "slack_webhook_url": server.url(f"/services/{token}"),
            "slack_min_interval_seconds": 0.05,
        }
    return {
        "alertmanager_webhook_url": server.url("/api/v2/webhook"),
        "alertmanager_webhook_token": wrong.get("key", ALERTMANAGER_TOKEN),
    }


def group_and_status(kind: str, request: CapturedRequest) -> tuple[str, str]:
    """Which group, alarm or destination a message is about, and its status, read as a person
    would: PagerDuty's dedup_key, Alertmanager's groupKey, the card's or blocks' labels."""
    body = request.json()
    if kind == "pagerduty":
        return body["dedup_key"], "firing" if body["event_action"] == "trigger" else "resolved"
    if kind == "alertmanager":
        return body["groupKey"], body["status"]
    if kind == "teams":
        card = body["attachments"][0]["content"]
        facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
        return facts["Labels"], facts["Status"]
    fields = {
        f["text"].split("\n")[0].strip("*"): f["text"].split("\n", 1)[1]
        for f in body["blocks"][1]["fields"]
    }
    return fields["Labels"], fields["Status"]
