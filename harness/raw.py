"""An HTTP/1.1 server on raw asyncio sockets whose every byte a test or a hostile backend scripts.

uvicorn cannot send a header that never ends, trickle a status line, or keep a body
paused mid-way; this can. It reads each request (head and ``Content-Length`` body) and
hands it to ``handler(request, writer)``, which writes whatever it likes; the connection
is kept for the next request unless the handler returns ``False`` (close it) or the
client leaves. Every connection is counted and its end can be awaited, so tests can
prove a socket was closed or reused instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

HOST = "127.0.0.1"


@dataclass(slots=True)
class RawRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int  # which connection (1 = the first accepted) carried it


Handler = Callable[[RawRequest, asyncio.StreamWriter], Awaitable[bool | None]]


@dataclass
class _Stats:
    accepted: int = 0
    open: int = 0
    requests: list[RawRequest] = field(default_factory=list)


class RawServer:
    """Serve ``handler`` on 127.0.0.1 in the running event loop (port 0 picks a free one)."""

    def __init__(self, handler: Handler, *, ssl_context: ssl.SSLContext | None = None, port: int = 0) -> None:
        self.handler = handler
        self.port = port
        self._ssl = ssl_context
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._changed = asyncio.Condition()
        self.stats = _Stats()

    @property
    def url(self) -> str:
        return f"{'https' if self._ssl else 'http'}://{HOST}:{self.port}"

    async def start(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, HOST, self.port, ssl=self._ssl, limit=1 << 20)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> RawServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def wait_for(self, predicate: Callable[[_Stats], bool], timeout: float = 5.0) -> None:
        """Until ``predicate(stats)`` holds (e.g. ``lambda s: s.open == 0``)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: predicate(self.stats))

    async def _answer(
        self, request: RawRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[bool | None, bytes | None]:
        """Run the handler while watching the socket: a client that leaves cancels it (as a
        real server notices), so a hanging handler never outlives its connection. Returns
        the handler's verdict and the first byte of the next request (None: the client left)."""
        handling = asyncio.ensure_future(self.handler(request, writer))
        watching = asyncio.ensure_future(reader.read(1))
        try:
            await asyncio.wait({handling, watching}, return_when=asyncio.FIRST_COMPLETED)
            if not handling.done() and watching.result() == b"":
                handling.cancel()
                await asyncio.gather(handling, return_exceptions=True)
                return False, None
            keep = await handling
            await writer.drain()
            if keep is False:
                return False, None
            return keep, await watching or None
        finally:
            for task in (handling, watching):
                if not task.done():
                    task.cancel()
            await asyncio.gather(handling, watching, return_exceptions=True)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.accepted += 1
        self.stats.open += 1
        number = self.stats.accepted
        self._writers.add(writer)
        await self._notify()
        try:
            first = b""
            while True:
                request = await _read_request(reader, number, first)
                if request is None:
                    break
                self.stats.requests.append(request)
                await self._notify()
                keep, first = await self._answer(request, reader, writer)
                if keep is False or first is None:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, asyncio.CancelledError):
            # CancelledError: the server is stopping; this connection task just ends.
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            self.stats.open -= 1
            await self._notify()


async def _read_request(reader: asyncio.StreamReader, connection: int, first: bytes) -> RawRequest | None:
    try:
        head = first + await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    body = await reader.readexactly(length) if length else b""
    return RawRequest(method, path, headers, body, connection)


def response(status: int, body: bytes = b"", headers: dict[str, str] | None = None, reason: str = "OK") -> bytes:
    """A complete HTTP/1.1 answer with Content-Length."""
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(parts: list[bytes], trailers: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> bytes:
    """A 200 answer in chunked transfer encoding, with optional trailers."""
    lines = ["HTTP/1.1 200 OK", "Transfer-Encoding: chunked"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    out = ("\r\n".join(lines) + "\r\n\r\n").encode()
    for part in parts:
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    out += b"0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in (trailers or {}).items()).encode() + b"\r\n"
    return out
