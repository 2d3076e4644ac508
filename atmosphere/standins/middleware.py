"""Request recording, route-independent faults and the `/_emulator/*` controls.

The middleware reads and parses the body once, so handlers never parse JSON
themselves and recording costs one small dataclass per request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, ExceptionHandler, Message, Receive, Scope, Send

from atmosphere.standins.common import INVALID_JSON, json_response
from atmosphere.standins.state import EmulatorState, RecordedRequest, UnknownFault

CONTROL_PREFIX = "/_emulator/"


def emulator_app(
    state: EmulatorState,
    routes: Sequence[BaseRoute],
    *,
    error500: Response,
    unrouted: ExceptionHandler,
    outer: Sequence[Middleware] = (),
) -> Starlette:
    """One emulator's app: the `/_emulator/*` controls and ``routes``, behind any ``outer``
    middleware and then ``EmulatorMiddleware`` (faults answer ``error500``); ``unrouted`` answers
    an unknown path or method as that backend does; ``app.state.emulator`` holds ``state``.
    A route names its methods only when not GET (Starlette's default, HEAD included)."""
    app = Starlette(
        routes=[*control_routes(state), *routes],
        middleware=[*outer, Middleware(EmulatorMiddleware, state=state, error500=error500)],
        exception_handlers={HTTPException: unrouted},
    )
    app.state.emulator = state
    return app


MALFORMED = Response(b"<html>garbage", 200, media_type="text/html")


class EmulatorMiddleware:
    """Records every non-control request and applies hang/slow/error500/malformed."""

    def __init__(self, app: ASGIApp, state: EmulatorState, error500: Response) -> None:
        self.app = app
        self.state = state
        self.error500 = error500

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        parsed: Any = None
        if body:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                parsed = INVALID_JSON
        scope["emulator.json"] = parsed
        state = self.state
        state.requests.append(
            RecordedRequest(
                scope["method"],
                scope["path"],
                scope["query_string"].decode("latin-1"),
                {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
                None if parsed is INVALID_JSON else parsed,
            )
        )
        fault = state.fault
        if fault == "hang":
            await _wait_for_disconnect(receive)
            return
        if fault == "slow" and state.delay > 0:
            await asyncio.sleep(state.delay)
        elif fault == "error500":
            await self.error500(scope, receive, send)
            return
        elif fault == "malformed":
            await MALFORMED(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


async def _read_body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    parts = [body]
    while message.get("more_body", False):
        message = await receive()
        parts.append(message.get("body", b""))
    return b"".join(parts)


async def _wait_for_disconnect(receive: Receive) -> None:
    """Never answer; return once the client (or server shutdown) drops the socket."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive callable that hands the already-read body out again."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def control_routes(state: EmulatorState) -> list[Route]:
    """`/_emulator/{fault,settings,state,requests,reset}`: never faulted, never recorded."""

    async def set_fault(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
            state.set_fault(
                body["fault"],
                delay=body.get("delay"),
                chunk_delay=body.get("chunk_delay"),
                cut_after=body.get("cut_after"),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            message = str(exc) if isinstance(exc, UnknownFault) else f"bad fault request: {exc!r}"
            return json_response({"error": message}, 400)
        return json_response(state.snapshot())

    async def get_state(request: Request) -> Response:
        return json_response(state.snapshot())

    async def get_requests(request: Request) -> Response:
        return json_response({"requests": [r.as_dict() for r in state.recorded()]})

    async def set_settings(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
            if not isinstance(body, dict):
                raise TypeError("settings must be a JSON object")
            state.apply_settings(body)
        except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response(state.snapshot())

    async def reset(request: Request) -> Response:
        state.reset()
        return json_response(state.snapshot())

    return [
        Route(CONTROL_PREFIX + "fault", set_fault, methods=["POST"]),
        Route(CONTROL_PREFIX + "state", get_state, methods=["GET"]),
        Route(CONTROL_PREFIX + "settings", set_settings, methods=["POST"]),
        Route(CONTROL_PREFIX + "requests", get_requests, methods=["GET"]),
        Route(CONTROL_PREFIX + "reset", reset, methods=["POST"]),
    ]
