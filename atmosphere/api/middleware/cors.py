"""CORS for the web pages a user chose to trust (``ATMOSPHERE_ALLOWED_ORIGINS``).

By default no other origin may read Atmosphere's answers (the browser's same-origin
policy) and ``LocalOnlyGuard`` refuses their writes and ``/ws``. Listing an origin here
lets a page there use the API like Ollama's ``OLLAMA_ORIGINS``: its preflight is
answered, answers carry ``Access-Control-Allow-Origin``, and the guard lets it through.

Preflights are answered here, before the API key check, because browsers never send
credentials on them; the real request that follows still needs the key.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atmosphere import jsonfast

_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
# Headers a page may read from an answer besides the CORS-safelisted ones.
_EXPOSED = (
    b"x-request-id, request-id, x-atmosphere-backend, x-atmosphere-model, x-atmosphere-attempts, "
    b"x-atmosphere-substituted, x-atmosphere-usage, x-atmosphere-dropped-tools, retry-after"
)
_MAX_AGE = b"600"


def parse_origins(text: str) -> tuple[str, ...]:
    """``"https://a.example, http://localhost:3000"`` → normalised entries (lower case, no trailing /)."""
    return tuple(item.strip().rstrip("/").lower() for item in text.split(",") if item.strip())


class OriginPolicy:
    """Which web origins may use the API: exact origins, ``*`` patterns, or ``*`` for any."""

    def __init__(self, entries: Iterable[str]):
        entries = tuple(entries)
        self.any = "*" in entries
        self._exact = frozenset(e for e in entries if "*" not in e)
        self._patterns = tuple(e for e in entries if "*" in e and e != "*")

    def __bool__(self) -> bool:
        return self.any or bool(self._exact or self._patterns)

    def allows(self, origin: str) -> bool:
        if self.any:
            return True
        origin = origin.rstrip("/").lower()
        return origin in self._exact or any(fnmatch.fnmatchcase(origin, p) for p in self._patterns)


class CorsMiddleware:
    """ASGI middleware: preflights and ``Access-Control-Allow-*`` headers for allowed origins.

    Requests without an ``Origin``, and from origins not allowed, pass through untouched
    (the guard decides about those); a preflight from an origin not allowed gets a 403.
    """

    def __init__(self, app: ASGIApp, *, policy: OriginPolicy):
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.policy:
            await self.app(scope, receive, send)
            return
        origin = requested_headers = None
        preflight = False
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                preflight = True
            elif name == b"access-control-request-headers":
                requested_headers = value
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = self.policy.allows(origin.decode("latin-1"))
        if scope["method"] == "OPTIONS" and preflight:
            await self._preflight(send, origin, allowed, requested_headers)
            return
        if not allowed:
            await self.app(scope, receive, send)
            return
        headers = self._allow_headers(origin)

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _allow_headers(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        if self.policy.any:
            return [(b"access-control-allow-origin", b"*"), (b"access-control-expose-headers", _EXPOSED)]
        return [
            (b"access-control-allow-origin", origin),
            (b"vary", b"Origin"),
            (b"access-control-expose-headers", _EXPOSED),
        ]

    async def _preflight(self, send: Send, origin: bytes, allowed: bool, requested: bytes | None) -> None:
        if not allowed:
            page = origin.decode("latin-1")
            message = f"Web pages at {page} may not use this API; list the origin in ATMOSPHERE_ALLOWED_ORIGINS."
            body = jsonfast.dumps(
                {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": "forbidden"}}
            )
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        headers = [
            *self._allow_headers(origin),
            (b"access-control-allow-methods", _METHODS),
            (b"access-control-max-age", _MAX_AGE),
            (b"content-length", b"0"),
        ]
        if requested:
            # The origin is trusted: whatever headers its client sends (Authorization,
            # x-api-key, anthropic-version, the OpenAI SDK's x-stainless-*) are fine.
            headers.append((b"access-control-allow-headers", requested))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
