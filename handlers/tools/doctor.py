"""``python -m handlers doctor URL``: check a running deployment from outside, the way Event Grid
and Call Automation reach it, and say what to fix.

Every check is one request a real sender makes:

1. ``GET /api/health`` answers 200 ``ready`` (anonymous, as a probe).
2. ``POST /api/eventgrid`` without a function key is refused with 401: the route is not open to
   the internet.
3. With the key (``--code``): ``OPTIONS /api/eventgrid`` with ``WebHook-Request-Origin`` is the
   CloudEvents handshake; it must echo the origin in ``WebHook-Allowed-Origin``.
4. With the key: a ``SubscriptionValidationEvent`` carrying a fresh code, as Event Grid sends when
   a subscription is created, must be answered ``{"validationResponse": <that code>}``. Its
   ``topic`` is ``--topic`` (the Communication Services resource id): the app refuses a topic
   outside ``ALLOWED_TOPICS`` with 403.
5. With the key: ``POST /api/callbacks`` without a Call Automation JWT must be refused with 401.

A check that needs the key is skipped, and says so, when no key is given. The doctor sends no
real event: the callback it posts is refused before it is read, or (when the JWT check is off,
which it reports) is a ``CallConnected`` with no failure in it.
"""

from __future__ import annotations

import json
import sys
import uuid
from dataclasses import dataclass
from typing import Literal, TextIO
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlsplit
from urllib.request import Request, urlopen

Status = Literal["ok", "FAIL", "skip"]
ORIGIN = "eventgrid.azure.net"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


class Client:
    """Plain HTTP to the deployment (stdlib only: the doctor needs nothing installed)."""

    def __init__(self, base_url: str, *, code: str | None, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.code = code
        self.timeout = timeout

    def url(self, route: str, *, with_key: bool) -> str:
        url = f"{self.base_url}/api/{route}"
        return f"{url}?code={quote(self.code, safe='')}" if with_key and self.code else url

    def send(
        self,
        method: str,
        route: str,
        *,
        with_key: bool,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        request = Request(
            self.url(route, with_key=with_key), data=body, method=method, headers=headers or {}
        )
        try:
            with urlopen(request, timeout=self.timeout) as response:
                return Answer(response.status, dict(response.headers.items()), response.read())
        except HTTPError as error:
            return Answer(error.code, dict(error.headers.items()), error.read())


def _unreachable(name: str, error: Exception) -> Check:
    reason = getattr(error, "reason", error)
    return Check(
        name,
        "FAIL",
        f"no answer ({reason})",
        "check the URL (the deployment's output SERVICE_API_URI) and that the app is running",
    )


def check_health(client: Client) -> Check:
    name = "health: GET /api/health answers ready"
    answer = client.send("GET", "health", with_key=False)
    payload = answer.json()
    if answer.status == 200 and isinstance(payload, dict) and payload.get("status") == "ready":
        return Check(name, "ok", f"ready, version {payload.get('version', '?')}")
    if answer.status == 503:
        return Check(
            name,
            "FAIL",
            f"503: {_detail(answer)}",
            "a setting is missing or wrong: the detail names it; fix the app setting (infra/main"
            ".bicep, var appSettings) and provision again",
        )
    return Check(
        name,
        "FAIL",
        f"{answer.status}: {_detail(answer)}",
        "the code is not running: deploy it (azd deploy) and read the host's logs in "
        "Application Insights",
    )


def check_key_required(client: Client) -> Check:
    name = "function key: /api/eventgrid refuses a request without it"
    answer = client.send("POST", "eventgrid", with_key=False, body=b"[]",
                         headers={"Content-Type": "application/json"})  # fmt: skip
    if answer.status == 401:
        return Check(name, "ok", "401 without a key")
    return Check(
        name,
        "FAIL",
        f"answered {answer.status} without a key",
        "the route must have auth level FUNCTION (function_app.py); a local host enforces a "
        "key only when started with --function-key",
    )


def check_options_handshake(client: Client) -> Check:
    name = "CloudEvents handshake: OPTIONS /api/eventgrid echoes the origin"
    answer = client.send(
        "OPTIONS", "eventgrid", with_key=True, headers={"WebHook-Request-Origin": ORIGIN}
    )
    echoed = _header(answer, "WebHook-Allowed-Origin")
    if answer.status == 200 and echoed == ORIGIN:
        return Check(name, "ok", f"200, WebHook-Allowed-Origin: {echoed}")
    return _refused(name, answer) or Check(
        name,
        "FAIL",
        f"{answer.status}, WebHook-Allowed-Origin: {echoed or '(none)'}",
        "Event Grid cannot create a CloudEvents subscription: the route must answer OPTIONS",
    )


def check_validation(client: Client, topic: str | None) -> Check:
    name = "validation handshake: a SubscriptionValidationEvent is answered with its code"
    code = str(uuid.uuid4())
    event = {
        "id": f"doctor-{uuid.uuid4()}",
        "topic": topic or "",
        "subject": "",
        "data": {"validationCode": code},
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": "2026-01-01T00:00:00Z",
        "metadataVersion": "1",
        "dataVersion": "2",
    }
    answer = client.send(
        "POST",
        "eventgrid",
        with_key=True,
        body=json.dumps([event]).encode(),
        headers={"Content-Type": "application/json", "aeg-event-type": "SubscriptionValidation"},
    )
    payload = answer.json()
    if answer.status == 200 and isinstance(payload, dict):
        if payload.get("validationResponse") == code:
            return Check(name, "ok", "the test code came back")
        return Check(name, "FAIL", "200, but not with the test code",
                     "the route must echo data.validationCode as validationResponse")  # fmt: skip
    if answer.status == 403:
        fix = (
            "give --topic the Communication Services resource id"
            if not topic
            else "ALLOWED_TOPICS does not hold this topic: it must list the resource id and "
            "the system topic's id (main.bicep does); the app logs which one Event Grid sent"
        )
        return Check(name, "FAIL", f"403 for topic {topic or '(none)'}", fix)
    return _refused(name, answer) or Check(
        name, "FAIL", f"{answer.status}: {_detail(answer)}",
        "Event Grid would not create the subscription: read the app's logs",
    )  # fmt: skip


def check_callbacks_signed(client: Client) -> Check:
    name = "callbacks: POST /api/callbacks refuses an unsigned request"
    event = {
        "specversion": "1.0",
        "id": f"doctor-{uuid.uuid4()}",
        "source": "calling/callConnections/doctor",
        "type": "Microsoft.Communication.CallConnected",
        "time": "2026-01-01T00:00:00Z",
        "datacontenttype": "application/json",
        "data": {"callConnectionId": "doctor", "serverCallId": "doctor", "correlationId": "doctor"},
    }
    answer = client.send(
        "POST",
        "callbacks",
        with_key=True,
        body=json.dumps([event]).encode(),
        headers={"Content-Type": "application/cloudevents-batch+json"},
    )
    if answer.status == 401 and not _key_refused(answer):
        return Check(name, "ok", f"401: {_detail(answer)}")
    if answer.status == 401:
        return _refused(name, answer) or Check(name, "FAIL", "401", "")
    if 200 <= answer.status < 300:
        return Check(
            name,
            "FAIL",
            f"accepted ({answer.status}) without a Call Automation JWT",
            "set CALLBACK_JWT_REQUIRED=true and CALLBACK_AUDIENCE (the resource's immutable id); "
            "main.bicep does",
        )
    return Check(name, "FAIL", f"{answer.status}: {_detail(answer)}",
                 "expected 401 problem+json from the JWT check")  # fmt: skip


def _key_refused(answer: Answer) -> bool:
    """The Functions host's own 401 (wrong key) has an empty body; the app's is problem+json."""
    return answer.status == 401 and not answer.body.strip()


def _refused(name: str, answer: Answer) -> Check | None:
    if _key_refused(answer):
        return Check(
            name,
            "FAIL",
            "401: the function key was refused",
            "take the key from: az functionapp keys list -g <group> -n <app> "
            "--query functionKeys.default -o tsv",
        )
    return None


def _header(answer: Answer, name: str) -> str | None:
    return next((v for k, v in answer.headers.items() if k.lower() == name.lower()), None)


def _detail(answer: Answer) -> str:
    payload = answer.json()
    if isinstance(payload, dict):
        for key in ("detail", "title", "status"):
            if payload.get(key):
                return str(payload[key])
    text = answer.body.decode("utf-8", "replace").strip()
    return text[:200] or "(empty body)"


def run_checks(client: Client, *, topic: str | None) -> list[Check]:
    try:
        checks = [check_health(client), check_key_required(client)]
    except URLError as error:
        return [_unreachable("health: GET /api/health answers ready", error)]
    keyed = [check_options_handshake, lambda c: check_validation(c, topic), check_callbacks_signed]
    names = [
        "CloudEvents handshake: OPTIONS /api/eventgrid echoes the origin",
        "validation handshake: a SubscriptionValidationEvent is answered with its code",
        "callbacks: POST /api/callbacks refuses an unsigned request",
    ]
    key_enforced = checks[1].status == "ok"
    for check, name in zip(keyed, names, strict=True):
        if key_enforced and not client.code:
            checks.append(Check(name, "skip", "needs the function key",
                                "give --code (or FUNCTION_KEY)"))  # fmt: skip
            continue
        try:
            checks.append(check(client))
        except URLError as error:
            checks.append(_unreachable(name, error))
    return checks


def print_checklist(base_url: str, checks: list[Check], out: TextIO) -> None:
    print(f"acs-triage doctor: {base_url}", file=out)
    for check in checks:
        print(f"  [{check.status:4}] {check.name}: {check.detail}", file=out)
        if check.fix and check.status != "ok":
            print(f"         fix: {check.fix}", file=out)
    counts = {s: sum(1 for c in checks if c.status == s) for s in ("ok", "FAIL", "skip")}
    print(
        f"{len(checks)} check(s): {counts['ok']} ok, {counts['FAIL']} to fix, "
        f"{counts['skip']} skipped",
        file=out,
    )


def run_doctor(
    url: str,
    *,
    code: str | None = None,
    topic: str | None = None,
    timeout: float = 30.0,
    out: TextIO | None = None,
) -> int:
    """0 when every check passed (skips allowed), 1 when one needs fixing, 2 for a bad URL."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        print(f"acs-triage: {url!r} is not an http(s) URL", file=sys.stderr)
        return 2
    checks = run_checks(Client(url, code=code, timeout=timeout), topic=topic)
    print_checklist(url, checks, out or sys.stdout)
    return 1 if any(check.status == "FAIL" for check in checks) else 0
