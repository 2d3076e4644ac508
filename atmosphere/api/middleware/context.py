"""The one middleware that opens a request's context (``observe/context.py``).

One pass over the headers finds the client's ``x-request-id`` (kept when sane, so its own
tracing lines up; else the gateway makes ``req_<16 hex>``) and ``X-Atmosphere-Session``;
the surface is what the face declared for the path (``surfaces``, beside its routes). The
answer carries the id as ``x-request-id`` (the OpenAI SDK shows it as ``err.request_id``),
and the request log's entry has the same id.

When the answer has been sent, the request is one row of the usage history (``record``):
every request a face served or refused, and every refusal of a key anywhere, with its
status, bytes and duration. The call only queues it (``store/usage.py``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping

from fastapi import APIRouter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atmosphere.observe import context
from atmosphere.observe.context import RequestContext

_SANE = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
_REQUEST_ID = b"x-request-id"
_SESSION = b"x-atmosphere-session"
_USER_AGENT = b"user-agent"
_AGENT_CHARS = 200
_LENGTH = b"content-length"
_REFUSALS = (401, 403, 429)  # a key refused: recorded on any path

# (context, status, request bytes, answer bytes, duration ms): queues one usage row, O(1).
UsageSink = Callable[[RequestContext, int, int | None, int, float], None]


def surfaces(router: APIRouter, names: Mapping[str, str]) -> dict[str, str]:
    """A face's paths (relative to its router's prefix) → its surface name, for the middleware."""
    return {router.prefix + path: name for path, name in names.items()}


class RequestContextMiddleware:
    """ASGI middleware: the request's context for its task, and its id on the answer."""

    def __init__(self, app: ASGIApp, *, surfaces: Mapping[str, str], record: UsageSink | None = None):
        self.app = app
        self.surfaces = dict(surfaces)
        self.record = record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = session = agent = length = None
        for name, value in scope["headers"]:
            if name == _REQUEST_ID:
                given = value
            elif name == _SESSION:
                session = value.decode("latin-1")[:200] or None
            elif name == _USER_AGENT:
                agent = value[:_AGENT_CHARS].decode("latin-1") or None
            elif name == _LENGTH:
                length = value
        request_id = given.decode() if given is not None and _SANE.fullmatch(given) else context.new_id()
        path: str = scope["path"]
        client = scope.get("client")
        surface = self.surfaces.get(path) or self.surfaces.get(path.rstrip("/"))
        request = RequestContext(
            request_id,
            surface or path,
            client[0] if client else None,
            session,
            agent=agent,
            declared=surface is not None,
        )
        token = context.enter(request)
        header = (b"x-request-id", request_id.encode())
        status = 500  # unless an answer starts
        sent = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            context.leave(token)
            if self.record is not None and (surface is not None or request.entry is not None or status in _REFUSALS):
                received = int(length) if length is not None and length.isdigit() else None
                self.record(request, status, received, sent, (time.perf_counter() - request.started) * 1000)
