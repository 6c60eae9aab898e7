"""A loopback HTTP receiver that never answers in time: it hangs, or drips its answer.

    with SlowServer("drip", interval=0.5) as server:   # one byte of a 200 answer every 0.5 s
        ...post to server.url("/hook")...
    server.requests   # how many requests it began to read

``hang`` reads the request and says nothing until the client goes away; ``drip`` sends a
complete, valid ``200`` answer one byte at a time, so a client bounded only by per-read
timeouts gets it, eventually. Stopping ends every connection.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Literal

DRIPPED_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
    b"Connection: close\r\n\r\n{}"
)


class SlowServer:
    def __init__(self, mode: Literal["hang", "drip"], *, interval: float = 0.5) -> None:
        self.mode = mode
        self.interval = interval
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.requests = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> SlowServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        self._listener.settimeout(0.05)  # a closed listener does not wake accept(): poll
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(self.interval)
            try:
                first = connection.recv(65536)
            except OSError:
                return
            if first:
                with self._lock:
                    self.requests += 1
            answer = DRIPPED_ANSWER if self.mode == "drip" else b""
            sent = 0
            while not self._stop.is_set():
                try:
                    if connection.recv(65536) == b"":
                        return  # the client gave up
                except TimeoutError:
                    pass  # the pace: one interval per byte
                except OSError:
                    return
                if self.mode == "drip":
                    if sent == len(answer):
                        return
                    try:
                        connection.sendall(answer[sent : sent + 1])
                    except OSError:
                        return
                    sent += 1
