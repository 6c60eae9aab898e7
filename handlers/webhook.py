"""The delivery protocol of both ways in (delivery.md), as plain functions of Request → Response.

``/api/eventgrid`` answers Event Grid's validation handshake, the CloudEvents OPTIONS handshake,
and deliveries in either schema; ``/api/callbacks`` takes Call Automation's CloudEvents after
checking their JWT. Status codes follow design.md: 200 with a summary, 4xx problem+json only
when a retry can never succeed, 503 + Retry-After when an alert destination is down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import handlers
from handlers.envelope import Envelope, decode_body, parse_events
from handlers.events import SUBSCRIPTION_VALIDATION
from handlers.http import (
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    ProblemError,
    Request,
    Response,
    json_response,
    problem_response,
)
from handlers.logs import log_event
from handlers.runtime import Runtime, get_runtime
from handlers.settings import SettingsError

ALLOWED_METHODS = "POST, OPTIONS"


def eventgrid(request: Request, runtime: Runtime | None = None) -> Response:
    return _guarded(lambda: _eventgrid(request, runtime or get_runtime()))


def callbacks(request: Request, runtime: Runtime | None = None) -> Response:
    return _guarded(lambda: _callbacks(request, runtime or get_runtime()))


def prepare() -> None:
    """Build the runtime at cold start: settings validated and catalog loaded before the first
    event arrives. A bad setting is logged here, naming the variable, and every route then
    answers it as a problem (health: 503 not ready) instead of the host failing to load."""
    try:
        get_runtime()
    except SettingsError as error:
        log_event("misconfigured", level=logging.ERROR, detail=str(error))


def health(_request: Request) -> Response:
    """Anonymous readiness: the version, and whether settings and catalog loaded."""
    try:
        runtime = get_runtime()
    except SettingsError as error:
        return problem_response(503, "Not ready", str(error), slug="not-ready")
    pipeline = runtime.pipeline
    return json_response(
        {
            "status": "ready",
            "version": handlers.__version__,
            "catalog_entries": len(pipeline.catalog.entries),
            "alert_destinations": [sink.name for sink in pipeline.sinks],
            "dedupe_store": runtime.settings.dedupe_store,
            "callback_jwt_required": runtime.settings.callback_jwt_required,
        }
    )


def _guarded(handle: Callable[[], Response]) -> Response:
    """Problems become problem+json; a bug becomes a 500 problem, never a stack trace."""
    try:
        return handle()
    except ProblemError as problem:
        log_event("rejected", level=logging.WARNING, status=problem.status, detail=problem.detail)
        return problem.to_response()
    except SettingsError as error:
        log_event("misconfigured", level=logging.ERROR, detail=str(error))
        return problem_response(500, "Misconfigured", str(error), slug="misconfigured")
    except Exception as error:
        logging.getLogger("acs_triage").exception("unhandled error")
        return problem_response(
            500, "Internal error", f"Unexpected {type(error).__name__}.", slug="internal-error"
        )


def _eventgrid(request: Request, runtime: Runtime) -> Response:
    if request.method.upper() == "OPTIONS":
        return abuse_protection_handshake(request)
    payload = _read_body(request, runtime)
    validation = _validation_event(payload)
    if validation is not None:
        return _answer_validation(validation, runtime)
    envelopes = parse_events(payload)
    _check_topics(envelopes, runtime.settings.allowed_topics)
    delivery = runtime.pipeline.run(envelopes, way_in="eventgrid")
    return json_response(delivery.summary())


def _callbacks(request: Request, runtime: Runtime) -> Response:
    runtime.authenticator.verify(request.headers.get("Authorization"))
    envelopes = parse_events(_read_body(request, runtime))
    delivery = runtime.pipeline.run(envelopes, way_in="callbacks")
    return json_response(delivery.summary())


def abuse_protection_handshake(request: Request) -> Response:
    """CloudEvents webhook spec §4: echo the origin, allow any rate."""
    origin = request.headers.get("WebHook-Request-Origin", "").strip()
    if not origin or any(ch in origin for ch in "\r\n,"):
        raise BadRequest("OPTIONS needs a WebHook-Request-Origin header (CloudEvents handshake).")
    return Response(
        200,
        b"",
        {
            "WebHook-Allowed-Origin": origin,
            "WebHook-Allowed-Rate": "*",
            "Allow": ALLOWED_METHODS,
        },
    )


def _read_body(request: Request, runtime: Runtime) -> Any:
    limit = runtime.settings.max_body_bytes
    if len(request.body) > limit:
        raise PayloadTooLarge(f"The body is {len(request.body)} bytes; the limit is {limit}.")
    return decode_body(request.body)


def _validation_event(payload: Any) -> dict[str, Any] | None:
    """The SubscriptionValidationEvent of a handshake, if this body is one."""
    events = payload if isinstance(payload, list) else [payload]
    for event in events:
        if not isinstance(event, dict):
            continue
        event_type = event.get("eventType", event.get("type"))
        if isinstance(event_type, str) and event_type.lower() == SUBSCRIPTION_VALIDATION:
            return event
    return None


def _answer_validation(event: dict[str, Any], runtime: Runtime) -> Response:
    data = event.get("data")
    code = data.get("validationCode") if isinstance(data, dict) else None
    if not isinstance(code, str) or not code:
        raise BadRequest("The validation event has no data.validationCode.")
    topic = event.get("topic", event.get("source"))
    allowed = runtime.settings.allowed_topics
    if allowed and not _topic_allowed(topic, allowed):
        raise Forbidden("This endpoint does not accept subscriptions from that topic.")
    log_event("subscription_validated", topic=topic)
    return json_response({"validationResponse": code})


def _check_topics(envelopes: Sequence[Envelope], allowed: Sequence[str]) -> None:
    if not allowed:
        return
    for envelope in envelopes:
        if envelope.problem is None and not _topic_allowed(envelope.source, allowed):
            raise Forbidden(
                f"Event {envelope.index} comes from a topic this endpoint does not accept."
            )


def _topic_allowed(topic: object, allowed: Sequence[str]) -> bool:
    if not isinstance(topic, str):
        return False
    normalized = topic.strip().rstrip("/").lower()
    return any(normalized == item.strip().rstrip("/").lower() for item in allowed)
