"""One id per request: the ``x-request-id`` answer header and a tag on every log line.

A client that sent a sane ``x-request-id`` gets it back (so its own tracing lines up);
otherwise the gateway makes one (``req_<16 hex>``). The OpenAI SDK exposes the header as
``err.request_id``, so a user can quote it and an operator can find the log lines.
"""

from __future__ import annotations

import logging
import os
import re
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_current: ContextVar[str | None] = ContextVar("atmosphere_request_id", default=None)
_SANE = re.compile(rb"[A-Za-z0-9._:-]{1,64}")


def current_request_id() -> str | None:
    """The id of the request being served in this task, if any."""
    return _current.get()


def new_request_id() -> str:
    return "req_" + os.urandom(8).hex()


class RequestIdMiddleware:
    """ASGI middleware: set the id for the request's task and add it to the answer."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == b"x-request-id"), None)
        request_id = given.decode() if given is not None and _SANE.fullmatch(given) else new_request_id()
        header = (b"x-request-id", request_id.encode())
        token = _current.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)


def install_log_tag() -> None:
    """Give every log record a ``request_id`` attribute and a ``request_tag`` (`` [req_…]``
    or empty) for formats; called once at start-up, idempotent."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "_atmosphere_tagged", False):
        return

    def tagged(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        request_id = _current.get()
        record.request_id = request_id
        record.request_tag = f" [{request_id}]" if request_id else ""
        return record

    tagged._atmosphere_tagged = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(tagged)
