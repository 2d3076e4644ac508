"""Keep a localhost service local: refuse other web pages and rebinding tricks.

A browser lets any web page send simple POSTs to 127.0.0.1 and open WebSockets to it,
and DNS rebinding lets a page read answers as if same-origin. Ollama guards the same
way. Clients that are not browsers (the OpenAI SDK, curl) send no ``Origin`` and a
loopback ``Host``, so they are unaffected.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from atmosphere.api.cors import OriginPolicy
from atmosphere.api.errors import render_error
from atmosphere.errors import Forbidden

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hostname(value: str) -> str:
    """The host part of a Host header (``[::1]:8000`` → ``::1``)."""
    if value.startswith("["):
        return value[1 : value.find("]")]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class LocalOnlyGuard:
    """ASGI middleware: 403 for a foreign ``Origin`` on anything but GET, and for a
    non-loopback ``Host`` while the service is bound to loopback. Origins the user listed
    in ``ATMOSPHERE_ALLOWED_ORIGINS`` (``allowed``) are not foreign."""

    def __init__(self, app: ASGIApp, *, bound_host: str, allowed: OriginPolicy | None = None):
        self.app = app
        self.allowed = allowed or OriginPolicy(())
        self.check_host = is_loopback(bound_host)
        self.bound_host = bound_host
        self._good_hosts: set[bytes] = set()  # Host headers already accepted: the fast path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = origin = None
            for name, value in scope["headers"]:
                if name == b"host":
                    host = value
                elif name == b"origin":
                    origin = value
            if origin is not None or (host is not None and host not in self._good_hosts):
                reason = self._refusal(scope, host, origin)
                if reason is not None:
                    await self._refuse(scope, receive, send, reason)
                    return
                if origin is None and host is not None and len(self._good_hosts) < 64:
                    self._good_hosts.add(host)
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope, raw_host: bytes | None, raw_origin: bytes | None) -> str | None:
        host = raw_host.decode("latin-1") if raw_host is not None else None
        origin = raw_origin.decode("latin-1") if raw_origin is not None else None
        hostname = _hostname(host) if host else ""
        if self.check_host and host is not None and not (is_loopback(hostname) or hostname == self.bound_host):
            return f"Host '{host}' is not this machine; Atmosphere only answers local requests."
        if origin is None or (scope["type"] == "http" and scope["method"] in ("GET", "HEAD", "OPTIONS")):
            return None  # not a browser, or a read that the same-origin policy already guards
        origin_host = urlsplit(origin).hostname or ""
        if is_loopback(origin_host) or (origin_host and origin_host == hostname) or self.allowed.allows(origin):
            return None
        return f"Requests from the web page at {origin} are not allowed (ATMOSPHERE_ALLOWED_ORIGINS lists allowed pages)."

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, reason: str) -> None:
        if scope["type"] == "websocket":
            await receive()  # the connect event
            await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
            return
        response = render_error(scope.get("app", self.app), scope["path"], Forbidden(reason))
        await response(scope, receive, send)
