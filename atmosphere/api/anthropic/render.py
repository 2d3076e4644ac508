"""Domain results → Anthropic Messages answers, stream events and error envelopes (no I/O).

A ``ChatCompletion`` becomes a ``message`` object; ``MessageEvents`` turns a chunk stream
into the named event sequence the SDK's accumulator expects (shared/reference/anthropic-api.md
§4); ``error_status_and_body`` maps Atmosphere's statuses to Anthropic's (§5).

``stop_reason: "stop_sequence"`` cannot be told apart from ``end_turn``: no local backend says
which stop string matched, so a stop is always ``end_turn``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

from atmosphere import jsonfast
from atmosphere.domain import ChatChunk, ChatCompletion, Usage


def message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def _tool_use_id() -> str:
    return "toolu_" + secrets.token_hex(12)


# --- response -------------------------------------------------------------------------


def stop_reason(finish_reason: str | None, has_tool_calls: bool) -> str:
    if has_tool_calls or finish_reason == "tool_calls":
        return "tool_use"
    if finish_reason == "length":
        return "max_tokens"
    if finish_reason == "content_filter":
        return "refusal"
    return "end_turn"


def _tool_input(arguments: str) -> dict[str, Any]:
    try:
        value = jsonfast.loads(arguments) if arguments else {}
    except jsonfast.JSONDecodeError:
        return {"_raw_arguments": arguments}  # the model wrote broken JSON; keep it visible
    return value if isinstance(value, dict) else {"value": value}


def usage_body(usage: Usage | None) -> dict[str, int]:
    usage = usage or Usage()
    return {"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens}


def message_body(completion: ChatCompletion, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if completion.content:
        content.append({"type": "text", "text": completion.content})
    for call in completion.tool_calls:
        content.append(
            {"type": "tool_use", "id": call.id or _tool_use_id(), "name": call.name, "input": _tool_input(call.arguments)}
        )
    return {
        "id": message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(completion.finish_reason, bool(completion.tool_calls)),
        "stop_sequence": None,
        "usage": usage_body(completion.usage),
    }


Event = tuple[str, dict[str, Any]]


class MessageEvents:
    """Turns the chunks of one answer into Anthropic stream events, in order.

    Blocks are opened lazily, one at a time (text, or one per tool call) with indexes
    0, 1, 2… as the SDK's accumulator requires; reasoning is not forwarded.
    """

    def __init__(self, model: str, input_tokens: int):
        self.model = model
        self.input_tokens = input_tokens
        self._index = -1
        self._open: str | None = None  # "text" or "tool:<call index>"
        self._finish: str | None = None
        self._tool_calls = False
        self._usage: Usage | None = None

    def start(self) -> Iterator[Event]:
        message: dict[str, Any] = {
            "id": message_id(),
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": self.model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": 0},
        }
        yield "message_start", {"type": "message_start", "message": message}

    def _begin(self, key: str, block: dict[str, Any]) -> Iterator[Event]:
        yield from self._close()
        self._index += 1
        self._open = key
        yield "content_block_start", {"type": "content_block_start", "index": self._index, "content_block": block}

    def _close(self) -> Iterator[Event]:
        if self._open is not None:
            yield "content_block_stop", {"type": "content_block_stop", "index": self._index}
            self._open = None

    def _delta(self, delta: dict[str, Any]) -> Event:
        return "content_block_delta", {"type": "content_block_delta", "index": self._index, "delta": delta}

    def chunk(self, chunk: ChatChunk) -> Iterator[Event]:
        if chunk.usage is not None:
            self._usage = chunk.usage
        if chunk.content:
            if self._open != "text":
                yield from self._begin("text", {"type": "text", "text": ""})
            yield self._delta({"type": "text_delta", "text": chunk.content})
        for call in chunk.tool_calls:
            self._tool_calls = True
            key = f"tool:{call.index}"
            if self._open != key:
                if call.name is None and self._open is not None and self._open.startswith("tool:"):
                    continue  # a late piece of a call already closed: blocks cannot reopen
                block = {"type": "tool_use", "id": call.id or _tool_use_id(), "name": call.name or "", "input": {}}
                yield from self._begin(key, block)
            if call.arguments:
                yield self._delta({"type": "input_json_delta", "partial_json": call.arguments})
        if chunk.finish_reason:
            self._finish = chunk.finish_reason

    def finish(self) -> Iterator[Event]:
        if self._index < 0:  # an empty answer still has one (empty) text block
            yield from self._begin("text", {"type": "text", "text": ""})
        yield from self._close()
        usage = self._usage or Usage()
        reported: dict[str, int] = {"output_tokens": usage.completion_tokens}
        if usage.prompt_tokens:
            reported["input_tokens"] = usage.prompt_tokens
        delta = {"stop_reason": stop_reason(self._finish, self._tool_calls), "stop_sequence": None}
        yield "message_delta", {"type": "message_delta", "delta": delta, "usage": reported}
        yield "message_stop", {"type": "message_stop"}


# --- errors ---------------------------------------------------------------------------

# Atmosphere's status → (Anthropic's status, error type); the SDK retries 429, 5xx and 529.
_ERRORS: dict[int, tuple[int, str]] = {
    400: (400, "invalid_request_error"),
    401: (401, "authentication_error"),
    403: (403, "permission_error"),
    404: (404, "not_found_error"),
    405: (405, "invalid_request_error"),
    413: (413, "request_too_large"),
    429: (429, "rate_limit_error"),
    502: (500, "api_error"),  # a backend crashed or answered garbage
    503: (529, "overloaded_error"),  # no backend could take it now
    504: (504, "timeout_error"),
}


def error_status_and_body(status: int, message: str) -> tuple[int, dict[str, Any]]:
    """Anthropic's error envelope for an Atmosphere error status."""
    out_status, kind = _ERRORS.get(status, (500, "api_error") if status >= 500 else (status, "invalid_request_error"))
    return out_status, {"type": "error", "error": {"type": kind, "message": message}}


def stream_error(message: str) -> Event:
    """The ``error`` event that ends a stream the backend broke after it started."""
    return "error", {"type": "error", "error": {"type": "api_error", "message": message}}
