"""The validation handshake of a system-topic subscription: the deployment allows both the
Communication Services resource id and its system topic's id (ALLOWED_TOPICS, from the Bicep),
because no document says which one Event Grid names; the app logs which one arrived."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from handlers.inbound.handshake import Validation, check_validation_topic, topic_kind
from tests.conftest import LocalHost, RuntimeFactory
from tests.events import ACS_TOPIC, validation_event

SYSTEM_TOPIC = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-acs-triage/providers/"
    "Microsoft.EventGrid/systemTopics/evgst-acstriage-abc"
)
ALLOWED = f"{ACS_TOPIC},{SYSTEM_TOPIC}"


def _validated(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "acs_triage"]
    return [line for line in lines if line["event"] == "subscription_validated"]


@pytest.mark.parametrize(
    ("topic", "kind"),
    [(ACS_TOPIC, "communication-services"), (SYSTEM_TOPIC, "system-topic")],
)
def test_validation_from_the_resource_or_its_system_topic_is_answered_and_logged(
    make_runtime: RuntimeFactory,
    local_host: LocalHost,
    caplog: pytest.LogCaptureFixture,
    topic: str,
    kind: str,
) -> None:
    caplog.set_level(logging.INFO, logger="acs_triage")
    make_runtime(allowed_topics=ALLOWED)
    response = local_host.post(
        "eventgrid",
        validation_event("code-1", topic=topic.upper()),
        headers={"aeg-event-type": "SubscriptionValidation"},
    )
    assert response.status_code == 200
    assert response.json() == {"validationResponse": "code-1"}
    [line] = _validated(caplog)
    assert line["topic_kind"] == kind
    assert line["allowed_as"] == topic
    assert line["topic"] == topic.upper()


def test_validation_from_another_topic_is_refused_and_not_logged_as_validated(
    make_runtime: RuntimeFactory, local_host: LocalHost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="acs_triage")
    make_runtime(allowed_topics=ALLOWED)
    other = SYSTEM_TOPIC.replace("evgst-acstriage-abc", "someone-elses")
    response = local_host.post("eventgrid", validation_event(topic=other))
    assert response.status_code == 403
    assert _validated(caplog) == []


def test_the_matched_entry_is_returned_and_an_empty_list_allows_any() -> None:
    trailing_slash = Validation("c", SYSTEM_TOPIC.lower() + "/")
    assert check_validation_topic(trailing_slash, [ACS_TOPIC, SYSTEM_TOPIC]) == SYSTEM_TOPIC
    assert check_validation_topic(Validation("c", "/anything"), []) is None


def test_topic_kind_reads_the_resource_provider() -> None:
    assert topic_kind(ACS_TOPIC.lower()) == "communication-services"
    assert topic_kind(SYSTEM_TOPIC) == "system-topic"
    assert topic_kind("/subscriptions/x/providers/Microsoft.Storage/storageAccounts/y") == "other"
    assert topic_kind(None) == "other"
