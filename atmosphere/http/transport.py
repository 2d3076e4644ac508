"""A lean HTTP/1.1 keep-alive connection pool, plugged into httpx as its transport.

Why not httpx's own transport: measured on this 2-core machine (bench/NOTES.md),
httpx over httpcore/anyio tops out near 500 requests/s at 32 concurrent requests
with a p99 over 200 ms, and an aiohttp pool adds ~9 MB of resident memory. This
pool speaks HTTP/1.1 over asyncio protocols with httptools' C parser (already
loaded by uvicorn), so the gateway's own upstream cost stays small. Adapters keep
httpx's API (and respx in unit tests); errors surface as the httpx exception types
the adapters already classify.

Scope, on purpose: one origin per pool (each backend has its own client), no
proxies, no HTTP/2, no request-body streaming (bodies are bytes).

Contract for callers (what httpx's ``AsyncClient.send(..., stream=True)`` relays):
the returned response holds one connection until its stream is read to the end or
closed (``await response.aclose()``); close it in a ``finally``. A connection goes
back to the pool only when its answer was complete; on anything else (an error, a
cancellation at any stage, a body left unread mid-way) it is closed, never reused,
as httpcore does. Timeouts: ``pool`` bounds the wait for a free slot, ``connect``
the TCP and TLS handshake, ``read`` each wait for more bytes (an idle timer: a
deadline for the whole exchange is the caller's, see ``client.py``).
"""

from __future__ import annotations

import asyncio
import collections
import os
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any, overload

import httptools
import httpx

_PAUSE_AT = 1 << 20  # stop reading from a backend that is far ahead of its consumer
MAX_HEADER_BYTES = 64 * 1024  # the status line and every header, in all
_DROPPED_HEADERS = frozenset({b"connection", b"keep-alive", b"accept-encoding", b"user-agent", b"transfer-encoding"})


class ExplainedError(httpx.TransportError):
    """A transport error whose message is fit to show as the reason (no secrets, no traceback)."""


class CertificateError(ExplainedError, httpx.ConnectError):
    """The backend's TLS certificate is not trusted (or the TLS handshake failed)."""


class ConnectFailed(ExplainedError, httpx.ConnectError):
    """No TCP connection: refused, unreachable, no such host."""


class HeadersTooLarge(ExplainedError, httpx.RemoteProtocolError):
    """The backend sent more response head than ``MAX_HEADER_BYTES``."""


def tls_context(ca_bundle: Path | None = None) -> ssl.SSLContext:
    """Verify backends against the system trust store, plus a private CA bundle when given.

    ``ATMOSPHERE_CA_BUNDLE`` is for a backend behind a company or home-lab CA: the
    system's roots stay trusted too, so public backends keep working.
    """
    context = ssl.create_default_context()
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context


class _ConnectionLost(Exception):
    """The backend closed the connection; ``before_response`` when nothing came back."""

    def __init__(self, before_response: bool):
        super().__init__("connection closed by the integration")
        self.before_response = before_response


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request/response at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._reset(head_request=False)

    def _reset(self, head_request: bool) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.status = 0
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.got_bytes = False
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.error: Exception | None = None
        self._head_bytes = 0  # raw bytes received before the head was complete
        self._header_bytes = 0  # the parsed headers' own size (a head and body in one read)
        self._head_request = head_request

    # --- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        if not self.headers_done:
            # Counted before parsing: httptools buffers a header until it ends, so a
            # header that never ends would otherwise grow without bound.
            self._head_bytes += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.error is None and not self.headers_done and self._head_bytes > MAX_HEADER_BYTES:
                self.error = HeadersTooLarge(f"the integration's response headers exceed {MAX_HEADER_BYTES // 1024} KiB")
            elif self.error is None:
                self.error = httpx.RemoteProtocolError(f"invalid HTTP response from the integration: {exc}")
        if self.error is None and not self.headers_done and self._head_bytes > MAX_HEADER_BYTES:
            self.error = HeadersTooLarge(f"the integration's response headers exceed {MAX_HEADER_BYTES // 1024} KiB")
        if self.error is not None and not self.closed:
            self.close()
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete and self.error is None:
            self.error = _ConnectionLost(before_response=not self.got_bytes)
        self._wake()

    # --- httptools callbacks ---------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))
        self._header_bytes += len(name) + len(value) + 4

    def on_headers_complete(self) -> None:
        if self._header_bytes > MAX_HEADER_BYTES:
            self.error = HeadersTooLarge(f"the integration's response headers exceed {MAX_HEADER_BYTES // 1024} KiB")
            return  # data_received closes the connection once the parser returns
        status = self._parser.get_status_code()
        if status < 200:
            self.headers = []  # 1xx (103 Early Hints, 100 Continue): the real answer follows
            return
        self.status = status
        self.headers_done = True
        if self._head_request:
            # An answer to HEAD has no body whatever its Content-Length says; the parser
            # cannot know that, so the message ends here (a fresh parser serves the next).
            self.keep_alive = self._parser.should_keep_alive()
            self.complete = True

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return  # bytes after a HEAD answer: not ours to deliver
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _PAUSE_AT and self.transport is not None and not self._paused:
            self._paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if not self.headers_done or self.complete:
            return  # the end of a 1xx, or of a HEAD answer already complete
        # Ask now: once the message is complete the parser resets and always says False.
        self.keep_alive = self._parser.should_keep_alive()
        self.complete = True

    # --- used by the pool ------------------------------------------------------------

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self, timeout: float | None) -> None:
        """Until more of the response arrived (or the connection ended)."""
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await self._waiter
        finally:
            self._waiter = None

    def take(self) -> bytes:
        data = b"".join(self.chunks) if len(self.chunks) > 1 else self.chunks[0]
        self.chunks.clear()
        self.buffered = 0
        self._resume()
        return data

    def _resume(self) -> None:
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()

    def recycle(self) -> None:
        """Ready for the next request: unread chunks of a complete answer dropped, reading on.

        Without the resume, a connection paused mid-body (an answer over 1 MiB whose
        last bytes arrived with the pause) would wait forever for its next answer.
        """
        self.chunks.clear()
        self.buffered = 0
        self._resume()

    def send(self, payload: bytes, head_request: bool) -> None:
        self._reset(head_request)
        self._parser = httptools.HttpResponseParser(self)
        assert self.transport is not None
        self.transport.write(payload)

    @property
    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.closed and self.error is None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _Body(httpx.AsyncByteStream):
    """Response body chunks as they arrive; returns the connection to the pool at the end."""

    def __init__(self, pool: PooledTransport, conn: _Connection, request: httpx.Request | None, timeout: float | None):
        self._pool = pool
        self._conn = conn
        self._request = request
        self._timeout = timeout
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while True:
            if conn.chunks:
                yield conn.take()
                continue
            if conn.complete:
                return
            if conn.error is not None:
                raise _as_httpx_error(conn.error, self._request, mid_response=True)
            try:
                await conn.wait(self._timeout)
            except TimeoutError:
                raise httpx.ReadTimeout("timed out reading the response", request=self._request) from None

    async def aclose(self) -> None:
        if not self._done:
            self._done = True
            self._pool.release(self._conn)


class RawHeaders:
    """A response's headers as the backend sent them; ``get`` as ``httpx.Headers.get`` answers."""

    __slots__ = ("raw",)

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.raw = raw

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower().encode("latin-1")
        values = [value.decode("latin-1") for key, value in self.raw if key.lower() == wanted]
        return ", ".join(values) if values else default


class RawAnswer:
    """An answer on the pool without an ``httpx.Response`` around it: the part of one the
    adapters read (status, headers, the body as it comes), for the hot path (``client.open_post``).
    Building the httpx object, its header normalisation and its decoder chain per chunk
    was ~5 % of a stream's CPU (bench/NOTES.md)."""

    __slots__ = ("status_code", "headers", "extensions", "_body")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: _Body, extensions: dict[str, Any]) -> None:
        self.status_code = status
        self.headers = RawHeaders(headers)
        self.extensions = extensions
        self._body = body

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        return self._body.__aiter__()

    async def aread(self) -> bytes:
        parts = [part async for part in self._body]
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def aclose(self) -> None:
        await self._body.aclose()


def _encoded(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the body is compressed (a backend may do it unasked): httpx decodes that, we do not."""
    return any(key.lower() == b"content-encoding" and value.strip().lower() != b"identity" for key, value in headers)


class PooledTransport(httpx.AsyncBaseTransport):
    """Keep-alive connections to one origin, at most ``max_connections`` at once."""

    def __init__(
        self,
        *,
        max_connections: int = 512,
        keepalive_limit: int = 128,
        ssl_context: ssl.SSLContext | Callable[[], ssl.SSLContext] | None = None,
        extensions: dict[str, Any] | None = None,
        peer_check: Callable[[str, str], str | None] | None = None,
    ):
        self._limit = asyncio.Semaphore(max_connections)
        # (host as written, address connected to) → why that address is refused, or None:
        # a name that resolves to a cloud metadata address is caught here (host_policy.py).
        self._peer_check = peer_check
        self._idle: collections.deque[_Connection] = collections.deque()
        self._keepalive_limit = keepalive_limit
        # A callable is asked on the first https:// connection only: the trust store costs
        # ~2 MB and ~20 ms, which a plain-http install should not pay.
        self._ssl_source = ssl_context
        self._ssl: ssl.SSLContext | None = ssl_context if isinstance(ssl_context, ssl.SSLContext) else None
        # Handed on with every response (e.g. the process-wide buffer budget, client.py).
        self._extensions = {"http_version": b"HTTP/1.1", **(extensions or {})}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        payload = _serialize(request, await request.aread())
        timeouts = request.extensions.get("timeout", {})
        response = await self.send_bytes(request.url, payload, timeouts, request.method == "HEAD", request)
        assert isinstance(response, httpx.Response)  # noqa: S101 - raw=False
        return response

    async def send_bytes(
        self,
        url: httpx.URL,
        payload: bytes,
        timeouts: Mapping[str, float | None],
        head: bool = False,
        request: httpx.Request | None = None,
        raw: bool = False,
    ) -> httpx.Response | RawAnswer:
        """Send a request already serialised (``payload``: head and body) to ``url``'s origin.

        The adapters' hot path calls this directly with a pre-encoded head (client.py), so
        a request pays neither httpx's request building nor its client layer; ``request``
        is only what the errors name, when there is one. ``raw``: a ``RawAnswer`` unless the
        body is compressed (then, as always, an ``httpx.Response``, which decodes it)."""
        await self._acquire(request, timeouts.get("pool"))
        conn: _Connection | None = None
        try:
            conn, reused = await self._connect(url, request, timeouts.get("connect"))
            try:
                await self._send(conn, payload, head, request, timeouts.get("read"))
            except _ConnectionLost as lost:
                if not (reused and lost.before_response):
                    raise _as_httpx_error(lost, request) from None
                # The backend closed an idle keep-alive connection as we used it: nothing
                # was processed, so one retry on a fresh connection is safe.
                conn = None
                conn, _ = await self._connect(url, request, timeouts.get("connect"), fresh=True)
                try:
                    await self._send(conn, payload, head, request, timeouts.get("read"))
                except _ConnectionLost as again:
                    raise _as_httpx_error(again, request) from None
        except BaseException:
            # Cancellation included: a connection mid-exchange is never reused or leaked.
            if conn is not None:
                conn.close()
            self._limit.release()
            raise
        if raw and not _encoded(conn.headers):
            return RawAnswer(conn.status, conn.headers, _Body(self, conn, request, timeouts.get("read")), self._extensions)
        return httpx.Response(
            status_code=conn.status,
            headers=conn.headers,
            stream=_Body(self, conn, request, timeouts.get("read")),
            extensions=self._extensions,
            request=request,
        )

    async def _acquire(self, request: httpx.Request | None, timeout: float | None) -> None:
        if not self._limit.locked():
            await self._limit.acquire()  # free slot: no timer to arm
            return
        try:
            async with asyncio.timeout(timeout):
                await self._limit.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout(f"no free connection to the integration within {timeout:g}s", request=request) from None

    async def _send(
        self, conn: _Connection, payload: bytes, head: bool, request: httpx.Request | None, timeout: float | None
    ) -> None:
        conn.send(payload, head)
        while not conn.headers_done:
            if conn.error is not None:
                if isinstance(conn.error, _ConnectionLost):
                    raise conn.error
                raise _as_httpx_error(conn.error, request)
            try:
                await conn.wait(timeout)
            except TimeoutError:
                conn.close()
                raise httpx.ReadTimeout("timed out waiting for the response", request=request) from None

    async def _connect(
        self, url: httpx.URL, request: httpx.Request | None, timeout: float | None, fresh: bool = False
    ) -> tuple[_Connection, bool]:
        while self._idle and not fresh:
            conn = self._idle.pop()
            if not conn.closed:
                return conn, True
        secure = url.scheme == "https"
        if secure and self._ssl is None:
            source = self._ssl_source
            self._ssl = source() if callable(source) else tls_context()
        loop = asyncio.get_running_loop()
        port = url.port or (443 if secure else 80)
        where = f"{url.host}:{port}"
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(_Connection, url.host, port, ssl=self._ssl if secure else None)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"no connection to {where} within {timeout}s", request=request) from None
        except ssl.SSLCertVerificationError as exc:
            detail = exc.verify_message or exc.reason or "verification failed"
            raise CertificateError(
                f"TLS certificate of {where} not trusted ({detail}); set ATMOSPHERE_CA_BUNDLE for a private CA",
                request=request,
            ) from None
        except ssl.SSLError as exc:
            raise CertificateError(f"TLS handshake with {where} failed ({exc.reason or exc})", request=request) from None
        except OSError as exc:
            raise ConnectFailed(f"cannot connect to {where}: {_connect_error(exc)}", request=request) from None
        if self._peer_check is not None:
            peer = conn.transport.get_extra_info("peername") if conn.transport is not None else None
            refused = self._peer_check(url.host, str(peer[0])) if peer else None
            if refused is not None:
                conn.close()  # before a byte of the request is sent
                raise ConnectFailed(f"refused to connect to {where}: {refused}", request=request)
        return conn, False

    def release(self, conn: _Connection) -> None:
        self._limit.release()
        if conn.reusable and len(self._idle) < self._keepalive_limit:
            conn.recycle()
            self._idle.append(conn)
        else:
            conn.close()

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop().close()


def _connect_error(exc: OSError) -> str:
    """``Connection refused``, not asyncio's ``Connect call failed ('127.0.0.1', 14345)``: the
    card and the attempts name the host already. A name that does not resolve keeps its words."""
    if isinstance(exc, socket.gaierror) or not exc.errno or exc.errno < 0:
        return str(exc.strerror or exc)
    return os.strerror(exc.errno)


def _serialize(request: httpx.Request, body: bytes) -> bytes:
    target = request.url.raw_path
    lines = [request.method.encode() + b" " + target + b" HTTP/1.1"]
    for name, value in request.headers.raw:
        if name.lower() not in _DROPPED_HEADERS:
            lines.append(name + b": " + value)
    if body and b"content-length" not in (name.lower() for name, _ in request.headers.raw):
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _as_httpx_error(error: Exception, request: httpx.Request | None, mid_response: bool = False) -> Exception:
    if isinstance(error, httpx.HTTPError):
        if request is not None:
            error.request = request
        return error
    where = "mid-response" if mid_response else "before answering"
    return httpx.RemoteProtocolError(f"the integration closed the connection {where}", request=request)
