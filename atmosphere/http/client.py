"""HTTP client plumbing the adapters share: pooled clients, capped reads, line splitting,
and the classifiers that turn transport errors and statuses into ``BackendFailure``s.

Adapters keep only their dialect; every failure leaves them as a ``BackendFailure``
with a readable reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import httpx

from atmosphere import jsonfast
from atmosphere.errors import BackendFailure
from atmosphere.http.budget import BudgetExceeded, BufferBudget
from atmosphere.http.transport import ExplainedError, PooledTransport, RawAnswer

TransportFactory = Callable[[], httpx.AsyncBaseTransport]
Answer = httpx.Response | RawAnswer  # an answer being read: httpx's, or our pool's own on the hot path


def make_client(
    base_url: str, request_timeout: float, *, transport_factory: TransportFactory | None = None, max_connections: int = 512
) -> httpx.AsyncClient:
    """One pooled client per backend, kept for the life of the service.

    The service passes a factory of ``PooledTransport`` (see transport.py for why);
    without one, httpx's own transport is used (and respx can mock it in unit tests).
    ``trust_env=False``: a local backend must never be reached through a proxy from
    the environment, and skipping the lookup keeps per-request work down.
    """
    return httpx.AsyncClient(
        base_url=base_url,
        transport=transport_factory() if transport_factory else None,
        timeout=httpx.Timeout(request_timeout, connect=min(5.0, request_timeout)),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
        ),
        trust_env=False,
        follow_redirects=False,
    )


def failure_from_exception(exc: Exception, what: str) -> BackendFailure:
    """Turn an httpx transport error into a BackendFailure with a short reason."""
    if isinstance(exc, ExplainedError):  # the pool's own errors say exactly what happened
        return BackendFailure(f"{what}: {exc}", kind="unreachable" if isinstance(exc, httpx.ConnectError) else "error")
    if isinstance(exc, httpx.PoolTimeout):
        return BackendFailure(f"{what}: every connection to the integration is busy", kind="timeout")
    if isinstance(exc, httpx.ConnectTimeout):
        return BackendFailure(f"{what}: connection timed out", kind="unreachable")
    if isinstance(exc, httpx.ConnectError):
        return BackendFailure(f"{what}: connection refused or unreachable", kind="unreachable")
    if isinstance(exc, httpx.TimeoutException):
        return BackendFailure(f"{what}: timed out waiting for the integration", kind="timeout")
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return BackendFailure(f"{what}: connection closed unexpectedly", kind="error")
    if isinstance(exc, BackendFailure):
        return exc
    return BackendFailure(f"{what}: {type(exc).__name__}: {exc}", kind="error")


def error_text(body: bytes, limit: int = 300) -> str:
    """The message inside any of the error bodies our backends send, else the raw text."""
    try:
        data = jsonfast.loads(body)
    except jsonfast.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        return (text[:limit] + "…") if len(text) > limit else (text or "empty body")
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(data.get("message"), str):
            return f"{err}: {data['message']}" if isinstance(err, str) else data["message"]
        if isinstance(err, str):
            return err
        if "detail" in data:
            detail = data["detail"]
            if isinstance(detail, list) and detail and isinstance(detail[0], dict):
                return "; ".join(str(d.get("msg", d)) for d in detail)
            return str(detail)
    return str(data)[:limit]


def failure_from_status(status: int, body: bytes, what: str, retry_after: float | None = None) -> BackendFailure:
    """Classify a non-2xx answer: which ones another backend might serve better."""
    message = f"{what}: HTTP {status}: {error_text(body)}"
    if status in (404, 405, 408, 429) or status >= 500:
        # Not served here (no such model or route), busy, or broken: another backend may do better.
        return BackendFailure(message, kind="error", status=status, retry_after=retry_after)
    # Other 4xx: the request itself is wrong; another backend would refuse it too.
    return BackendFailure(message, kind="error", retryable=False, status=status)


async def failure_from_response(resp: Answer, what: str) -> BackendFailure:
    """``failure_from_status`` for an answer still open (a stream that did not start)."""
    return failure_from_status(resp.status_code, await read_capped(resp, what, MAX_PROBE_BYTES), what, retry_after(resp))


def parse_json_object(body: bytes, what: str) -> dict[str, Any]:
    """A JSON object or a BackendFailure: HTML or garbage means 'not what we expected'."""
    try:
        data = jsonfast.loads(body)
    except jsonfast.JSONDecodeError:
        raise BackendFailure(f"{what}: answered with something that is not JSON", kind="error") from None
    if not isinstance(data, dict):
        raise BackendFailure(f"{what}: answered JSON that is not an object", kind="error")
    return data


BUDGET_EXTENSION = "atmosphere.buffer_budget"  # how the pool hands the process-wide budget on
_PARSED_TOO = 2

# A backend that babbles (an endless or huge body) must not fill the gateway's memory.
MAX_ANSWER_BYTES = 64 * 1024 * 1024
MAX_PROBE_BYTES = 8 * 1024 * 1024  # model and project lists are kilobytes


def open_answer(client: httpx.AsyncClient, request: httpx.Request, what: str) -> contextlib.AbstractAsyncContextManager[Answer]:
    """Send a request and hold its answer open for reading. Transport errors, also while
    reading, leave as BackendFailures, and the answer is always closed."""
    return _held(client.send(request, stream=True), what)


def open_post(
    client: httpx.AsyncClient, path: str, content: bytes, headers: Mapping[str, str], what: str
) -> contextlib.AbstractAsyncContextManager[Answer]:
    """``open_answer`` for a POST of ``content``: on our pool, sent as bytes with a
    pre-encoded head (the hot path); on any other transport (respx in tests), through httpx."""
    fast = _fast_post(client, path, content, headers)
    if fast is None:
        return open_answer(client, client.build_request("POST", path, content=content, headers=headers), what)
    return _held(fast, what)


# --- the hot path: our pool called directly -------------------------------------------
# httpx's client layer (request building, URL merging, cookie extraction, auth and redirect
# steps) was ~35 % of the gateway's CPU per plain chat (bench/NOTES.md); a POST of JSON to
# a backend needs none of it. The head up to Content-Length is encoded once per path.

_HEADS: dict[tuple[int, str], tuple[httpx.AsyncClient, bytes]] = {}  # the client is held: its id stays its own
_SAFE_PATH = re.compile(r"/[A-Za-z0-9/._~:@!$&'()*+,;=%-]*")  # sent as-is: nothing to percent-encode
_HTTPX_DEFAULTS = frozenset({"accept", "accept-encoding", "connection", "user-agent"})


def _fast_post(client: httpx.AsyncClient, path: str, content: bytes, headers: Mapping[str, str]) -> Awaitable[Answer] | None:
    pool = getattr(client, "_transport", None)
    if not isinstance(pool, PooledTransport):
        return None
    key = (id(client), path)
    cached = _HEADS.get(key)
    if cached is not None and cached[0] is client:
        head = cached[1]
    else:
        if not _SAFE_PATH.fullmatch(path) or not _HTTPX_DEFAULTS.issuperset(client.headers.keys()) or client.cookies:
            return None
        base = client.base_url
        target = base.raw_path.rstrip(b"/") + path.encode()
        head = b"POST " + target + b" HTTP/1.1\r\nHost: " + base.netloc + b"\r\nAccept: */*\r\nContent-Length: "
        if len(_HEADS) >= 1024:
            _HEADS.clear()  # clients come and go with the hosts: never a leak
        _HEADS[key] = (client, head)
    extra = "".join(f"\r\n{name}: {value}" for name, value in headers.items())
    if extra.count("\n") != len(headers) or "\r" in extra.replace("\r\n", ""):
        return None  # a line break inside a header: httpx refuses it properly
    try:
        encoded = extra.encode("latin-1")
    except UnicodeEncodeError:
        return None
    payload = head + str(len(content)).encode() + encoded + b"\r\n\r\n" + content
    return pool.send_bytes(client.base_url, payload, client.timeout.as_dict(), raw=True)


@contextlib.asynccontextmanager
async def _held(sending: Awaitable[Answer], what: str) -> AsyncIterator[Answer]:
    try:
        resp = await sending
    except Exception as exc:  # noqa: BLE001 - every transport error becomes a reason
        raise failure_from_exception(exc, what) from None
    try:
        yield resp
    except BackendFailure:
        raise
    except Exception as exc:  # noqa: BLE001
        raise failure_from_exception(exc, what) from None
    finally:
        await resp.aclose()


async def read_capped(resp: Answer, what: str, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """The whole answer body, refusing one over ``limit`` bytes or over the process-wide
    buffer budget (which the pool hands on with its responses, see budget.py)."""
    budget: BufferBudget | None = resp.extensions.get(BUDGET_EXTENSION)
    # Bytes become parsed objects about as large right after the read: each counts twice.
    declared = resp.headers.get("content-length")
    known = int(declared) if declared is not None and declared.isdigit() else None
    if known is not None and known > limit:
        raise BackendFailure(f"{what}: answer is larger than {limit} bytes", kind="error")
    held = 0
    try:
        if known is not None:
            if budget is not None:
                budget.reserve(_PARSED_TOO * known)
                held = _PARSED_TOO * known
            return await resp.aread()  # the common case: one read, no accounting per part
        parts, size = [], 0
        async for part in resp.aiter_bytes():
            size += len(part)
            if size > limit:
                raise BackendFailure(f"{what}: answer is larger than {limit} bytes", kind="error")
            if budget is not None:
                budget.reserve(_PARSED_TOO * len(part))
                held += _PARSED_TOO * len(part)
            parts.append(part)
        return b"".join(parts)
    except BudgetExceeded as exc:
        raise BackendFailure(f"{what}: {exc}", kind="error") from None
    finally:
        if budget is not None and held:
            budget.release(held)


async def _exchange(
    answer: contextlib.AbstractAsyncContextManager[Answer],
    deadline: float | None,
    what: str,
    limit: int = MAX_ANSWER_BYTES,
) -> tuple[int, bytes, float | None]:
    """Status, body and Retry-After of one exchange, within one deadline for all of it.

    The pool's read timeout restarts with every byte; a backend trickling a byte a second
    would hold the request forever without this deadline (the request's read timeout,
    ``ATMOSPHERE_REQUEST_TIMEOUT`` for work, the probe timeout for probes).
    """
    try:
        async with asyncio.timeout(deadline):
            async with answer as resp:
                return resp.status_code, await read_capped(resp, what, limit), retry_after(resp)
    except TimeoutError:
        raise BackendFailure(f"{what}: no complete answer within {deadline:g}s", kind="timeout") from None


def retry_after(resp: Answer) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form; a date is ignored)."""
    value = resp.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 3600 else None


async def get_json(client: httpx.AsyncClient, path: str, timeout: float, what: str) -> dict[str, Any]:
    """GET a JSON object for a probe, with its own timeout."""
    try:
        request = client.build_request("GET", path, timeout=timeout)
        status, body, _ = await _exchange(open_answer(client, request, what), timeout, what, MAX_PROBE_BYTES)
    except BackendFailure as failure:
        if failure.kind == "timeout":
            raise BackendFailure(f"{what}: no answer within {timeout:g}s", kind="timeout") from None
        raise
    if status >= 400:
        raise failure_from_status(status, body, what)
    return parse_json_object(body, what)


async def post_json(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], what: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """POST a JSON body, expect a 200 with a JSON object; anything else is a BackendFailure."""
    answer_ = open_post(client, path, jsonfast.dumps(body), headers or JSON_HEADERS, what)
    status, answer, wait = await _exchange(answer_, client.timeout.read, what)
    if status != 200:
        raise failure_from_status(status, answer, what, wait)
    return parse_json_object(answer, what)


JSON_HEADERS = {"Content-Type": "application/json"}


MAX_LINE_BYTES = 8 * 1024 * 1024


async def iter_lines(resp: Answer, what: str, limit: int = MAX_LINE_BYTES) -> AsyncIterator[bytes]:
    """The lines of a streamed answer (NDJSON or SSE) as bytes, each as soon as it is complete.

    Bytes, not text: orjson parses them directly. A line that grows past ``limit``
    (a backend that babbles without a newline) is a BackendFailure, not a memory leak.
    """
    pending = b""
    async for chunk in resp.aiter_bytes():
        pending += chunk
        if b"\n" not in chunk:
            if len(pending) > limit:
                raise BackendFailure(f"{what}: a line longer than {limit} bytes", kind="error")
            continue
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r")
    if pending:
        yield pending.rstrip(b"\r")


def completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex
