"""The one middleware that opens a request's context (``observe/context.py``).

One pass over the headers finds the client's ``x-request-id`` (kept when sane, so its own
tracing lines up; else the gateway makes ``req_<16 hex>``) and ``X-Atmosphere-Session``;
the surface is what the face declared for the path (``surfaces``, beside its routes). The
answer carries the id as ``x-request-id`` (the OpenAI SDK shows it as ``err.request_id``),
and the request log's entry has the same id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fastapi import APIRouter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atmosphere.observe import context
from atmosphere.observe.context import RequestContext

_SANE = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
_REQUEST_ID = b"x-request-id"
_SESSION = b"x-atmosphere-session"
_USER_AGENT = b"user-agent"
_AGENT_CHARS = 200


def surfaces(router: APIRouter, names: Mapping[str, str]) -> dict[str, str]:
    """A face's paths (relative to its router's prefix) → its surface name, for the middleware."""
    return {router.prefix + path: name for path, name in names.items()}


class RequestContextMiddleware:
    """ASGI middleware: the request's context for its task, and its id on the answer."""

    def __init__(self, app: ASGIApp, *, surfaces: Mapping[str, str]):
        self.app = app
        self.surfaces = dict(surfaces)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = session = agent = None
        for name, value in scope["headers"]:
            if name == _REQUEST_ID:
                given = value
            elif name == _SESSION:
                session = value.decode("latin-1")[:200] or None
            elif name == _USER_AGENT:
                agent = value[:_AGENT_CHARS].decode("latin-1") or None
        request_id = given.decode() if given is not None and _SANE.fullmatch(given) else context.new_id()
        path: str = scope["path"]
        client = scope.get("client")
        surface = self.surfaces.get(path) or self.surfaces.get(path.rstrip("/"))
        token = context.enter(
            RequestContext(
                request_id,
                surface or path,
                client[0] if client else None,
                session,
                agent=agent,
                declared=surface is not None,
            )
        )
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            context.leave(token)
