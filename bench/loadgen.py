"""The load generator: a lean HTTP/1.1 keep-alive client on raw asyncio (uvloop when present).

httpx tops out at a few hundred requests/s on this machine, which would measure the
client rather than the gateway. This client pre-builds request bytes, keeps one socket
per worker, parses only the status line, Content-Length and chunked framing, and takes
its timestamps inside ``data_received`` so time spent resuming coroutines is not counted.
For streams it also stamps every event (an NDJSON line or an SSE event) on arrival.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import orjson

HOST = "127.0.0.1"
_now = time.perf_counter

_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILER, _IDLE = range(7)


def build_request(port: int, path: str, body: object | None = None, headers: dict[str, str] | None = None) -> bytes:
    """Complete request bytes, built once and written as-is for every request."""
    payload = b"" if body is None else orjson.dumps(body)
    method = "GET" if body is None else "POST"
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


@dataclass(slots=True)
class Response:
    """One answer with its timings (perf_counter seconds)."""

    status: int = 0
    t_sent: float = 0.0
    t_done: float = 0.0
    body: bytes = b""
    events: list[float] = field(default_factory=list)  # arrival time of each stream event
    error: str | None = None

    @property
    def latency(self) -> float:
        return self.t_done - self.t_sent


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection; one request in flight at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.alive = False
        self._buf = bytearray()
        self._state = _IDLE
        self._remaining = 0
        self._close_after = False
        self._resp: Response | None = None
        self._waiter: asyncio.Future[Response] | None = None
        self._keep = False
        self._parts: list[bytes] = []
        self._delim = b""
        self._tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.alive = True

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        if self._waiter is not None and not self._waiter.done() and self._resp is not None:
            self._resp.error = f"connection lost: {exc or 'closed by peer'}"
            self._resp.t_done = _now()
            self._waiter.set_result(self._resp)
        self._waiter = None

    def request(self, data: bytes, *, keep_body: bool = False, delimiter: bytes = b"") -> asyncio.Future[Response]:
        """Write pre-built request bytes; the future resolves when the whole answer is in."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Response] = loop.create_future()
        resp = Response()
        if not self.alive or self.transport is None:
            resp.error = "not connected"
            waiter.set_result(resp)
            return waiter
        self._waiter, self._resp = waiter, resp
        self._keep, self._parts, self._delim, self._tail = keep_body, [], delimiter, b""
        self._state = _HEAD
        resp.t_sent = _now()
        self.transport.write(data)
        return waiter

    def data_received(self, data: bytes) -> None:  # noqa: C901 - one small state machine
        now = _now()
        buf = self._buf
        buf += data
        while buf:
            state = self._state
            if state == _HEAD:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                self._head(bytes(buf[:end]))
                del buf[: end + 4]
                if self._state == _BODY and self._remaining == 0:
                    self._finish(now)
            elif state in (_BODY, _CHUNK_DATA):
                take = min(len(buf), self._remaining)
                self._body(bytes(buf[:take]), now)
                del buf[:take]
                self._remaining -= take
                if self._remaining:
                    return
                if state == _BODY:
                    self._finish(now)
                else:
                    self._state = _CHUNK_CRLF
            elif state == _CHUNK_SIZE:
                end = buf.find(b"\r\n")
                if end < 0:
                    return
                size = int(bytes(buf[:end]).split(b";")[0], 16)
                del buf[: end + 2]
                self._remaining = size
                self._state = _CHUNK_DATA if size else _TRAILER
            elif state == _CHUNK_CRLF:
                if len(buf) < 2:
                    return
                del buf[:2]
                self._state = _CHUNK_SIZE
            elif state == _TRAILER:
                end = buf.find(b"\r\n")
                if end < 0:
                    return
                del buf[: end + 2]
                if end == 0:
                    self._finish(now)
            else:  # bytes with no request in flight: the server is misbehaving
                buf.clear()

    def _head(self, head: bytes) -> None:
        assert self._resp is not None
        self._resp.status = int(head[9:12])
        length, chunked, self._close_after = 0, False, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                self._close_after = True
        self._remaining = length
        self._state = _CHUNK_SIZE if chunked else _BODY

    def _body(self, chunk: bytes, now: float) -> None:
        if self._keep:
            self._parts.append(chunk)
        if self._delim:
            joined = self._tail + chunk
            assert self._resp is not None
            self._resp.events.extend([now] * joined.count(self._delim))
            self._tail = joined[-(len(self._delim) - 1) :] if len(self._delim) > 1 else b""

    def _finish(self, now: float) -> None:
        resp, waiter = self._resp, self._waiter
        self._state, self._resp, self._waiter = _IDLE, None, None
        if resp is None or waiter is None:
            return
        resp.t_done = now
        if self._keep:
            resp.body = b"".join(self._parts)
        if self._close_after and self.transport is not None:
            self.transport.close()
            self.alive = False
        if not waiter.done():
            waiter.set_result(resp)


async def connect(port: int, host: str = HOST) -> HttpConnection:
    _, conn = await asyncio.get_running_loop().create_connection(HttpConnection, host, port)
    return conn


class Pool:
    """A fixed set of keep-alive connections to one port, reconnecting the ones that die."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conns: list[HttpConnection] = []

    async def grow(self, size: int) -> Pool:
        while len(self.conns) < size:
            self.conns.extend(await asyncio.gather(*(connect(self.port) for _ in range(min(64, size - len(self.conns))))))
        return self

    async def send(self, index: int, data: bytes, *, keep_body: bool = False, delimiter: bytes = b"") -> Response:
        conn = self.conns[index]
        if not conn.alive:
            try:
                conn = self.conns[index] = await connect(self.port)
            except OSError as exc:
                return Response(error=f"connect failed: {exc}", t_sent=_now(), t_done=_now())
        return await conn.request(data, keep_body=keep_body, delimiter=delimiter)

    def close(self) -> None:
        for conn in self.conns:
            if conn.transport is not None:
                conn.transport.close()


@dataclass(slots=True)
class LoadResult:
    """Latencies (seconds) of the answers that were 200, and how many were not."""

    latencies: list[float]
    errors: int
    elapsed: float

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def merge(self, other: LoadResult) -> LoadResult:
        return LoadResult(self.latencies + other.latencies, self.errors + other.errors, self.elapsed + other.elapsed)


async def closed_loop(
    pool: Pool, data: bytes, concurrency: int, *, count: int | None = None, duration: float | None = None
) -> LoadResult:
    """`concurrency` workers, each sending its next request as soon as its last one is answered,
    until `count` requests were sent or `duration` seconds passed."""
    await pool.grow(concurrency)
    latencies: list[float] = []
    errors = 0
    left = count if count is not None else math.inf
    started = _now()
    deadline = started + duration if duration is not None else math.inf
    last = started

    async def worker(index: int) -> None:
        nonlocal left, errors, last
        while left > 0 and _now() < deadline:
            left -= 1
            resp = await pool.send(index, data)
            if resp.status == 200 and resp.error is None:
                latencies.append(resp.t_done - resp.t_sent)
            else:
                errors += 1
            last = max(last, resp.t_done)

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return LoadResult(latencies, errors, last - started)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Iterable[float]) -> float:
    return percentile(list(values), 50)


def loop_factory() -> tuple[Callable[[], asyncio.AbstractEventLoop], str]:
    """uvloop when it is installed, else asyncio's own loop; with its name for the report."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop, "asyncio"
    return uvloop.new_event_loop, "uvloop"
