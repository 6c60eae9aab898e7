"""The local host holds up like a host: a load test's connections are all accepted, idle ones are
dropped, and a body over the app's limit is refused from its Content-Length, before it is read."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from handlers.tools.localhost import LISTEN_BACKLOG, make_server, serve_in_thread
from tests.conftest import RuntimeFactory

# How long the client itself waits before giving up: far above the server's idle timeout, so a
# server that never closes makes the test fail on this, not pass.
CLIENT_PATIENCE_SECONDS = 20.0


@pytest.fixture
def address(make_runtime: RuntimeFactory) -> Iterator[tuple[str, int]]:
    make_runtime(max_body_bytes=4096)
    server = make_server("127.0.0.1", 0, access_log=False, idle_timeout=0.5)
    thread = serve_in_thread(server)
    try:
        yield "127.0.0.1", int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def connect(address: tuple[str, int]) -> socket.socket:
    return socket.create_connection(address, timeout=CLIENT_PATIENCE_SECONDS)


def read_until_closed(client: socket.socket) -> bytes:
    received = b""
    while chunk := client.recv(65536):
        received += chunk
    return received


def test_the_listen_queue_fits_a_load_test() -> None:
    server = make_server("127.0.0.1", 0, access_log=False)
    try:
        assert server.request_queue_size == LISTEN_BACKLOG >= 16
    finally:
        server.server_close()


def test_idle_connections_are_closed_by_the_server(address: tuple[str, int]) -> None:
    with ExitStack() as stack:
        clients = [stack.enter_context(connect(address)) for _ in range(50)]
        clients[0].sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")  # then nothing more
        for client in clients:
            read_until_closed(client)  # raises TimeoutError if the server kept it open


def test_a_body_over_the_limit_is_refused_from_its_content_length(
    address: tuple[str, int],
) -> None:
    with connect(address) as client:
        client.sendall(
            b"POST /api/eventgrid HTTP/1.1\r\nHost: x\r\nContent-Length: 67108864\r\n\r\n[{"
        )
        answer = read_until_closed(client)  # the 64 MiB body is never sent
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"application/problem+json" in head
    assert b"the limit is 4,096" in body


def test_a_body_within_the_limit_is_still_served(address: tuple[str, int]) -> None:
    body = b'[{"id":"1","eventType":"Microsoft.Communication.IncomingCall","data":{}}]'
    with connect(address) as client:
        client.sendall(
            b"POST /api/eventgrid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert read_until_closed(client).startswith(b"HTTP/1.1 200 ")
