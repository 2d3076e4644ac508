"""One request's context: its id, surface, client, session and start, in one place.

Set once per HTTP request by the request middleware (``api/middleware/context.py``) from the scope,
read by the executor (sticky sessions), the recorder (the request log and the metrics),
the usage history (one row when the answer is sent, see ``api/middleware/context.py``),
the faces that echo the id (Anthropic's ``request-id``) and every log line (the tag).
The request log's id *is* the ``x-request-id`` the client got back, so a user quoting the
header finds the request in ``/v1/requests``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from atmosphere.observe.requestlog import RequestEntry


def new_id() -> str:
    return "req_" + os.urandom(8).hex()


@dataclass(slots=True)
class RequestContext:
    id: str = field(default_factory=new_id)  # the x-request-id answer header
    surface: str = "internal"  # "openai.chat", "anthropic", "ollama.chat", ...: the face's own word
    client: str | None = None  # the caller's address
    session: str | None = None  # X-Atmosphere-Session
    started: float = field(default_factory=time.perf_counter)  # when the request arrived
    dropped_tools: list[str] | None = None  # tools the face left out (hosted ones no local model runs)
    agent: str | None = None  # the caller's User-Agent ("claude-cli/2.1.197 ...", "ollama/0.5.4 ...")
    declared: bool = False  # the path is one a face declared (an inference surface), not any path
    recorded: bool = False  # the request log has this request's entry (written once)
    shutting_down: bool = False  # the SIGTERM drain ended it before its answer started
    wall: float = field(default_factory=time.time)  # the same moment, epoch seconds
    key: str = "local"  # who asked: a client key's name, "admin" (the API key) or "local" (no key, on loopback)
    entry: RequestEntry | None = None  # what the recorder wrote down, for the usage history
    error: str | None = None  # the code (or type) of the error the client was answered with
    # A client key's model scope: why it may not use a model (None: it may); None for no key.
    refuse_model: Callable[[str | None], str | None] | None = None
    log_prompts: bool = False  # the client key asks for its prompts to be kept


_current: ContextVar[RequestContext | None] = ContextVar("atmosphere_request", default=None)


def current() -> RequestContext:
    """The context of the request being served (a fresh internal one outside HTTP)."""
    context = _current.get()
    return context if context is not None else RequestContext()


def current_id() -> str | None:
    """The id of the request being served in this task, if any."""
    context = _current.get()
    return context.id if context is not None else None


def served() -> RequestContext | None:
    """The context of the HTTP request being served, if any (to fill in who asks)."""
    return _current.get()


def note_error(kind: str) -> None:
    """The request being served is answered with an error of ``kind`` (for its usage row)."""
    context = _current.get()
    if context is not None:
        context.error = kind


def enter(context: RequestContext) -> Token[RequestContext | None]:
    return _current.set(context)


def leave(token: Token[RequestContext | None]) -> None:
    _current.reset(token)


def install_log_tag() -> None:
    """Give every log record a ``request_id`` attribute and a ``request_tag`` (`` [req_…]``
    or empty) for formats; called once at start-up, idempotent."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "_atmosphere_tagged", False):
        return

    def tagged(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        request_id = current_id()
        record.request_id = request_id
        record.request_tag = f" [{request_id}]" if request_id else ""
        return record

    tagged._atmosphere_tagged = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(tagged)
