"""The gateway's connections send the writes of one event-loop turn together (connections.py),
and never hold a write back waiting for more."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

from atmosphere.connections import uvicorn_limits
from atmosphere.standins.server import EmulatorServer


class _Stepped:
    """An ASGI app streaming ``first`` at once, then ``second`` only when ``release`` is set."""

    def __init__(self) -> None:
        self.release: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        self.loop = asyncio.get_running_loop()
        self.release = asyncio.Event()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"first;", "more_body": True})
        await send({"type": "http.response.body", "body": b"also-first;", "more_body": True})
        await self.release.wait()
        await send({"type": "http.response.body", "body": b"second", "more_body": False})


def _read_until(sock: socket.socket, marker: bytes, timeout: float) -> bytes:
    sock.settimeout(timeout)
    got = b""
    deadline = time.monotonic() + timeout
    while marker not in got and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def test_a_streamed_part_reaches_the_client_while_the_stream_waits_for_the_next() -> None:
    app = _Stepped()
    protocol = uvicorn_limits(max_connections=64, header_timeout=10)["http"]
    with EmulatorServer(app, http=protocol) as server, socket.create_connection((server.host, server.port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        early = _read_until(sock, b"also-first;", timeout=5)
        assert early.startswith(b"HTTP/1.1 200 ")
        assert b"first;" in early and b"also-first;" in early  # sent before the app waited
        assert b"second" not in early
        assert app.loop is not None and app.release is not None
        app.loop.call_soon_threadsafe(app.release.set)
        rest = _read_until(sock, b"0\r\n\r\n", timeout=5)
        assert b"second" in rest and rest.endswith(b"0\r\n\r\n")  # the chunked body ends properly
