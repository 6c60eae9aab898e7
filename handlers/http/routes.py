"""The HTTP routes as plain functions of Request → Response; the edge of the app.

``/api/eventgrid`` answers Event Grid's validation handshake, the CloudEvents OPTIONS handshake,
and deliveries in either schema; ``/api/callbacks`` takes Call Automation's CloudEvents after
checking their JWT; ``/api/codes`` explains a code; ``/api/health`` says the app is up.
Everything below raises domain errors; :mod:`handlers.http.problems` turns them into answers
(the status codes and why: ``docs/status-codes.md``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import handlers
from handlers.deadlines import delivery_deadline
from handlers.errors import DeliveryTooLarge, TriageError
from handlers.http.messages import Request, Response, json_response
from handlers.http.problems import internal_error, problem_answer, problem_of
from handlers.inbound.envelope import decode_body, parse_events
from handlers.inbound.handshake import (
    allowed_origin,
    check_topics,
    check_validation_topic,
    topic_kind,
    validation_handshake,
)
from handlers.logs import log_event
from handlers.runtime import Runtime, get_runtime
from handlers.settings import SettingsError

ALLOWED_METHODS = "POST, OPTIONS"


def eventgrid(request: Request, runtime: Runtime | None = None) -> Response:
    return guarded(lambda: _eventgrid(request, runtime or get_runtime()))


def callbacks(request: Request, runtime: Runtime | None = None) -> Response:
    return guarded(lambda: _callbacks(request, runtime or get_runtime()))


def prepare() -> None:
    """Build the runtime at cold start: settings validated and catalog loaded before the first
    event arrives. A bad setting is logged here, naming the variable, and every route then
    answers it as a problem (health: 503 not ready) instead of the host failing to load."""
    try:
        get_runtime()
    except SettingsError as error:
        log_event("misconfigured", level=logging.ERROR, detail=str(error))


def health(_request: Request) -> Response:
    """Anonymous readiness: status and version only (configuration is nobody's business)."""
    return guarded(_health)


def flush_outbox() -> None:
    """The timer's work: one flush of the outbox. A state store that is down is logged, and
    the next tick tries again; nothing is lost, the entries wait."""
    try:
        get_runtime().flush()
    except (TriageError, SettingsError) as error:
        log_event("flush_failed", level=logging.WARNING, detail=str(error))


def _health() -> Response:
    get_runtime()  # a SettingsError is answered 503 misconfigured by the guard
    return json_response({"status": "ready", "version": handlers.__version__})


def guarded(handle: Callable[[], Response]) -> Response:
    """The one error boundary of every route: domain errors become their problem+json, a bug a
    500 problem that names its class, never a stack trace."""
    try:
        return handle()
    except (TriageError, SettingsError) as error:
        problem = problem_of(error)
        level = logging.ERROR if isinstance(error, SettingsError) else logging.WARNING
        log_event(
            "rejected",
            level=level,
            status=problem.status if problem else None,
            detail=str(error),
        )
        return problem_answer(error)
    except Exception as error:
        log_event(
            "unhandled_error", level=logging.ERROR, exc_info=True, error=type(error).__name__
        )
        return internal_error(error)


def _eventgrid(request: Request, runtime: Runtime) -> Response:
    if request.method.upper() == "OPTIONS":
        return abuse_protection_handshake(request)
    _check_size(request, runtime)
    allowed = runtime.settings.allowed_topics
    events = runtime.fast.read(request.body, allowed) if runtime.fast else None
    if events is not None:
        return json_response(runtime.pipeline.run_events(events, way_in="eventgrid").summary())
    payload = decode_body(request.body)
    validation = validation_handshake(payload)
    if validation is not None:
        allowed_as = check_validation_topic(validation, allowed)
        # Which id Event Grid put in the topic (the resource's, or its system topic's): the
        # first real subscription settles what ALLOWED_TOPICS must hold.
        log_event(
            "subscription_validated",
            topic=validation.topic,
            topic_kind=topic_kind(validation.topic),
            allowed_as=allowed_as,
        )
        return json_response({"validationResponse": validation.code})
    check_topics(payload if isinstance(payload, list) else [payload], allowed)
    delivery = runtime.pipeline.run(parse_events(payload), way_in="eventgrid")
    return json_response(delivery.summary())


def _callbacks(request: Request, runtime: Runtime) -> Response:
    # One budget for the key fetch and the delivery: the answer is due inside it either way.
    with delivery_deadline(runtime.pipeline.deadline_seconds):
        runtime.authenticator.verify(request.headers.get("Authorization"))
        _check_size(request, runtime)
        events = runtime.fast.read(request.body) if runtime.fast else None
        if events is not None:
            delivery = runtime.pipeline.run_events(events, way_in="callbacks")
        else:
            delivery = runtime.pipeline.run(
                parse_events(decode_body(request.body)), way_in="callbacks"
            )
    return json_response(delivery.summary())


def abuse_protection_handshake(request: Request) -> Response:
    """CloudEvents webhook spec §4: echo the origin, allow any rate."""
    origin = allowed_origin(request.headers.get("WebHook-Request-Origin"))
    return Response(
        200,
        b"",
        {
            "WebHook-Allowed-Origin": origin,
            "WebHook-Allowed-Rate": "*",
            "Allow": ALLOWED_METHODS,
        },
    )


def _check_size(request: Request, runtime: Runtime) -> None:
    limit = runtime.settings.max_body_bytes
    if len(request.body) > limit:
        raise DeliveryTooLarge.body(len(request.body), limit)
