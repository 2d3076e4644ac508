"""The API key: once one is set, every API call must carry it.

The threat: bound beyond loopback, anyone who can reach the port could chat, switch
integrations off and watch ``/ws``. With ``ATMOSPHERE_API_KEY`` set, every ``/v1``,
``/api``, ``/ws`` and ``/metrics`` call must present it, as ``Authorization: Bearer KEY``
or ``x-api-key: KEY`` (what the OpenAI and Anthropic SDKs send). A browser cannot set
headers on a WebSocket, so ``/ws`` also takes ``?key=KEY`` or, as its first message,
``{"type": "auth", "key": KEY}``; a socket without a valid key is closed with code 4401.
``/health``, the dashboard's own files and ``/docs`` stay open, so a person can load the
page that asks for the key.

Keys are compared in constant time and never logged: a ``key=`` in a query string is
removed from the request before anything (the access log included) sees it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atmosphere import jsonfast
from atmosphere.api.errors import render_error
from atmosphere.api.guard import is_loopback
from atmosphere.config import ConfigError, Settings
from atmosphere.errors import Unauthorized

log = logging.getLogger("atmosphere.auth")

GUARDED_PREFIXES = ("/v1", "/api", "/ws", "/metrics")
WS_UNAUTHORIZED = 4401  # a WebSocket close code in the application range, read as HTTP's 401
_MISSING = "An API key is required: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
_WRONG = "The API key is not valid."


def check_exposure(settings: Settings) -> None:
    """Refuse to serve beyond loopback without a key, unless told to insist.

    Called by the command line before anything starts (``serve`` and ``demo``); the warning
    for insisting is ``warn_if_open``'s, once logging is set up.
    """
    if not _open_beyond_loopback(settings) or settings.insecure_no_auth:
        return
    raise ConfigError(
        f"refusing to serve on {settings.host} without an API key: set ATMOSPHERE_API_KEY "
        "(or --api-key, or ATMOSPHERE_API_KEY_FILE), or pass --insecure-no-auth to serve it open anyway"
    )


def warn_if_open(settings: Settings) -> None:
    """The warning at every start of a service that was told to serve the network without a key."""
    if _open_beyond_loopback(settings):
        log.warning("serving on %s WITHOUT an API key (--insecure-no-auth): anyone who can reach it can use it", settings.host)


def _open_beyond_loopback(settings: Settings) -> bool:
    return not is_loopback(settings.host) and settings.api_key is None


class _RedactKeys(logging.Filter):
    """Replaces a key in any record of the loggers it guards. uvicorn's WebSocket layer logs
    each handshake line (the request line with its query, every header) at debug level,
    before the middleware below can take the key out."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(key in message for key in self.keys):
            for key in self.keys:
                message = message.replace(key, "<api key>")
            record.msg, record.args = message, None
        return True


_REDACT = _RedactKeys()
_REDACTED_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "atmosphere")


def redact_from_logs(key: str) -> None:
    """Keep ``key`` out of every log line, whoever writes it."""
    _REDACT.keys.add(key)
    for name in _REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if _REDACT not in logger.filters:
            logger.addFilter(_REDACT)


class ApiKeyGuard:
    """ASGI middleware: 401 (in the caller's protocol) for guarded paths without the key."""

    def __init__(self, app: ASGIApp, *, key: str, first_message_timeout: float = 10.0):
        self.app = app
        redact_from_logs(key)
        self._key = key.encode()
        self._first_message_timeout = first_message_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not scope["path"].startswith(GUARDED_PREFIXES):
            await self.app(scope, receive, send)
            return
        presented = _from_headers(scope)
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send, presented if presented is not None else _pop_query_key(scope))
            return
        if presented is not None and self._matches(presented):
            await self.app(scope, receive, send)
        elif scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method") is not None:
            await self.app(scope, receive, send)  # a CORS preflight never carries credentials
        else:
            error = Unauthorized(_MISSING if presented is None else _WRONG)
            error.headers["WWW-Authenticate"] = 'Bearer realm="atmosphere"'
            await render_error(scope.get("app", self.app), scope["path"], error)(scope, receive, send)

    def _matches(self, presented: bytes) -> bool:
        return hmac.compare_digest(presented, self._key)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, presented: bytes | None) -> None:
        connect = await receive()
        if connect["type"] != "websocket.connect":
            return
        if presented is not None and self._matches(presented):
            await self.app(scope, _replay(connect, receive), send)
            return
        # Accepted before the check, so a browser sees why in the close code and reason.
        await send({"type": "websocket.accept"})
        if presented is None:
            presented = await self._first_message_key(receive)
        if presented is None or not self._matches(presented):
            reason = _WRONG if presented is not None else 'An API key is required: send {"type": "auth", "key": ...} first.'
            await send({"type": "websocket.close", "code": WS_UNAUTHORIZED, "reason": reason})
            return
        await self.app(scope, _replay(connect, receive), _without_accept(send))

    async def _first_message_key(self, receive: Receive) -> bytes | None:
        try:
            message = await asyncio.wait_for(receive(), self._first_message_timeout)
        except TimeoutError:
            return None
        if message["type"] != "websocket.receive" or message.get("text") is None:
            return None
        try:
            data = jsonfast.loads(message["text"])
        except jsonfast.JSONDecodeError:
            return None
        key = data.get("key") if isinstance(data, dict) and data.get("type") == "auth" else None
        return key.encode() if isinstance(key, str) else b""


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == wanted:
            return bytes(value)
    return None


def _from_headers(scope: Scope) -> bytes | None:
    """The key from ``Authorization: Bearer`` or ``x-api-key``; None when neither is sent."""
    found = None
    for name, value in scope["headers"]:
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            found = value[7:].strip()
        elif name == b"x-api-key" and found is None:
            found = value.strip()
    return found


def _pop_query_key(scope: Scope) -> bytes | None:
    """``?key=`` from the query string, removed from the scope (so no log ever shows it)."""
    query: bytes = scope.get("query_string", b"")
    if b"key=" not in query:
        return None
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    keys = [value for name, value in pairs if name == "key"]
    if not keys:
        return None
    scope["query_string"] = urlencode([(n, v) for n, v in pairs if n != "key"]).encode("latin-1")
    return keys[-1].encode("latin-1")


def _replay(first: Message, receive: Receive) -> Receive:
    """``receive`` that gives ``first`` once more before the rest (the app expects the connect)."""
    pending: list[Message] = [first]

    async def replaying() -> Message:
        return pending.pop() if pending else await receive()

    return replaying


def _without_accept(send: Send) -> Send:
    """``send`` for an app whose socket this middleware has already accepted."""

    async def sending(message: Message) -> None:
        if message["type"] != "websocket.accept":
            await send(message)

    return sending
