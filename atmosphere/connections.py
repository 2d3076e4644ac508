"""Inbound connections: a header timeout, a cap on header size, and a cap on connections
below the file-descriptor limit.

uvicorn holds a connection that never sends its request head forever, and accepts
connections until the process runs out of file descriptors; after that every accept
fails and so does every request, silently (measured: 1,100 idle sockets under
``ulimit -n 1024``). This module gives uvicorn's HTTP protocol two limits:

- a connection that has not sent a complete request head ``header_timeout`` seconds after
  it opened (or after its previous response) gets a 408 and is closed;
- a request head larger than ``MAX_HEAD_BYTES`` in all, or with one line (the request line
  or a header) over ``MAX_LINE_BYTES``, gets a 431 with a short JSON body and is closed;
  httptools buffers a header until it ends, so without this a client could send one
  header for ever into the gateway's memory (the backend side is capped the same way);
- at most ``max_connections`` are open: a new one beyond that closes the oldest idle one
  (never sent a request first, then idle keep-alive), so legitimate clients get in while
  a flood of idle sockets does not; with none idle the new one gets a 503.

Each limit is logged when hit (at most once every few seconds, with a count).
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from atmosphere.api import paths

log = logging.getLogger("atmosphere.connections")

_FD_RESERVE = 128  # files, the listening socket, logs, the event loop's own
_MAX_DEFAULT = 32_768
_LOG_EVERY = 5.0  # seconds between two log lines about the same limit
_TIMEOUT_408 = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_CORK_BYTES = 256 * 1024  # a turn that writes more than this sends what it has at once
_BUSY_503 = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\nretry-after: 1\r\n\r\n"
MAX_HEAD_BYTES = 32 * 1024  # the request line and every header of one request, in all
MAX_LINE_BYTES = 16 * 1024  # the request line, or one header's name and value
_TOO_LARGE_MESSAGE = "Request headers too large: at most 32 KiB in all and 16 KiB in one line."


def _response_431(body: dict[str, object]) -> bytes:
    content = json.dumps(body, separators=(",", ":")).encode()
    head = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
    return head + b"content-length: " + str(len(content)).encode() + b"\r\nconnection: close\r\n\r\n" + content


# In the caller's protocol, told by the path (as far as it arrived): Ollama's, Anthropic's, OpenAI's.
_TOO_LARGE_OLLAMA = _response_431({"error": _TOO_LARGE_MESSAGE})
_TOO_LARGE_ANTHROPIC = _response_431({"type": "error", "error": {"type": "invalid_request_error", "message": _TOO_LARGE_MESSAGE}})
_TOO_LARGE_431 = _response_431(
    {
        "error": {
            "message": _TOO_LARGE_MESSAGE,
            "type": "invalid_request_error",
            "param": None,
            "code": "request_headers_too_large",
        }
    }
)


_LINGER_SECONDS = 2.0  # after a 431, how long the rest of the client's head is read and dropped
_LINGER_BYTES = 4 * 1024 * 1024  # ... and how much of it at most


_OLLAMA_TARGET, _ANTHROPIC_TARGET = (paths.OLLAMA + "/").encode(), paths.ANTHROPIC.encode()


def _too_large_for(target: bytes) -> bytes:
    if target.startswith(_OLLAMA_TARGET):
        return _TOO_LARGE_OLLAMA
    if target.startswith(_ANTHROPIC_TARGET):
        return _TOO_LARGE_ANTHROPIC
    return _TOO_LARGE_431


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head past the caps."""


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, target, exc)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def default_max_connections(fd_limit: int) -> int:
    """Half of what the descriptors allow: each client request may hold one upstream socket too."""
    return max(16, min(_MAX_DEFAULT, (fd_limit - _FD_RESERVE) // 2))


class _RateLimitedLog:
    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._count: dict[str, int] = {}

    def warn(self, what: str, message: str, *args: Any) -> None:
        self._count[what] = self._count.get(what, 0) + 1
        now = time.monotonic()
        if now - self._last.get(what, -_LOG_EVERY) >= _LOG_EVERY:
            log.warning(message + " (%d time(s) since the last report)", *args, self._count[what])
            self._last[what] = now
            self._count[what] = 0


class ConnectionLimits:
    """The limits shared by every connection of one server.

    The header timeout is one sweep a fraction of the timeout apart, not a timer per
    request: a request then costs two attribute writes, which the hot path can afford.
    """

    def __init__(self, *, max_connections: int, header_timeout: float):
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.open: dict[GuardedHttpProtocol, None] = {}  # insertion order: oldest first
        self.report = _RateLimitedLog()
        self._sweeping = False

    def admit(self, newcomer: GuardedHttpProtocol) -> bool:
        """Make room for ``newcomer``; False when every other connection is busy."""
        self.open[newcomer] = None
        if not self._sweeping:
            self._sweeping = True
            newcomer.loop.call_later(self._sweep_interval, self._sweep, newcomer.loop)
        if len(newcomer.connections) <= self.max_connections:
            return True
        victim = self._idle_victim(newcomer)
        if victim is None:
            self.report.warn("busy", "connection limit of %d reached with none idle: refused a new one", self.max_connections)
            return False
        self.report.warn("evict", "connection limit of %d reached: closed the oldest idle connection", self.max_connections)
        victim.transport.close()
        return True

    def _idle_victim(self, newcomer: GuardedHttpProtocol) -> GuardedHttpProtocol | None:
        keep_alive = None
        for connection in self.open:
            if connection is newcomer or connection.transport.is_closing():
                continue
            # uvicorn types ``cycle`` as always set, but it is None until a request arrives.
            cycle: Any = connection.cycle
            if cycle is None:
                return connection  # opened and never sent a request: the cheapest to lose
            if keep_alive is None and cycle.response_complete and not connection.pipeline:
                keep_alive = connection
        return keep_alive

    @property
    def _sweep_interval(self) -> float:
        return min(1.0, self.header_timeout / 4)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close every connection whose request head is overdue; runs while any is open."""
        deadline = loop.time() - self.header_timeout
        for connection in [c for c in self.open if c.head_since is not None and c.head_since < deadline]:
            connection.head_too_slow()
        if self.open:
            loop.call_later(self._sweep_interval, self._sweep, loop)
        else:
            self._sweeping = False


class CorkedTransport:
    """A client connection's transport whose writes within one turn of the event loop leave
    as one: a response head and its body, or the events of a stream that the backend sent
    in one read, cost one socket write instead of one each (a write is a system call and a
    TCP segment). Nothing waits for more: the writes go out as soon as the code that made
    them yields to the loop, before the loop next polls for I/O."""

    __slots__ = ("raw", "_loop", "_pending", "_size")

    def __init__(self, raw: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.raw = raw
        self._loop = loop
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)
        self._size += len(data)
        if self._size >= _CORK_BYTES:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending.clear()
            self._size = 0
            if not self.raw.is_closing():
                self.raw.write(data)

    def is_closing(self) -> bool:
        return self.raw.is_closing()

    def close(self) -> None:
        self.flush()
        self.raw.close()

    def write_eof(self) -> None:
        self.flush()  # what was written goes before the end
        self.raw.write_eof()

    def abort(self) -> None:
        self._pending.clear()
        self.raw.abort()

    def __getattr__(self, name: str) -> Any:  # everything else is the real transport's
        return getattr(self.raw, name)


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with ``ConnectionLimits`` applied and its writes corked
    (``CorkedTransport``)."""

    limits: ConnectionLimits  # set on the subclass that ``protocol_class`` makes
    # When the request head now awaited began (connection opened, or the next request's
    # first byte); None while a request is being served or the connection is idle kept-alive.
    head_since: float | None = None
    # Bytes fed to the parser since the head now awaited began (counted before parsing, as
    # a header still open is buffered by httptools), and the head's lines as parsed.
    _in_head = True
    _fed = 0
    _parsed = 0
    _discarding = 0  # after a 431: bytes read and dropped while the client finishes sending

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CorkedTransport(transport, self.loop))  # type: ignore[arg-type]
        self.head_since = self.loop.time()
        if not self.limits.admit(self):
            transport.write(_BUSY_503)
            transport.close()

    def data_received(self, data: bytes) -> None:
        """uvicorn's, with the head caps: its own answers any parser error with a 400."""
        if self._discarding:
            self._discarding += len(data)
            if self._discarding > _LINGER_BYTES:
                self.transport.close()
            return
        if self._in_head:
            self._fed += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _HeadTooLarge):
                self._refuse_head()
                return
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        # Still in the head after all of it was fed: every byte was head.
        if self._in_head and self._fed > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._parsed = True, 0
        if self.head_since is None:  # the next request on a kept-alive connection
            self.head_since = self.loop.time()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._parsed += len(url)
        if len(self.url) > MAX_LINE_BYTES:
            raise _HeadTooLarge

    def on_header(self, name: bytes, value: bytes) -> None:
        line = len(name) + len(value) + 4
        self._parsed += line
        if line > MAX_LINE_BYTES or self._parsed > MAX_HEAD_BYTES:
            raise _HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.head_since = None
        self._in_head, self._fed = False, 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._fed = True, 0  # what follows is the next request's head

    def _refuse_head(self) -> None:
        self.head_since = None
        self._in_head = False
        if self.transport.is_closing():
            return
        self.limits.report.warn(
            "large",
            "refused a request head over %d KiB (or a line over %d KiB): 431",
            MAX_HEAD_BYTES // 1024,
            MAX_LINE_BYTES // 1024,
        )
        # A lingering close: closing with the client's bytes unread would reset the connection,
        # and the client's kernel would drop the 431 before the client read it.
        self.transport.write(_too_large_for(getattr(self, "url", b"") or b""))
        self._discarding = 1
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(_LINGER_SECONDS, self.transport.close)

    def handle_websocket_upgrade(self) -> None:
        # The socket is the WebSocket protocol's from here on; this object is done with it.
        self.limits.open.pop(self, None)
        corked: Any = self.transport
        if isinstance(corked, CorkedTransport):
            corked.flush()
            self.transport = corked.raw  # the WebSocket protocol writes uncorked
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self.limits.open.pop(self, None)
        super().connection_lost(exc)

    def head_too_slow(self) -> None:
        self.head_since = None
        if self.transport.is_closing():
            return
        self.limits.report.warn(
            "head", "closed a connection that sent no complete request head within %gs", self.limits.header_timeout
        )
        self.transport.write(_TIMEOUT_408)
        self.transport.close()


def protocol_class(*, max_connections: int, header_timeout: float) -> type[GuardedHttpProtocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` with these limits."""
    limits = ConnectionLimits(max_connections=max_connections, header_timeout=header_timeout)
    return type("AtmosphereHttpProtocol", (GuardedHttpProtocol,), {"limits": limits})


def uvicorn_limits(*, max_connections: int, header_timeout: float) -> dict[str, Any]:
    """uvicorn options that apply the limits; raises the fd limit first (0 = derive the cap from it)."""
    fd_limit = raise_fd_limit()
    cap = max_connections or default_max_connections(fd_limit)
    log.info("at most %d open connections (open-file limit %d); request heads within %gs", cap, fd_limit, header_timeout)
    return {"http": protocol_class(max_connections=cap, header_timeout=header_timeout)}
