"""Keep the service to its own clients: refuse other web pages and rebinding tricks.

A browser lets any web page send simple POSTs to 127.0.0.1 and open WebSockets to it,
and DNS rebinding lets a page read answers as if same-origin. Ollama guards the same
way. Clients that are not browsers (the OpenAI SDK, curl) send no ``Origin`` and a
loopback ``Host``, so they are unaffected.

The Host check stays on when the service is bound beyond loopback: a rebinding page
reaches it under the attacker's name, so only this service's own names are accepted (the
bound address, this machine's host name, ``localhost`` and ``ATMOSPHERE_ALLOWED_HOSTS``),
and IP addresses, which no rebinding page can send as its Host.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from atmosphere.api.errors import render_error
from atmosphere.api.middleware.cors import OriginPolicy
from atmosphere.errors import Forbidden
from atmosphere.locality import is_loopback


def _hostname(value: str) -> str:
    """The host part of a Host header (``[::1]:8000`` → ``::1``)."""
    if value.startswith("["):
        return value[1 : value.find("]")]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


class HostAllowList:
    """The names this service answers to (see the module docstring)."""

    def __init__(self, bound_host: str, extra: Iterable[str] = ()):
        self.on_loopback = is_loopback(bound_host)
        names = {bound_host.strip("[]").lower(), "localhost", *(name.lower() for name in extra)}
        if not self.on_loopback:
            machine = socket.gethostname().lower()
            names |= {machine, machine.split(".")[0], f"{machine.split('.')[0]}.local"}
        self.any = "*" in names
        self.suffixes = tuple(name for name in names if name.startswith("."))
        self.names = frozenset(names)

    def allows(self, hostname: str) -> bool:
        hostname = hostname.strip("[]").lower().rstrip(".")
        if self.any or hostname in self.names or is_loopback(hostname):
            return True
        if self.suffixes and hostname.endswith(self.suffixes):
            return True
        return not self.on_loopback and _is_ip(hostname)


class LocalOnlyGuard:
    """ASGI middleware: 403 for a foreign ``Origin`` on anything but GET, and for a
    ``Host`` that is not one of this service's names. Origins the user listed in
    ``ATMOSPHERE_ALLOWED_ORIGINS`` (``allowed``) are not foreign."""

    def __init__(self, app: ASGIApp, *, bound_host: str, allowed: OriginPolicy | None = None, allowed_hosts: Iterable[str] = ()):
        self.app = app
        self.allowed = allowed or OriginPolicy(())
        self.hosts = HostAllowList(bound_host, allowed_hosts)
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
        if host is not None and not self.hosts.allows(hostname):
            if self.hosts.on_loopback:
                return (
                    f"Host '{host}' is not this machine; Atmosphere only answers local requests "
                    "(if it is one of this machine's names, add it to ATMOSPHERE_ALLOWED_HOSTS)."
                )
            return f"Host '{host}' is not one of this service's names; add it to ATMOSPHERE_ALLOWED_HOSTS if it is."
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
