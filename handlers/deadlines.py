"""Wall-clock deadlines on outbound calls, whatever the far side does.

Socket timeouts bound each read, not a call: a receiver that drips one byte a second never
trips a 5 s read timeout and can hold a call for minutes. Here every outbound HTTP call runs
inside :func:`cut_off_at`: the sockets it opens or reuses are registered, and one watchdog
thread shuts them down when the deadline passes, so the blocked read fails at once and the call
raises. :func:`deadline_transport` is the azure-core transport whose connections register
themselves; every client of the app (webhook, topic, table) is built on it.

A delivery sets its own deadline with :func:`delivery_deadline`; each call is cut off at the
earlier of its own limit and the delivery's (:func:`call_deadline`). Worker threads do not see
the caller's context, so pools run their work through :func:`in_this_context`.
"""

from __future__ import annotations

import contextvars
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from azure.core.pipeline.transport import RequestsTransport

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Deadline:
    """A point in time on the monotonic clock."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def earlier(self, other: Deadline | None) -> Deadline:
        return self if other is None or self.at <= other.at else other


class DeadlinePassed(Exception):
    """A call was cut off at its deadline (no complete answer in time)."""


_delivery: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "delivery_deadline", default=None
)


@contextmanager
def delivery_deadline(seconds: float) -> Iterator[Deadline]:
    """Everything called inside (in this context) ends by ``seconds`` from now."""
    deadline = Deadline.after(seconds).earlier(_delivery.get())
    token = _delivery.set(deadline)
    try:
        yield deadline
    finally:
        _delivery.reset(token)


def current_delivery_deadline() -> Deadline | None:
    return _delivery.get()


def call_deadline(seconds: float) -> Deadline:
    """The deadline of one call: ``seconds`` from now, or the delivery's if that is earlier."""
    return Deadline.after(seconds).earlier(_delivery.get())


def in_this_context(work: Callable[P, R]) -> Callable[P, R]:
    """``work`` made to run in a copy of the caller's context (its delivery deadline) when a
    pool runs it on another thread; one copy per call, as a context runs in one thread at once."""
    context = contextvars.copy_context()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.copy().run(work, *args, **kwargs)

    return run


# --- cutting calls off --------------------------------------------------------------------


@dataclass(eq=False)
class _Guard:
    deadline: Deadline
    sockets: set[socket.socket] = field(default_factory=set)
    fired: bool = False
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self.lock:
            if self.fired:
                _shut(sock)
            else:
                self.sockets.add(sock)

    def fire(self) -> None:
        with self.lock:
            if self.done:
                return
            self.fired = True
            for sock in self.sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


_active = threading.local()


def _current_guard() -> _Guard | None:
    guards: list[_Guard] = getattr(_active, "guards", [])
    return guards[-1] if guards else None


class _Watchdog:
    """One thread for every guard of the process: fires each at its deadline."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Guard]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, guard: _Guard) -> None:
        with self._wake:
            heapq.heappush(self._heap, (guard.deadline.at, next(self._order), guard))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="deadline-watchdog", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                at, _, guard = self._heap[0]
                wait = at - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._heap)
            guard.fire()


_watchdog = _Watchdog()


@contextmanager
def cut_off_at(deadline: Deadline) -> Iterator[None]:
    """Run an outbound call that cannot outlive ``deadline``.

    Raises :class:`DeadlinePassed` (chained to the transport's own error) when the call failed
    because the deadline cut its sockets, or when the deadline had passed before it started.
    """
    if deadline.expired():
        raise DeadlinePassed("the deadline passed before the call")
    guard = _Guard(deadline)
    guards: list[_Guard] = getattr(_active, "guards", None) or []
    _active.guards = guards
    guards.append(guard)
    _watchdog.watch(guard)
    try:
        yield
        if guard.fired:
            # A cut can look like an answer (headers cut short parse as a complete response):
            # whatever came back is not to be trusted.
            raise DeadlinePassed("the answer was cut off at the deadline")
    except Exception as error:
        if guard.fired and not isinstance(error, DeadlinePassed):
            raise DeadlinePassed("no complete answer before the deadline") from error
        raise
    finally:
        guards.pop()
        with guard.lock:
            guard.done = True
            guard.sockets.clear()


# --- an azure-core transport whose connections register with the current guard -----------


POOL_MAXSIZE = 32


def deadline_transport() -> RequestsTransport:
    """A requests-based azure-core transport whose calls :func:`cut_off_at` can cut off.

    Retries and redirects are off, as azure-core sets them on its own sessions.
    """
    import requests
    from azure.core.pipeline.transport import RequestsTransport
    from urllib3.util.retry import Retry

    session = requests.Session()
    # Room for every thread that calls at once (a store's workers, the flusher's destinations):
    # with requests' default of 10, a busy store opened and dropped connections, each with a
    # "connection pool is full" warning.
    adapter = _deadline_adapter()(
        max_retries=Retry(total=False, redirect=False), pool_maxsize=POOL_MAXSIZE
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return RequestsTransport(session=session, session_owner=True)


_adapter_class: type[Any] | None = None


def _deadline_adapter() -> type[Any]:
    """The adapter class, made on first use: requests and urllib3 stay out of cold start."""
    global _adapter_class  # noqa: PLW0603 - built once per process
    if _adapter_class is not None:
        return _adapter_class
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Registering:
        """Registers its socket when it is opened and each time it is reused."""

        sock: socket.socket | None

        def _new_conn(self) -> socket.socket:
            sock: socket.socket = super()._new_conn()  # type: ignore[misc]
            guard = _current_guard()
            if guard is not None:
                guard.register(sock)
            return sock

        def request(self, *args: Any, **kwargs: Any) -> None:
            guard = _current_guard()
            if guard is not None:
                guard.register(self.sock)
            super().request(*args, **kwargs)  # type: ignore[misc]

    class GuardedHTTPConnection(Registering, HTTPConnection):
        pass

    class GuardedHTTPSConnection(Registering, HTTPSConnection):
        pass

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    class DeadlineAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {
                "http": GuardedHTTPPool,
                "https": GuardedHTTPSPool,
            }

    _adapter_class = DeadlineAdapter
    return _adapter_class
