"""The two subscription handshakes and the topic allow-list, as plain functions.

- Event Grid schema: a delivery of exactly one ``SubscriptionValidationEvent`` is a handshake,
  answered with its ``validationCode``. A validation event anywhere else (inside a batch) is not
  a handshake: it is acknowledged as ignored and the rest of the batch is processed.
- CloudEvents: ``OPTIONS`` with ``WebHook-Request-Origin``, answered by echoing the origin.
- The allow-list: the topic of every element (Event Grid ``topic``, CloudEvents ``source``) is
  checked before anything else is done with it, readable or not. A CloudEvent is judged by its
  ``source`` even when it also carries a ``topic``.

Why these rules: ``docs/delivery-protocol.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from handlers.errors import InvalidHandshake, TopicNotAllowed

SUBSCRIPTION_VALIDATION = "microsoft.eventgrid.subscriptionvalidationevent"
# An origin is a host name; anything longer than this, or with control characters, is not one.
MAX_ORIGIN_CHARS = 1024


@dataclass(frozen=True, slots=True)
class Validation:
    """An Event Grid validation handshake: the code to echo, and the topic that asked."""

    code: str
    topic: str | None


def validation_handshake(payload: Any) -> Validation | None:
    """The handshake this body is, when it is exactly one validation event; else None."""
    if isinstance(payload, list):
        if len(payload) != 1:
            return None
        payload = payload[0]
    if not isinstance(payload, dict) or not is_validation_event(payload):
        return None
    data = payload.get("data")
    code = data.get("validationCode") if isinstance(data, dict) else None
    if not isinstance(code, str) or not code:
        raise InvalidHandshake("The validation event has no data.validationCode.")
    topic = topic_of(payload)
    return Validation(code, topic if isinstance(topic, str) else None)


def is_validation_event(item: dict[str, Any]) -> bool:
    event_type = item.get("eventType", item.get("type"))
    return isinstance(event_type, str) and event_type.lower() == SUBSCRIPTION_VALIDATION


def allowed_origin(origin: str | None) -> str:
    """The CloudEvents abuse-protection origin to echo, or InvalidHandshake."""
    origin = (origin or "").strip()
    if not origin:
        raise InvalidHandshake(
            "OPTIONS needs a WebHook-Request-Origin header (CloudEvents handshake)."
        )
    if len(origin) > MAX_ORIGIN_CHARS:
        raise InvalidHandshake(f"WebHook-Request-Origin is over {MAX_ORIGIN_CHARS} characters.")
    if any(ch in origin for ch in ",") or not origin.isprintable():
        raise InvalidHandshake("WebHook-Request-Origin must be one printable host name.")
    return origin


def topic_of(item: Any) -> object:
    """The element's topic as the allow-list judges it: CloudEvents ``source``, else ``topic``."""
    if not isinstance(item, dict):
        return None
    is_cloudevent = "specversion" in item or ("type" in item and "eventType" not in item)
    return item.get("source") if is_cloudevent else item.get("topic")


def normalized_topic(topic: str) -> str:
    """The one spelling of a topic, for the allow-list and for event identity alike.

    Azure resource ids are case-insensitive and sometimes written with a trailing slash.
    """
    return topic.strip().rstrip("/").lower()


def check_topics(items: Sequence[Any], allowed: Sequence[str]) -> None:
    """Refuse the delivery when any element's topic is not allowed (nothing to do when the
    allow-list is empty)."""
    if not allowed:
        return
    accepted = frozenset(normalized_topic(topic) for topic in allowed)
    for index, item in enumerate(items):
        topic = topic_of(item)
        if not isinstance(topic, str) or normalized_topic(topic) not in accepted:
            raise TopicNotAllowed(
                f"Event {index} comes from a topic this endpoint does not accept."
            )


def check_validation_topic(validation: Validation, allowed: Sequence[str]) -> str | None:
    """The allow-list entry the validation's topic matched (None when the list is empty and any
    topic may subscribe), or TopicNotAllowed.

    For a subscription on a system topic, no document pins down whether Event Grid names the
    source (the Communication Services resource) or the system topic itself in the validation
    event, so the deployment allows both and the route logs which one came."""
    if not allowed:
        return None
    by_spelling = {normalized_topic(topic): topic for topic in allowed}
    matched = by_spelling.get(normalized_topic(validation.topic or ""))
    if validation.topic is None or matched is None:
        raise TopicNotAllowed("This endpoint does not accept subscriptions from that topic.")
    return matched


def topic_kind(topic: str | None) -> str:
    """What a topic id names, for the log: ``communication-services`` (the resource),
    ``system-topic`` (its Event Grid system topic), or ``other``."""
    normalized = normalized_topic(topic or "")
    if "/providers/microsoft.communication/communicationservices/" in normalized:
        return "communication-services"
    if "/providers/microsoft.eventgrid/systemtopics/" in normalized:
        return "system-topic"
    return "other"
