"""The one error path: every error a client sees is an ``AtmosphereError`` rendered here.

Each surface answers errors in its own protocol's shape. A face registers a renderer for
its path prefix with ``add_error_renderer`` (the longest matching prefix wins); paths no
face claims get the OpenAI error body. Exception handlers, the local-only guard and the
key check all go through ``render_error``, so no body is built by hand anywhere else.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp

from atmosphere import jsonfast
from atmosphere.api.paths import under
from atmosphere.domain import Attempt
from atmosphere.errors import AtmosphereError, HTTPStatusError, InvalidRequest, MethodNotAllowed, NotFound
from atmosphere.observe import context

log = logging.getLogger("atmosphere.api")

ErrorRenderer = Callable[[AtmosphereError], Response]

_UNSAFE_IN_HEADER = re.compile(r"[^\x20-\x7e]")


def attempts_header(attempts: list[Attempt]) -> dict[str, str]:
    """``X-Atmosphere-Attempts``: each backend that did not serve, and why, on one safe line
    (upstream text may hold newlines or non-ASCII; a header must not)."""
    if not attempts:
        return {}
    return {"X-Atmosphere-Attempts": header_safe("; ".join(f"{a.backend}: {a.reason}" for a in attempts))}


def header_safe(text: str, limit: int = 500) -> str:
    return _UNSAFE_IN_HEADER.sub(" ", text)[:limit]


def error_headers(exc: AtmosphereError) -> dict[str, str]:
    """Headers every rendering of ``exc`` carries, whatever the body's shape."""
    return {**exc.headers, **attempts_header(getattr(exc, "attempts", []))}


def openai_error(exc: AtmosphereError) -> Response:
    """The default rendering: OpenAI's ``{"error": {message, type, param, code}}``."""
    return Response(jsonfast.dumps(exc.body()), status_code=exc.status, media_type="application/json", headers=error_headers(exc))


# Kept for callers that render an OpenAI error without a path at hand.
error_response = openai_error


def add_error_renderer(app: FastAPI, prefix: str, renderer: ErrorRenderer) -> None:
    """Render errors under ``prefix`` (e.g. ``/v1/messages``, ``/api/``) with ``renderer``."""
    renderers: list[tuple[str, ErrorRenderer]] = app.state.error_renderers
    renderers.append((prefix, renderer))
    renderers.sort(key=lambda item: len(item[0]), reverse=True)


def render_error(app: ASGIApp, path: str, exc: AtmosphereError) -> Response:
    """``exc`` in the shape of the surface that owns ``path``."""
    context.note_error(exc.code or exc.type)
    renderers: list[tuple[str, ErrorRenderer]] = getattr(getattr(app, "state", None), "error_renderers", [])
    for prefix, renderer in renderers:
        if under(path, prefix):
            return renderer(exc)
    return openai_error(exc)


# A request refused for what it sent: recorded in the request log (with why) when the
# executor never saw it, so an operator sees why a client was turned away.
REFUSALS = frozenset({400, 413})


def _record_refusal(request: Request, exc: AtmosphereError) -> None:
    executor = getattr(request.app.state, "executor", None)
    if exc.status in REFUSALS and executor is not None:
        executor.recorder.refused(exc)


def error_answer(request: Request, exc: AtmosphereError) -> Response:
    """What the client gets for ``exc``, a refusal recorded on the way (the exception handler's
    work, also for the hot POSTs that skip the framework: api/middleware/hot.py)."""
    _record_refusal(request, exc)
    return render_error(request.app, request.url.path, exc)


async def _atmosphere_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AtmosphereError)
    return error_answer(request, exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    message = f"'{param}': {first.get('msg', 'invalid value')}" if param else first.get("msg", "Invalid request.")
    error = InvalidRequest(message, param=param)
    _record_refusal(request, error)
    return render_error(request.app, request.url.path, error)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    path = request.url.path
    error: AtmosphereError
    if exc.status_code == 404:
        error = NotFound(f"Unknown path {path}.")
    elif exc.status_code == 405:
        error = MethodNotAllowed(f"Method {request.method} is not allowed on {path}.", allow=(exc.headers or {}).get("Allow"))
    else:
        error = HTTPStatusError(exc.status_code, str(exc.detail))
    return render_error(request.app, path, error)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return render_error(request.app, request.url.path, AtmosphereError("Internal error in Atmosphere; see the service log."))


def install_error_handlers(app: FastAPI) -> None:
    app.state.error_renderers = []  # the faces add theirs (app.create_app)
    app.add_exception_handler(AtmosphereError, _atmosphere_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
