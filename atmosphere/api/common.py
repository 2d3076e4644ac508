"""What every face module needs from a request: the executor, the body limit, a JSON
response, and the ``X-Atmosphere-*`` headers that say who served it."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from atmosphere import jsonfast
from atmosphere.api.errors import attempts_header, header_safe
from atmosphere.router.executor import Executor, Served


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
    return {**headers, **attempts_header(served.attempts)}
