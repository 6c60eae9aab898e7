"""A loopback HTTP server that records every request and answers from a script.

    with CaptureServer() as server:
        server.answer(Reply(500), Reply(500))   # the next two requests fail, then 200s
        ...post to server.url("/hook")...
        server.requests[0].json()

Listens on 127.0.0.1 on a free port, one thread per request, and stops in ``__exit__``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted answer; ``delay`` seconds pass before it is sent."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class CapturedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the server answered
    at: float = 0.0  # time.monotonic() when it was answered

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    def json(self) -> Any:
        return json.loads(self.body)


class CaptureServer:
    """Records requests; answers each with the next scripted :class:`Reply`, else ``default``."""

    def __init__(
        self,
        default: Reply | None = None,
        *,
        judge: Callable[[CapturedRequest], Reply | None] | None = None,
    ) -> None:
        self.default = default or Reply(200)
        # A receiver's own checks (key, signature, payload shape): its Reply, if it refuses,
        # comes before the script's.
        self.judge = judge
        self._script: deque[Reply] = deque()
        self._requests: list[CapturedRequest] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> CaptureServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # --- the script and the record -----------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order."""
        with self._lock:
            self._script.extend(replies)

    def fail(self, times: int, status: int = 500, **reply: Any) -> None:
        """The next ``times`` requests are answered ``status``."""
        self.answer(*[Reply(status, **reply)] * times)

    @property
    def requests(self) -> list[CapturedRequest]:
        with self._lock:
            return list(self._requests)

    def accepted(self) -> list[CapturedRequest]:
        """The requests that were answered 2xx."""
        return [r for r in self.requests if 200 <= r.status < 300]

    # --- the handler -------------------------------------------------------------------------

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def _record(self, request: CapturedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = CapturedRequest(
                    method=self.command,
                    path=self.path,
                    headers=dict(self.headers.items()),
                    body=body,
                    status=0,
                )
                refusal = server.judge(request) if server.judge else None
                reply = refusal or server._next_reply()
                server._record(replace(request, status=reply.status, at=time.monotonic()))
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up waiting (a timeout test)

            do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = _handle  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the record is the log."""

        return Handler
