"""Streamed answers, framed once: Server-Sent Events and NDJSON lines.

Every face that streams builds its bytes here: ``sse_event`` for a ``data:`` event (with an
``event:`` line for protocols that name their events, like Anthropic's and OpenAI's
Responses), ``sse_comment`` for keep-alives, ``SSE_DONE`` for OpenAI's terminator,
and ``ndjson_line`` for Ollama's framing (``waiting.WatchedStream`` sends them as they come).
"""

from __future__ import annotations

from typing import Any

from atmosphere import jsonfast

SSE_MEDIA_TYPE = "text/event-stream"
NDJSON_MEDIA_TYPE = "application/x-ndjson"
# No caching, and no buffering by a proxy in front (nginx honours X-Accel-Buffering).
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
SSE_DONE = b"data: [DONE]\n\n"


def sse_event(data: bytes | dict[str, Any] | list[Any], event: str | None = None) -> bytes:
    """One event: ``event:`` (when named), a ``data:`` line per line of payload, a blank line.

    ``data`` is serialised JSON (bytes) or a JSON value to serialise.
    """
    payload = data if isinstance(data, bytes) else jsonfast.dumps(data)
    head = b"event: " + event.encode() + b"\n" if event else b""
    if b"\n" not in payload:  # always, for compact JSON: the fast path
        return head + b"data: " + payload + b"\n\n"
    return head + b"".join(b"data: " + line + b"\n" for line in payload.split(b"\n")) + b"\n"


def sse_comment(text: str = "") -> bytes:
    """A comment line, ignored by clients: a keep-alive that also flushes proxies."""
    return b"".join(b": " + line.encode() + b"\n" for line in (text.split("\n") if text else [""])) + b"\n"


def ndjson_line(data: bytes | dict[str, Any] | list[Any]) -> bytes:
    """One newline-delimited JSON line."""
    return (data if isinstance(data, bytes) else jsonfast.dumps(data)) + b"\n"
