"""ASGI middleware that names each request's surface and client for the router (``router.origin``).

The surface comes from the path, so faces stay unaware of logging and metrics.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from atmosphere.router import origin

SURFACES: dict[str, str] = {
    "/v1/chat/completions": "openai.chat",
    "/v1/completions": "openai.completions",
    "/v1/embeddings": "openai.embeddings",
    "/v1/responses": "responses",
    "/v1/messages": "anthropic",
    "/api/chat": "ollama.chat",
    "/api/generate": "ollama.generate",
    "/api/embed": "ollama.embed",
    "/api/embeddings": "ollama.embed",
    "/v1/execute": "execute",
    "/v1/integrations/test": "test",
}
_SESSION = b"x-atmosphere-session"


class OriginMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        session = None
        for name, value in scope.get("headers", ()):
            if name == _SESSION:
                session = value.decode("latin-1")[:200] or None
                break
        client = scope.get("client")
        token = origin.enter(
            origin.Origin(
                surface=SURFACES.get(path.rstrip("/"), path),
                client=client[0] if client else None,
                session=session,
            )
        )
        try:
            await self.app(scope, receive, send)
        finally:
            origin.leave(token)
