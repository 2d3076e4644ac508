"""What every face module needs from a request: the executor, the body limit, a JSON
response, and the ``X-Atmosphere-*`` headers that say who served it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from atmosphere import jsonfast
from atmosphere.api.errors import attempts_header, header_safe
from atmosphere.domain import ChatChunk, Usage
from atmosphere.errors import AtmosphereError, BackendFailure, unexpected_answer
from atmosphere.router.executor import Executor, Served, StartedStream

log = logging.getLogger("atmosphere.api")


def executor(request: Request) -> Executor:
    return request.app.state.executor  # type: ignore[no-any-return]


def body_limit(request: Request) -> int:
    return request.app.state.settings.max_request_bytes  # type: ignore[no-any-return]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(jsonfast.dumps(data), status_code=status, media_type="application/json", headers=headers)


def served_headers(served: Served[Any]) -> dict[str, str]:
    """``X-Atmosphere-Backend`` / ``-Model`` (who served, under which native name) and
    ``-Attempts`` (who did not, and why)."""
    headers = {"X-Atmosphere-Backend": served.backend, "X-Atmosphere-Model": header_safe(served.model)}
    if served.substituted:
        headers["X-Atmosphere-Substituted"] = "true"  # an equivalent of the requested model served
    usage = getattr(served.value, "usage", None)
    if isinstance(usage, Usage) and usage.estimated:
        headers["X-Atmosphere-Usage"] = "estimated"  # the backend did not count (all of) it
    return {**headers, **attempts_header(served.attempts)}


async def chunks_of(stream: StartedStream) -> AsyncIterator[ChatChunk]:
    """A started stream's chunks, the first one included."""
    yield stream.first
    async for chunk in stream.rest:
        yield chunk


def stream_failure(exc: BaseException) -> str:
    """Why a stream broke after it started (logged once here), for the face's own error form."""
    if isinstance(exc, BackendFailure):
        reason = exc.reason
    elif isinstance(exc, AtmosphereError):
        reason = exc.message
    else:
        reason = unexpected_answer(exc)
    log.warning("stream failed after it started: %s", reason)
    return reason


def midstream_failure(exc: BaseException) -> str:
    """The message every face ends a started stream with when it breaks (in its own form)."""
    return f"The integration failed mid-stream: {stream_failure(exc)}"
