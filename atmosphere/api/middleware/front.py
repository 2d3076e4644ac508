"""The app's own middlewares in front of the framework's, not inside them.

FastAPI puts the middlewares an app adds inside its own: a per-request check whether
OpenTelemetry is configured, its server-error handler, its exception-telemetry and body-limit
layers. The inference POSTs need none of them (``hot.py`` answers them from the innermost of
ours, and renders an unexpected error with the app's own handler, as the server-error layer
did): on the gateway's CPU per request they were ~5 % (bench/NOTES.md). So ``FrontedApp``
runs its middlewares (``add_front``, the last added outermost, like ``add_middleware``) before
FastAPI's ``__call__``; whatever they pass on goes through all of the framework as before.
Lifespan events go straight to the framework.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send


class FrontedApp(FastAPI):
    """FastAPI with ``add_front`` middlewares around the whole framework (see the module's docstring)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._front_middleware: list[tuple[Any, dict[str, Any]]] = []
        self._front: ASGIApp | None = None

    def add_front(self, middleware: Any, **options: Any) -> None:
        """``middleware(app, **options)`` in front of those added before it."""
        if self._front is not None:
            raise RuntimeError("the app has started: its middlewares are fixed")
        self._front_middleware.append((middleware, options))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await super().__call__(scope, receive, send)
            return
        front = self._front
        if front is None:
            front = self._framework
            for middleware, options in self._front_middleware:
                front = middleware(front, **options)
            self._front = front
        scope["app"] = self  # what the framework sets; the guards render their refusals with it
        await front(scope, receive, send)

    async def _framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)
