"""The admin key and client keys at the door of every API call.

The threat: bound beyond loopback, anyone who can reach the port could chat, switch
integrations off and watch ``/ws``. With ``ATMOSPHERE_API_KEY`` set, every ``/v1``,
``/api``, ``/ws`` and ``/metrics`` call must present it, as ``Authorization: Bearer KEY``
or ``x-api-key: KEY`` (what the OpenAI and Anthropic SDKs send). A browser cannot set
headers on a WebSocket, so ``/ws`` also takes ``?key=KEY`` or, as its first message,
``{"type": "auth", "key": KEY}``; a socket without a valid key is closed with code 4401.
``/health``, the dashboard's own files and ``/docs`` stay open, so a person can load the
page that asks for the key.

Client keys (``atm_…``, made with ``/v1/keys``, ``store/keys.py``) are accepted the same two
ways on the OpenAI, Anthropic and Ollama surfaces and held to their scope and limits
(``api/middleware/key_scope.py``): a wrong, revoked or expired one is a 401, a surface, path or model it
may not use a 403 naming why, a limit passed a 429 with ``Retry-After``, each in the caller's
protocol. Without an admin key, on loopback, a request may come without a key (it is "local")
unless ``ATMOSPHERE_REQUIRE_KEYS=true``; a client key sent anyway is still held to its limits.

Keys are compared in constant time and never logged: a ``key=`` in a query string is
removed from the request before anything (the access log included) sees it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from urllib.parse import parse_qsl, urlencode

from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atmosphere import jsonfast
from atmosphere.api.errors import render_error
from atmosphere.api.middleware import key_scope
from atmosphere.api.paths import GUARDED
from atmosphere.errors import AtmosphereError, KeysUnavailable, Unauthorized
from atmosphere.observe import context
from atmosphere.store.keys import SECRET_PREFIX
from atmosphere.store.service import Store

WS_UNAUTHORIZED = 4401  # a WebSocket close code in the application range, read as HTTP's 401
_MISSING = "An API key is required: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
_WRONG = "The API key is not valid."
_CLIENT_PREFIX = SECRET_PREFIX.encode()
_CLIENT_SECRET = re.compile(re.escape(SECRET_PREFIX) + r"[A-Za-z0-9_-]{8,}")


def _tokens(request: context.RequestContext | None) -> int:
    entry = request.entry if request is not None else None
    return (entry.tokens_in or 0) + (entry.tokens_out or 0) if entry is not None else 0


class _RedactKeys(logging.Filter):
    """Replaces a key in any record of the loggers it guards. uvicorn's WebSocket layer logs
    each handshake line (the request line with its query, every header) at debug level,
    before the middleware below can take the key out."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(key in message for key in self.keys) or SECRET_PREFIX in message:
            for key in self.keys:
                message = message.replace(key, "<api key>")
            message = _CLIENT_SECRET.sub("<client key>", message)
            record.msg, record.args = message, None
        return True


_REDACT = _RedactKeys()
_REDACTED_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "atmosphere")


def redact_from_logs(key: str | None) -> None:
    """Keep ``key`` (and every ``atm_…`` client secret) out of every log line, whoever writes it."""
    if key is not None:
        _REDACT.keys.add(key)
    for name in _REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if _REDACT not in logger.filters:
            logger.addFilter(_REDACT)


class ApiKeyGuard:
    """ASGI middleware: the admin key, or a client key held to its scope and limits, on guarded
    paths; the refusal (401 / 403 / 429) in the caller's protocol."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        key: str | None,
        store: Store | None = None,
        require_keys: bool = False,
        first_message_timeout: float = 10.0,
    ):
        self.app = app
        redact_from_logs(key)  # and any client key's secret, admin key or not
        self._key = key.encode() if key is not None else None
        self._store = store
        self._require_keys = require_keys
        self._first_message_timeout = first_message_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not scope["path"].startswith(GUARDED):
            await self.app(scope, receive, send)
            return
        presented = _from_headers(scope)
        if scope["type"] == "websocket":
            if self._key is None:
                await self.app(scope, receive, send)
            else:
                await self._websocket(scope, receive, send, presented if presented is not None else _pop_query_key(scope))
            return
        if presented is not None and self._matches(presented):
            request = context.served()
            if request is not None:
                request.key = "admin"
            await self.app(scope, receive, send)
            return
        if presented is not None and presented.startswith(_CLIENT_PREFIX):
            await self._client(scope, receive, send, presented)
            return
        path: str = scope["path"]
        needed = self._key is not None or (self._require_keys and key_scope.family(path) is not None)
        if not needed:
            await self.app(scope, receive, send)  # loopback without keys: "local"
        elif scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method") is not None:
            await self.app(scope, receive, send)  # a CORS preflight never carries credentials
        else:
            await self._refuse(scope, receive, send, Unauthorized(_MISSING if presented is None else _WRONG))

    async def _client(self, scope: Scope, receive: Receive, send: Send, presented: bytes) -> None:
        """A request with a client key: found, in scope, within its limits, then served and counted."""
        store = self._store
        keys, limiter = (store.keys, store.limiter) if store is not None else (None, None)
        if keys is None or limiter is None:
            reason = store.reason if store is not None else "no key store"
            await self._refuse(scope, receive, send, KeysUnavailable(f"Client keys cannot be checked: {reason}."))
            return
        try:
            key = keys.find(presented) or await keys.find_fresh(presented)
        except (SQLAlchemyError, OSError):
            unreachable = KeysUnavailable("Client keys cannot be checked: the database is unreachable.")
            await self._refuse(scope, receive, send, unreachable)
            return
        if key is None:
            await self._refuse(scope, receive, send, Unauthorized(_WRONG))
            return
        error: AtmosphereError | None = key_scope.refusal(key, scope["path"])
        if error is None:
            try:
                error = await key_scope.admit(key, limiter)
            except (SQLAlchemyError, OSError):
                error = KeysUnavailable("The key's limits cannot be counted: the database is unreachable.")
        request = context.served()
        if request is not None:
            request.key = key.name  # refused or not, the history says whose request it was
        if error is not None:
            await self._refuse(scope, receive, send, error)
            return
        key_scope.hold_to(request, key)
        keys.used(key)
        try:
            await self.app(scope, receive, key_scope.answer_send(key, limiter, send))
        finally:
            limiter.release(key, _tokens(request))

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, error: AtmosphereError) -> None:
        if isinstance(error, Unauthorized):
            error.headers["WWW-Authenticate"] = 'Bearer realm="atmosphere"'
        app = scope.get("app", self.app)
        executor = getattr(getattr(app, "state", None), "executor", None)
        if executor is not None:  # the request log (and /ws) shows who was turned away, and why
            executor.recorder.refused(error)
        await render_error(app, scope["path"], error)(scope, receive, send)

    def _matches(self, presented: bytes) -> bool:
        return self._key is not None and hmac.compare_digest(presented, self._key)

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
