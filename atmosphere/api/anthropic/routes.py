"""The Anthropic face: ``POST /v1/messages`` and ``POST /v1/messages/count_tokens``.

So ``ANTHROPIC_BASE_URL=http://127.0.0.1:8000`` works for the ``anthropic`` SDKs and Claude
Code. Routes match the path only (the SDK's beta client adds ``?beta=true``); the key may
come as ``x-api-key`` or ``Authorization`` (checked, when one is set, before this face).
Errors leave in Anthropic's envelope (``render_error``); a stream the backend breaks after
it started ends with an ``error`` event, since its 200 is already sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from typing import TypeVar

from fastapi import APIRouter, Request
from starlette.responses import Response

from atmosphere import jsonfast
from atmosphere.api.anthropic.parse import count_tokens as estimate_count
from atmosphere.api.anthropic.parse import estimate_tokens, parse_messages_request
from atmosphere.api.anthropic.render import Event, MessageEvents, error_status_and_body, message_body, stream_error
from atmosphere.api.body import read_json
from atmosphere.api.common import body_limit, executor, json_response, midstream_failure, served_headers
from atmosphere.api.errors import error_headers
from atmosphere.api.middleware.context import surfaces
from atmosphere.api.streaming.sse import sse_event
from atmosphere.api.streaming.waiting import StreamForm, stream_with_heartbeat, until_disconnected
from atmosphere.errors import AtmosphereError
from atmosphere.observe import context
from atmosphere.router.executor import Served, StartedStream
from atmosphere.router.streams import close_quietly

log = logging.getLogger("atmosphere.api.anthropic.routes")
router = APIRouter(prefix="/v1", tags=["Anthropic Messages"])
SURFACES = surfaces(router, {"/messages": "anthropic"})

# A ``ping`` goes out whenever the backend is silent this long mid-answer, so proxies and
# clients with idle timeouts keep the connection (Anthropic sends them too).
PING_INTERVAL = 10.0
_PING = sse_event({"type": "ping"}, "ping")
T = TypeVar("T")


def _request_id() -> str:
    """The gateway's id for this request (also ``x-request-id`` and on its log lines), which
    the SDK reads from ``request-id`` as ``err.request_id``."""
    return context.current_id() or context.new_id()


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error in Anthropic's shape, for any Atmosphere status (also the API-key 401)."""
    out_status, body = error_status_and_body(status, message)
    request_id = _request_id()
    body["request_id"] = request_id
    return json_response(body, status=out_status, headers={"request-id": request_id, **(headers or {})})


def render_error(exc: AtmosphereError) -> Response:
    return error_response(exc.status, exc.message, error_headers(exc))


@router.post("/messages")
async def create_message(request: Request) -> Response:
    data = await read_json(request, body_limit(request))
    req = parse_messages_request(data)
    headers = {"request-id": _request_id()}
    if not req.stream:
        served = await until_disconnected(request, executor(request).chat(req))
        body = message_body(served.value, served.model)
        return json_response(body, headers={**headers, **served_headers(served)})
    input_tokens = estimate_tokens(req.messages, req.extra.get("tools"))

    def events(started: Served[StartedStream]) -> AsyncIterator[bytes]:
        return _message_events(started.value, MessageEvents(started.model, input_tokens))

    response = await stream_with_heartbeat(request, executor(request).chat_stream(req), events, ANTHROPIC_STREAM)
    response.headers.update(headers)
    return response


# After the heartbeat: ``ping`` events (the SDK skips them), then a failure as the ``error`` event.
ANTHROPIC_STREAM = StreamForm(keepalive=lambda _waiting: _PING, failure=lambda error: _frame([stream_error(error.message)]))


@router.post("/messages/count_tokens")
async def count_tokens(request: Request) -> Response:
    """An estimate (no local backend exposes its tokenizer), as Claude Code's /context needs."""
    data = await read_json(request, body_limit(request))
    return json_response({"input_tokens": estimate_count(data)}, headers={"request-id": _request_id()})


def _frame(events: Iterable[Event]) -> bytes:
    return b"".join(sse_event(jsonfast.dumps(data), name) for name, data in events)


async def _message_events(stream: StartedStream, events: MessageEvents) -> AsyncIterator[bytes]:
    """The event sequence, forwarded as chunks arrive; pings while the backend is quiet."""
    yield _frame(events.start()) + _PING + _frame(events.chunk(stream.first))
    try:
        async for chunk in _with_pings(stream.rest, PING_INTERVAL):
            yield _PING if chunk is None else _frame(events.chunk(chunk))
    except Exception as exc:  # noqa: BLE001 - whatever broke, the client gets Anthropic's error event
        yield _frame([stream_error(midstream_failure(exc))])
        return
    yield _frame(events.finish())


async def _with_pings(chunks: AsyncIterator[T], interval: float) -> AsyncIterator[T | None]:
    """``chunks``, with a ``None`` each time ``interval`` passes without one.

    The pending read is a task, not a ``wait_for``, so a timeout never cancels the
    upstream read; when the client leaves, the read is cancelled and upstream closed.
    """
    iterator = aiter(chunks)
    pending: asyncio.Future[T] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait((pending,), timeout=interval)
            if not done:
                yield None
                continue
            finished, pending = pending, None
            try:
                chunk = finished.result()
            except StopAsyncIteration:
                return
            yield chunk
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        await close_quietly(iterator)
