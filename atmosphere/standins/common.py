"""Helpers shared by the three emulators: JSON/stream responses, text, vectors.

Everything here sits on the hot path of the benchmark stand-ins, so it avoids
per-request allocations beyond what the answer itself needs.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import struct
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

NDJSON = "application/x-ndjson"
SSE = "text/event-stream"

# Set by `EmulatorMiddleware` when the body is not valid JSON.
INVALID_JSON: Any = object()


class StreamCut(Exception):
    """Raised inside a stream to make uvicorn drop the connection mid-body."""


class _HideStreamCuts(logging.Filter):
    """Keep uvicorn from logging a stand-in's deliberate cuts (nothing else: in ``atmosphere
    demo`` the gateway logs through the same logger, and its records must stay visible)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, StreamCut)


def hide_stream_cuts() -> None:
    """Install the filter once; called when a stand-in starts, never at import."""
    error_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideStreamCuts) for f in error_log.filters):
        error_log.addFilter(_HideStreamCuts())


def json_response(obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """An orjson-encoded `application/json` response."""
    return Response(orjson.dumps(obj), status, headers, "application/json")


def request_json(request: Request) -> Any:
    """Body parsed once by the middleware: a value, None (empty) or INVALID_JSON."""
    return request.scope.get("emulator.json")


class ChunkStream(Response):
    """Streams pre-encoded chunks, `delay` apart, optionally cutting the socket.

    With `cut_after` set, the body stops after that many chunks and the
    connection is closed without the chunked-encoding terminator, which is
    how a crashed backend looks from the client side.
    """

    def __init__(
        self,
        chunks: Sequence[bytes],
        media_type: str,
        *,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        cut_after: int | None = None,
    ) -> None:
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.chunks = chunks
        self.delay = delay
        self.cut_after = cut_after
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        cut_after = self.cut_after
        for index, chunk in enumerate(self.chunks):
            if cut_after is not None and index >= cut_after:
                break
            if index and self.delay:
                await asyncio.sleep(self.delay)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if cut_after is not None:
            raise StreamCut
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def sse(obj: Any) -> bytes:
    """One server-sent event line carrying a JSON object."""
    return b"data: " + orjson.dumps(obj) + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"

_WORD = re.compile(r"\s*\S+")


def split_words(text: str) -> list[str]:
    """Word-sized stream pieces that concatenate back to `text` (minus trailing space)."""
    return _WORD.findall(text)


def count_words(text: str) -> int:
    return len(text.split())


def message_text(content: Any) -> str:
    """Text of an OpenAI/Ollama message content (string or list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def last_user_text(messages: Any) -> str:
    """Content of the last user message, "" when there is none."""
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return message_text(message.get("content"))
    return ""


def prompt_words(messages: Any) -> int:
    """A cheap stand-in for a prompt token count."""
    if not isinstance(messages, list):
        return 0
    return sum(count_words(message_text(m.get("content"))) for m in messages if isinstance(m, dict))


def limit_words(text: str, limit: Any) -> tuple[str, bool]:
    """Truncate to `limit` words when `limit` is a positive int; report truncation."""
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        return text, False
    words = split_words(text)
    if len(words) <= limit:
        return text, False
    return "".join(words[:limit]), True


@lru_cache(maxsize=4096)
def embedding_vector(text: str, dim: int) -> tuple[float, ...]:
    """A deterministic L2-normalized vector seeded by the text's hash."""
    raw = hashlib.shake_256(text.encode()).digest(2 * dim)
    ints = struct.unpack(f"<{dim}h", raw)
    norm = math.sqrt(math.fsum(i * i for i in ints)) or 1.0
    return tuple(i / norm for i in ints)


def now_rfc3339() -> str:
    """UTC timestamp with fractional seconds and a `Z`, as current Ollama emits."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def fastapi_missing(field: str, body: Any) -> Response:
    """FastAPI's 422 body for a missing required body field."""
    detail = [{"type": "missing", "loc": ["body", field], "msg": "Field required", "input": body}]
    return json_response({"detail": detail}, 422)


def fastapi_bad_json() -> Response:
    """FastAPI's 422 body for a request body that is not valid JSON."""
    detail = [
        {
            "type": "json_invalid",
            "loc": ["body", 0],
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": "Expecting value"},
        }
    ]
    return json_response({"detail": detail}, 422)


def fastapi_body_check(body: Any, *required: str) -> Response | None:
    """The 422 FastAPI would send for this body, or None when it is acceptable."""
    if body is INVALID_JSON:
        return fastapi_bad_json()
    if not isinstance(body, dict):
        detail = [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
        return json_response({"detail": detail}, 422)
    for field_name in required:
        if field_name not in body:
            return fastapi_missing(field_name, body)
    return None
