"""The inference POSTs, served without FastAPI's per-request machinery.

The faces' inference endpoints (chat, completions, responses, messages, embeddings, Ollama's
chat/generate/embed: the paths each face declares in its ``SURFACES``) take the request and
return a response. They need none of FastAPI's route matching, dependency solving or
parameter validation, which was ~15 % of the gateway's CPU per request (bench/NOTES.md).

They stay registered on their routers, so the OpenAPI page lists them and any other method
gets the usual 405; this middleware, innermost, answers a POST to one of their exact paths
by calling the endpoint itself, and answers an ``AtmosphereError`` as the exception handler
does (``error_answer``: a refusal is recorded, the body is in the surface's shape). Anything
else raised is answered by the app's handler for ``Exception``, then raised on to the server,
as the framework's server-error layer does (which is not around this one: ``front.py``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from atmosphere.api.errors import error_answer
from atmosphere.errors import AtmosphereError

Endpoint = Callable[[Request], Awaitable[Response]]


def hot_endpoints(routers: Iterable[APIRouter], paths: Iterable[str]) -> dict[str, Endpoint]:
    """The POST endpoints at ``paths`` on the faces' ``routers``, each of which must take only the request."""
    wanted = set(paths)
    table: dict[str, Endpoint] = {}
    for route in (route for router in routers for route in router.routes):
        if not isinstance(route, APIRoute) or route.path not in wanted or "POST" not in (route.methods or ()):
            continue
        parameters = list(inspect.signature(route.endpoint).parameters.values())
        plain = len(parameters) == 1 and parameters[0].annotation in (Request, "Request")
        if not plain or route.dependencies or route.param_convertors or route.methods != {"POST"}:
            raise TypeError(f"{route.path} cannot be served directly: its endpoint must take only the request")
        table[route.path] = route.endpoint
    if missing := wanted - table.keys():
        raise LookupError(f"no POST route for {', '.join(sorted(missing))}")
    return table


class HotRoutes:
    """ASGI middleware: a POST to one of ``routes``' paths goes straight to its endpoint."""

    def __init__(self, app: ASGIApp, *, routes: Mapping[str, Endpoint]):
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.routes.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except AtmosphereError as exc:
            response = error_answer(request, exc)
        except Exception as exc:
            # What the framework's server-error layer did (it is not around us: front.py): the
            # app's own handler answers, and the error goes on to the server, which logs it.
            handler = request.app.exception_handlers.get(Exception)
            if handler is None:
                raise
            await (await handler(request, exc))(scope, receive, send)
            raise
        await response(scope, receive, send)
