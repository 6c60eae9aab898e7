"""Nothing a sender puts in a request makes acs-triage fail, and no alert is lost or doubled.

Both routes answer 200 or a 4xx problem+json whatever the body: arbitrary bytes, arbitrary JSON,
event-shaped objects with fields of any type, deep nesting, huge strings and numbers, any Unicode
(lone surrogates included). 503 is kept for a failing alert destination, which only the last
tests provoke: there Event Grid's redelivery must end with every alert delivered exactly once.

Hypothesis runs derandomized with a bounded number of examples, so CI sees the same cases on
every run. Each property builds its runtime once, outside the examples (``make_runtime`` is
function-scoped).
"""

from __future__ import annotations

import copy
import json
from collections import Counter, deque
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.workload import Workload
from catalog import get_catalog
from catalog.loader import load_catalog
from catalog.models import Domain
from handlers.alerting.webhook_sink import WebhookSink
from handlers.errors import MalformedDelivery as BadRequest
from handlers.http import routes as webhook
from handlers.http.messages import PROBLEM_JSON, Headers, Request, Response
from handlers.inbound.envelope import decode_body, parse_events
from handlers.pipeline import NEEDS_ATTENTION
from handlers.runtime import Runtime
from tests.capture_server import CaptureServer, Reply
from tests.conftest import SAMPLES, LocalHost, RuntimeFactory
from tests.events import call_result, sms_report
from tests.jwks import TEST_AUDIENCE, JwksServer

Route = Callable[[Request, Runtime | None], Response]
ROUTES: dict[str, Route] = {"eventgrid": webhook.eventgrid, "callbacks": webhook.callbacks}
CLIENT_ERRORS = frozenset({400, 401, 403, 413})
OUTCOMES = frozenset({"alert", "ok", "ignored", "invalid", "duplicate"})
SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OTA="

PROPERTY = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def assert_answered(response: Response) -> dict[str, Any]:
    """200 with a summary or a handshake answer, or a 4xx problem: never a 5xx, never a trace."""
    assert response.status == 200 or response.status in CLIENT_ERRORS, (
        response.status,
        response.body[:500],
    )
    payload: dict[str, Any] = json.loads(response.body.decode("utf-8"))
    if response.status != 200:
        assert response.headers["Content-Type"] == PROBLEM_JSON
        assert set(payload) >= {"type", "title", "status", "detail"}
        assert payload["status"] == response.status
        return payload
    if "validationResponse" in payload:
        return payload
    # Every event counted; listed only those that need attention (replay --json lists all).
    assert payload["received"] == sum(payload["outcomes"].values()) >= 1
    assert len(payload["events"]) == sum(payload["outcomes"].get(v, 0) for v in NEEDS_ATTENTION)
    for event in payload["events"]:
        assert event["outcome"] in OUTCOMES
        if event["outcome"] == "invalid":
            assert isinstance(event["reason"], str) and event["reason"]
    return payload


def post(route: str, body: bytes, runtime: Runtime, **headers: str) -> Response:
    return ROUTES[route](Request("POST", body, Headers(headers)), runtime)


# --- strategies -------------------------------------------------------------------------------

# Any text, lone UTF-16 surrogates included (JSON can carry them escaped).
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
huge_text = st.builds(
    lambda piece, times: piece * times,
    st.sampled_from(["x", "☎ ", "+15555550123 ", "\U0001f4de", "\u202e", "\ud800", "\x00"]),
    st.integers(1_000, 150_000),
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 200, 400, 487, 500, 503, 2000, 4007, 5000, 8536, 560503, 2**63]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, any_text)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
anything = st.one_of(json_values, huge_text)

EVENT_TYPES = [
    "Microsoft.Communication.SMSDeliveryReportReceived",
    "microsoft.communication.smsdeliveryreportreceived",
    "Microsoft.Communication.CallDisconnected",
    "Microsoft.Communication.PlayFailed",
    "Microsoft.Communication.CreateCallFailed",
    "Microsoft.Communication.RecognizeCompleted",
    "Microsoft.Communication.CallEnded",
    "Microsoft.Communication.CallParticipantRemoved",
    "Microsoft.Communication.IncomingCall",
    "Microsoft.EventGrid.SubscriptionValidationEvent",
    "Microsoft.EventGrid.SubscriptionDeletedEvent",
    "Microsoft.Storage.BlobCreated",
]
event_types = st.one_of(st.sampled_from(EVENT_TYPES), any_text, json_values)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The plausible value, or a value of any type (a field with the wrong type or shape)."""
    return st.one_of(strategy, anything)


codes = maybe(numbers)
details = st.fixed_dictionaries({}, optional={"code": codes, "message": maybe(any_text)})
sms_data = st.fixed_dictionaries(
    {},
    optional={
        "messageId": maybe(any_text),
        "from": maybe(st.sampled_from(["+15555550100", "15555550100", "+1 (555) 555-0100"])),
        "to": maybe(any_text),
        "deliveryStatus": maybe(st.sampled_from(["Delivered", "Failed", "success", ""])),
        "DeliveryStatusDetails": maybe(st.sampled_from(["2000: No Error", "4007", "No error."])),
        "deliveryAttempts": maybe(
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "timestamp": maybe(any_text),
                        "segmentsSucceeded": codes,
                        "SEGMENTSFAILED": codes,
                    },
                ),
                max_size=3,
            )
        ),
        "tag": maybe(any_text),
    },
)
call_automation_data = st.fixed_dictionaries(
    {},
    optional={
        "callConnectionId": maybe(any_text),
        "serverCallId": maybe(any_text),
        "operationContext": maybe(any_text),
        "resultInformation": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "code": codes,
                    "subCode": codes,
                    "message": maybe(any_text),
                    "sipDetails": maybe(details),
                    "q850Details": maybe(details),
                },
            )
        ),
    },
)
call_end_data = st.fixed_dictionaries(
    {},
    optional={
        "reason": maybe(
            st.fixed_dictionaries(
                {}, optional={"code": codes, "subCode": codes, "phrase": maybe(any_text)}
            )
        ),
        "group": maybe(st.fixed_dictionaries({}, optional={"id": maybe(any_text)})),
        "callDurationInSeconds": codes,
        "isTwoParty": maybe(st.booleans()),
    },
)
validation_data = st.fixed_dictionaries(
    {}, optional={"validationCode": maybe(any_text), "validationUrl": maybe(any_text)}
)
event_data = st.one_of(sms_data, call_automation_data, call_end_data, validation_data, anything)
event_objects = st.fixed_dictionaries(
    {},
    optional={
        "id": maybe(any_text),
        "type": event_types,
        "eventType": event_types,
        "source": maybe(any_text),
        "topic": maybe(any_text),
        "subject": maybe(st.sampled_from(["/phonenumber/15555550123", "calling/x"])),
        "time": maybe(any_text),
        "eventTime": maybe(any_text),
        "specversion": maybe(st.sampled_from(["1.0", "0.3"])),
        "data": event_data,
    },
)
deliveries = st.one_of(event_objects, st.lists(st.one_of(event_objects, json_values), max_size=5))


def encoded(value: Any, ascii_only: bool) -> bytes:
    """JSON bytes; with ``ascii_only`` every non-ASCII character (a lone surrogate too) escaped,
    else raw, lone surrogates written as the invalid UTF-8 they become."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


# --- any body, both routes --------------------------------------------------------------------


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_arbitrary_bytes_are_answered_200_or_a_4xx_problem(
    route: str, make_runtime: RuntimeFactory
) -> None:
    runtime = make_runtime()

    @PROPERTY
    @given(body=st.one_of(st.binary(max_size=2_000), st.binary(min_size=1).map(lambda b: b * 997)))
    def check(body: bytes) -> None:
        assert_answered(post(route, body, runtime))

    check()


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_arbitrary_json_is_answered_200_or_a_4xx_problem(
    route: str, make_runtime: RuntimeFactory
) -> None:
    runtime = make_runtime()

    @PROPERTY
    @given(value=anything, ascii_only=st.booleans())
    def check(value: Any, ascii_only: bool) -> None:
        assert_answered(post(route, encoded(value, ascii_only), runtime))

    check()


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_event_shaped_objects_with_fields_of_any_type_are_triaged_or_refused(
    route: str, make_runtime: RuntimeFactory
) -> None:
    runtime = make_runtime()

    @PROPERTY
    @given(delivery=deliveries, ascii_only=st.booleans())
    def check(delivery: Any, ascii_only: bool) -> None:
        assert_answered(post(route, encoded(delivery, ascii_only), runtime))

    check()


def deep(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def event_text(data: str, *, event_id: str | None = '"e-1"', subject: str = '"s"') -> str:
    """One PlayFailed callback as JSON text, so that what json.dumps cannot write can be put in."""
    identity = "" if event_id is None else f'"id": {event_id}, '
    return (
        f'[{{{identity}"type": "Microsoft.Communication.PlayFailed", "source": "calling/x", '
        f'"subject": {subject}, "specversion": "1.0", "data": {data}}}]'
    )


HOSTILE_BODIES = {
    "arrays nested 100,000 deep": deep(100_000),
    "objects nested 100,000 deep": '{"a":' * 100_000 + "1" + "}" * 100_000,
    "data nested 900 deep": event_text(deep(900)),
    "data nested 900 deep, no id": event_text(deep(900), event_id=None),
    "resultInformation nested 900 deep": event_text('{"resultInformation": ' + deep(900) + "}"),
    "a 4,301-digit code": event_text('{"resultInformation": {"code": ' + "9" * 4301 + "}}"),
    "a 4,000-digit code": event_text('{"resultInformation": {"code": ' + "9" * 4000 + "}}"),
    "an exponent code": event_text('{"resultInformation": {"code": 1e999}}'),
    "NaN": event_text('{"resultInformation": {"code": NaN}}'),
    "a lone surrogate id": event_text("{}", event_id='"\\ud800"'),
    "a lone surrogate subject": event_text("{}", subject='"\\udfff"'),
    "a lone surrogate key": event_text('{"\\ud800": 1, "resultInformation": {"code": 500}}'),
    "a lone surrogate, no id": event_text('{"x": "\\udbff"}', event_id=None),
    "a surrogate pair": event_text('{"resultInformation": {"message": "\\ud83d\\udcde"}}'),
    "a validation code with a lone surrogate": json.dumps(
        [
            {
                "id": "v",
                "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                "data": {"validationCode": "\ud800"},
            }
        ]
    ),
    "a NUL and bidi controls": event_text('{"resultInformation": {"message": "\\u0000\\u202e"}}'),
    "a byte-order mark first": "\ufeff" + event_text("{}"),
    "whitespace only": " \n\t ",
    "an empty array": "[]",
    "a thousand non-events": json.dumps(list(range(1000))),
}


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_hostile_bodies_are_answered_200_or_a_4xx_problem(
    route: str, name: str, make_runtime: RuntimeFactory
) -> None:
    runtime = make_runtime()
    assert_answered(post(route, HOSTILE_BODIES[name].encode("utf-8"), runtime))


@pytest.mark.parametrize(
    "name", ["a lone surrogate id", "a lone surrogate subject", "a lone surrogate, no id"]
)
def test_an_event_with_a_lone_surrogate_is_handled_not_refused(
    name: str, make_runtime: RuntimeFactory
) -> None:
    """A half of a UTF-16 pair cannot be written anywhere: it is replaced, and the event goes on."""
    runtime = make_runtime()
    summary = assert_answered(post("eventgrid", HOSTILE_BODIES[name].encode(), runtime))
    assert summary["received"] == 1
    assert "\ud800" not in json.dumps(summary, ensure_ascii=False)


def test_a_body_over_the_limit_is_refused_with_413(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(max_body_bytes=4096)
    body = json.dumps([sms_report("big", details="x" * 5000)]).encode()
    assert assert_answered(post("eventgrid", body, runtime))["status"] == 413


def test_the_options_handshake_answers_200_or_400_whatever_its_headers(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime()

    @PROPERTY
    @given(origin=any_text, rate=st.one_of(st.none(), any_text))
    def check(origin: str, rate: str | None) -> None:
        headers = {"WebHook-Request-Origin": origin}
        if rate is not None:
            headers["WebHook-Request-Rate"] = rate
        response = webhook.eventgrid(Request("OPTIONS", b"", Headers(headers)), runtime)
        assert response.status in (200, 400)
        if response.status == 200:
            assert response.headers["WebHook-Allowed-Origin"] == origin.strip()

    check()


def test_callbacks_with_any_authorization_header_are_refused_with_401(
    make_runtime: RuntimeFactory, jwks_server: JwksServer
) -> None:
    runtime = make_runtime(
        callback_jwt_required=True,
        callback_audience=TEST_AUDIENCE,
        callback_jwks_url=jwks_server.url,
    )
    body = json.dumps([call_result("cb-1", "PlayFailed", code=500, subcode=9999)]).encode()
    tokens = st.one_of(
        any_text,
        st.builds(lambda t: f"Bearer {t}", any_text),
        st.builds(
            lambda parts: "Bearer " + ".".join(parts),
            st.lists(st.text("abcXYZ012-_=", max_size=30), min_size=1, max_size=4),
        ),
    )

    @PROPERTY
    @given(authorization=st.one_of(st.none(), tokens))
    def check(authorization: str | None) -> None:
        headers = {} if authorization is None else {"Authorization": authorization}
        answer = assert_answered(post("callbacks", body, runtime, **headers))
        assert answer["status"] == 401

    check()


# --- mutated real samples ---------------------------------------------------------------------

EVENT_SAMPLES = sorted(
    path.name
    for path in SAMPLES.glob("*.json")
    if not path.name.startswith("SmsDeliveryReport.RestGet")  # not an event: always a 400
)
FieldPath = tuple[str | int, ...]


def paths(value: Any, prefix: FieldPath = ()) -> Iterator[FieldPath]:
    """Every key and index inside a JSON value, parents first."""
    if not isinstance(value, dict | list):
        return
    items: Any = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        yield (*prefix, key)
        yield from paths(item, (*prefix, key))


def wrong_type(value: Any) -> Any:
    match value:
        case bool():
            return "true"
        case int() | float():
            return f"{value} units"
        case str():
            return 4007
        case dict():
            return [value]
        case list():
            return {"items": value}
        case _:
            return {}


PHONE_HEAVY = "☎ +15555550123, " * 8_000
MUTATIONS: dict[str, Callable[[Any], Any]] = {
    "null": lambda value: None,
    "wrong type": wrong_type,
    "empty": lambda value: type(value)() if isinstance(value, str | dict | list) else 0,
    "huge string": lambda value: PHONE_HEAVY,
    "unicode": lambda value: "Ωμέγα 电话 \U0001f4de \u202e\u0000\ufeff \ud800 \U0010ffff",
    "huge number": lambda value: -(10**40) if isinstance(value, int) else 10**40,
    "deep": lambda value: json.loads(deep(200, json.dumps(value))),
}
REMOVED = "removed"


def mutated(event: dict[str, Any], where: FieldPath, mutation: str) -> dict[str, Any]:
    copied = copy.deepcopy(event)
    parent: Any = copied
    for key in where[:-1]:
        parent = parent[key]
    if mutation == REMOVED:
        del parent[where[-1]]
    else:
        parent[where[-1]] = MUTATIONS[mutation](parent[where[-1]])
    return copied


def sample_events(name: str) -> list[dict[str, Any]]:
    loaded = json.loads((SAMPLES / name).read_text())
    return loaded if isinstance(loaded, list) else [loaded]


@pytest.mark.parametrize("mutation", [REMOVED, *MUTATIONS])
@pytest.mark.parametrize("sample", EVENT_SAMPLES)
def test_every_handler_reads_a_mutated_sample_into_an_outcome_or_invalid_with_a_reason(
    sample: str, mutation: str, make_runtime: RuntimeFactory
) -> None:
    """Each field of each sample, one at a time, removed, nulled, mistyped, swollen, nested."""
    runtime = make_runtime()
    reader = runtime.pipeline.reader
    for event in sample_events(sample):
        for where in paths(event):
            body = json.dumps([mutated(event, where, mutation)]).encode()
            try:
                envelopes = parse_events(decode_body(body))
            except BadRequest:
                continue  # no longer an event at all (its type removed): the route's 400
            outcome = reader.read(envelopes[0])
            assert outcome.status in ("ok", "ignored", "invalid"), where
            if outcome.status == "invalid":
                assert isinstance(outcome.reason, str) and outcome.reason, where
            for route in ROUTES:
                assert_answered(post(route, body, runtime))


# --- the catalog, asked anything ---------------------------------------------------------------


@PROPERTY
@given(
    queries=st.lists(
        st.tuples(
            st.sampled_from(list(Domain)),
            st.one_of(st.none(), st.integers(-(10**12), 10**12), st.sampled_from([0, 487, 500])),
            st.one_of(st.none(), st.integers(-(10**12), 10**12), st.sampled_from([0, 560503])),
        ),
        max_size=30,
    )
)
def test_the_catalog_answers_the_same_whatever_was_asked_before(
    queries: list[tuple[Domain, int | None, int | None]],
) -> None:
    """Lookups are remembered: a fresh catalog asked in the opposite order agrees on each."""
    shared = get_catalog()
    fresh = load_catalog()
    answers = [shared.lookup(*query) for query in queries]
    assert [fresh.lookup(*query) for query in reversed(queries)] == answers[::-1]


# --- an alert destination down, then back -----------------------------------------------------


def event_grid_redelivers(
    local_host: LocalHost, deliveries: list[bytes], *, max_attempts: int
) -> Counter[int]:
    """Post every delivery; one answered other than 200 goes to the back of the queue and comes
    again, as Event Grid retries (unordered); returns how often each status was seen."""
    queue = deque(deliveries)
    statuses: Counter[int] = Counter()
    attempts = 0
    while queue:
        attempts += 1
        assert attempts <= max_attempts, f"still {len(queue)} deliveries failing"
        body = queue.popleft()
        response = local_host.post("eventgrid", body)
        statuses[response.status_code] += 1
        if response.status_code == 503:
            assert int(response.headers["Retry-After"]) > 0
            queue.append(body)
        else:
            assert response.status_code == 200, response.text
    return statuses


def test_after_an_outage_of_the_alert_webhook_every_alert_arrives_exactly_once(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    workload = Workload(seed=503)
    deliveries = []
    alerting: set[str] = set()
    for index in range(40):
        events = [
            sms_report(workload.event_id()),
            call_result(workload.event_id(), "CallDisconnected", code=200, subcode=0),
        ]
        if index % 3 != 2:  # two deliveries in three carry alerts, one does not
            events.append(call_result(workload.event_id(), "PlayFailed", code=500, subcode=9999))
            events.append(sms_report(workload.event_id(), status="Failed", details="5000: x"))
            alerting.update(event["id"] for event in events[-2:])
        deliveries.append(json.dumps(events).encode())
    # At-least-once: Event Grid may also bring back deliveries that did succeed.
    deliveries += deliveries[:5]
    with CaptureServer() as hook:
        hook.fail(12, status=503)  # down for the first 12 sends, then back
        make_runtime(
            sinks=[WebhookSink(hook.url("/alerts"), SECRET)],
            sink_max_attempts=1,
            alert_webhook_receives="alerts",
        )
        statuses = event_grid_redelivers(local_host, deliveries, max_attempts=200)
        accepted = [alert for request in hook.accepted() for alert in request.json()]
    assert statuses[503] == 0 and len(hook.requests) - len(hook.accepted()) == 12
    by_event = Counter(alert["data"]["event"]["id"] for alert in accepted)
    assert set(by_event) == alerting
    assert max(by_event.values()) == 1
    assert len({alert["id"] for alert in accepted}) == len(alerting)


def test_an_intermittent_webhook_still_gets_every_alert_exactly_once(
    make_runtime: RuntimeFactory, local_host: LocalHost
) -> None:
    """Failures scattered through the stream (500, 503, 429), not one block."""
    workload = Workload(seed=429)
    deliveries = [
        json.dumps(
            [call_result(workload.event_id(), "AddParticipantFailed", code=500, subcode=9999)]
        ).encode()
        for _ in range(30)
    ]
    with CaptureServer() as hook:
        hook.answer(*[Reply(s) for s in (500, 200, 503, 503, 200, 429, 200, 200, 500, 200, 503)])
        make_runtime(
            sinks=[WebhookSink(hook.url("/alerts"), SECRET)],
            sink_max_attempts=1,
            alert_webhook_receives="alerts",
        )
        event_grid_redelivers(local_host, deliveries, max_attempts=100)
        accepted = [alert["id"] for request in hook.accepted() for alert in request.json()]
    assert len(accepted) == len(set(accepted)) == 30

