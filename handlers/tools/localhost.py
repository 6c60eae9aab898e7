"""A local stand-in for the Functions host: serves the routes registered on ``function_app.app``.

Routes are declared once, in ``function_app.py``; this host reads them from the FunctionApp's
own metadata (route, methods, auth level) and calls the registered functions with real
``azure.functions.HttpRequest`` objects. It is the one module besides ``function_app.py`` that
imports ``azure.functions``: it stands in for the host, not for the domain.

Like ``func start``, it does not enforce function keys unless given one (``serve
--function-key``): then, as the Functions host in Azure, a route with auth level FUNCTION answers
an empty 401 to a request without that key (``?code=`` or ``x-functions-key``). It binds to
127.0.0.1 by default.

Bounded like a host should be: a listen queue deep enough for a load test's connections, an idle
timeout on every connection (an idle or dribbling client is dropped, not kept with its thread),
and the declared ``Content-Length`` checked against the app's ``MAX_BODY_BYTES`` before a byte of
the body is read.
"""

from __future__ import annotations

import hmac
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from handlers.errors import DeliveryTooLarge, TriageError
from handlers.http.messages import problem_response
from handlers.http.problems import problem_answer
from handlers.logs import log_event
from handlers.runtime import Runtime, get_runtime
from handlers.settings import DEFAULT_MAX_BODY_BYTES, SettingsError

ROUTE_PREFIX = "/api/"
# The kernel's queue of connections not yet accepted. The stdlib's 5 overflows as soon as a load
# test opens its 16 connections at once (the extra ones are reset); 128 is Linux's usual default.
LISTEN_BACKLOG = 128
# A connection that sends nothing (or nothing more) for this long is closed, with its thread.
IDLE_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class LocalRoute:
    name: str
    route: str
    methods: tuple[str, ...]
    auth_level: str
    function: Callable[[func.HttpRequest], func.HttpResponse]


_registered: dict[int, list[Any]] = {}


def registered_functions(app: func.FunctionApp) -> list[Any]:
    """``app.get_functions()``, read once per app: the library refuses a second call (it keeps
    the names it has seen and reports every function as a duplicate)."""
    if id(app) not in _registered:
        _registered[id(app)] = app.get_functions()
    return _registered[id(app)]


def routes_of(app: func.FunctionApp) -> dict[str, LocalRoute]:
    """Every HTTP-triggered function of the app, by route, from its registered metadata."""
    routes = {}
    for function in registered_functions(app):
        trigger = function.get_trigger()
        if trigger is None or trigger.get_binding_name() != "httpTrigger":
            continue
        binding = trigger.get_dict_repr()
        route = str(binding.get("route") or function.get_function_name())
        methods = tuple(str(m).upper() for m in binding.get("methods") or ("GET", "POST"))
        routes[route.strip("/")] = LocalRoute(
            name=str(function.get_function_name()),
            route=route,
            methods=methods,
            auth_level=str(binding.get("authLevel", "FUNCTION")),
            function=function.get_user_function(),
        )
    return routes


def _problem(
    status: int, title: str, detail: str, slug: str = "host"
) -> tuple[int, dict[str, str], bytes]:
    response = problem_response(status, title, detail, slug=slug)
    return status, dict(response.headers), response.body


class LocalHostHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "acs-triage-localhost"
    # Headers and body leave in two writes; with Nagle on, the second waits for the client's
    # delayed ACK of the first on a kept-alive connection: 40 ms added to every answer.
    disable_nagle_algorithm = True
    # StreamRequestHandler puts this on the socket: every read waits at most this long.
    timeout = IDLE_TIMEOUT_SECONDS
    routes: dict[str, LocalRoute] = {}
    access_log: bool = True
    function_key: str | None = None

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        started = time.perf_counter()
        url = urlsplit(self.path)
        status, headers, body = self._answer(url.path, url.query)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        if self.access_log:
            elapsed = (time.perf_counter() - started) * 1000
            # The path only: the query string may hold a function key.
            sys.stderr.write(f"{self.command:7} {url.path:18} {status} {elapsed:7.1f} ms\n")

    def _answer(self, path: str, query: str) -> tuple[int, dict[str, str], bytes]:
        if not path.startswith(ROUTE_PREFIX):
            return _problem(404, "Not found", f"No route {path}; routes live under /api/.")
        route = self.routes.get(path[len(ROUTE_PREFIX) :].strip("/"))
        if route is None:
            return _problem(404, "Not found", f"No route {path}.")
        if self.command not in route.methods:
            status, headers, body = _problem(
                405, "Method not allowed", f"{path} takes {', '.join(route.methods)}."
            )
            return status, {**headers, "Allow": ", ".join(route.methods)}, body
        if not self._key_accepted(route, query):
            self.close_connection = True  # the body is left unread
            return 401, {}, b""
        body_or_problem = self._read_body()
        if isinstance(body_or_problem, tuple):
            return body_or_problem
        request = func.HttpRequest(
            method=self.command,
            url=f"http://{self.headers.get('Host', 'localhost')}{path}",
            headers=dict(self.headers.items()),
            params=dict(parse_qsl(query)),
            route_params={},
            body=body_or_problem,
        )
        response = route.function(request)
        headers = dict(response.headers.items())
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = response.mimetype
        return response.status_code, headers, response.get_body() or b""

    def _key_accepted(self, route: LocalRoute, query: str) -> bool:
        if self.function_key is None or route.auth_level.upper() != "FUNCTION":
            return True
        supplied = dict(parse_qsl(query)).get("code") or self.headers.get("x-functions-key") or ""
        return hmac.compare_digest(supplied.encode(), self.function_key.encode())

    def _read_body(self) -> bytes | tuple[int, dict[str, str], bytes]:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            return _problem(411, "Length required", "Send the body with a Content-Length.")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            return _problem(400, "Bad request", "Content-Length is not a number.")
        limit = _body_limit()
        if length < 0 or length > limit:
            self.close_connection = True  # the unread body would desynchronise the connection
            refused = problem_answer(DeliveryTooLarge.body(length, limit))
            return refused.status, dict(refused.headers), refused.body
        return self.rfile.read(length) if length else b""

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib's access log: it prints the query string (function keys)."""


def _body_limit() -> int:
    """The app's own MAX_BODY_BYTES; its default while the settings are unusable (the route
    then answers 503 misconfigured anyway)."""
    try:
        return get_runtime().settings.max_body_bytes
    except SettingsError:
        return DEFAULT_MAX_BODY_BYTES


class LocalHTTPServer(ThreadingHTTPServer):
    """One thread per request; a listen backlog for Event Grid's concurrent deliveries (the
    standard library's 5 resets connections when a few dozen arrive at once)."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


def make_server(
    host: str,
    port: int,
    *,
    access_log: bool = True,
    app: func.FunctionApp | None = None,
    function_key: str | None = None,
    idle_timeout: float = IDLE_TIMEOUT_SECONDS,
) -> ThreadingHTTPServer:
    """A threaded HTTP server for the app's routes (``port=0`` picks a free port); with a
    ``function_key``, routes of auth level FUNCTION require it, as in Azure.

    Raises OSError when the address cannot be bound (the port is taken).
    """
    if app is None:
        from function_app import app as function_app

        app = function_app
    handler = type(
        "BoundLocalHostHandler",
        (LocalHostHandler,),
        {
            "routes": routes_of(app),
            "access_log": access_log,
            "function_key": function_key,
            "timeout": idle_timeout,
        },
    )
    return LocalHTTPServer((host, port), handler)


def server_routes(server: ThreadingHTTPServer) -> list[LocalRoute]:
    """The routes a server made by :func:`make_server` serves, in route order."""
    handler: type[LocalHostHandler] = server.RequestHandlerClass  # type: ignore[assignment]
    return sorted(handler.routes.values(), key=lambda route: route.route)


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="localhost", daemon=True)
    thread.start()
    return thread


# The local stand-in for the Functions timer trigger: a pass every second (the timer in Azure
# runs every 10 s), so a person trying the app sees a delivery's alerts almost at once.
LOCAL_FLUSH_INTERVAL_SECONDS = 1.0


class FlusherThread:
    """Runs the runtime's flusher on a thread, as the timer trigger runs it in Azure."""

    def __init__(self, runtime: Runtime, interval: float = LOCAL_FLUSH_INTERVAL_SECONDS) -> None:
        self._runtime = runtime
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flusher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._runtime.flush()
            except TriageError as error:  # the state store is down: the next pass tries again
                log_event("flush_failed", level=logging.WARNING, detail=error.detail)
