"""Exception handlers: every error on /v1 leaves as the OpenAI error body, never a trace."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from atmosphere import jsonfast
from atmosphere.api.dashboard import static_or_app
from atmosphere.errors import AtmosphereError, Attempt, InvalidRequest, NotFound

log = logging.getLogger("atmosphere.api")


_UNSAFE_IN_HEADER = re.compile(r"[^\x20-\x7e]")


def attempts_header(attempts: list[Attempt]) -> dict[str, str]:
    """``X-Atmosphere-Attempts``: each backend that did not serve, and why, on one safe line
    (upstream text may hold newlines or non-ASCII; a header must not)."""
    if not attempts:
        return {}
    return {"X-Atmosphere-Attempts": header_safe("; ".join(f"{a.backend}: {a.reason}" for a in attempts))}


def header_safe(text: str, limit: int = 500) -> str:
    return _UNSAFE_IN_HEADER.sub(" ", text)[:limit]


def error_response(exc: AtmosphereError) -> Response:
    headers = {**attempts_header(getattr(exc, "attempts", [])), **getattr(exc, "headers", {})}
    return Response(jsonfast.dumps(exc.body()), status_code=exc.status, media_type="application/json", headers=headers)


async def _atmosphere_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AtmosphereError)
    return error_response(exc)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    message = f"'{param}': {first.get('msg', 'invalid value')}" if param else first.get("msg", "Invalid request.")
    return error_response(InvalidRequest(message, param=param))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        if request.method in ("GET", "HEAD"):
            page = await static_or_app(request.url.path)
            if page is not None:
                return page
        if request.url.path == "/api" or request.url.path.startswith("/api/"):
            # Ollama's clients read {"error": "..."} on /api (other-faces renders it in full).
            return JSONResponse({"error": f"Unknown path {request.url.path}."}, status_code=404)
        return error_response(NotFound(f"Unknown path {request.url.path}."))
    if exc.status_code == 405:
        error = InvalidRequest(f"Method {request.method} is not allowed on {request.url.path}.")
        error.status = 405
        return error_response(error)
    return JSONResponse(
        {"error": {"message": str(exc.detail), "type": "invalid_request_error", "param": None, "code": None}},
        status_code=exc.status_code,
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    error = AtmosphereError("Internal error in Atmosphere; see the service log.")
    return error_response(error)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AtmosphereError, _atmosphere_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
