"""OpenAI-shaped answers (LlamaFarm speaks this dialect) → domain results.

Only what the domain types carry is kept: the first choice (``n`` > 1 is refused at the
face), its text, tool calls, finish reason, and the usage counts. ``model`` is always
the caller's native model (for LlamaFarm the alias, not the model behind it).
"""

from __future__ import annotations

import time
from typing import Any

from atmosphere import jsonfast
from atmosphere.domain import ChatChunk, ChatCompletion, ToolCall, ToolCallDelta, Usage
from atmosphere.errors import BackendFailure
from atmosphere.http.client import completion_id


def usage_from_openai(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    return Usage(prompt_tokens=_count(raw.get("prompt_tokens")), completion_tokens=_count(raw.get("completion_tokens")))


def completion_from_openai(data: dict[str, Any], model: str, what: str) -> ChatCompletion:
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise BackendFailure(f"{what}: answer has no choices", kind="error")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        raise BackendFailure(f"{what}: answer has no choices", kind="error")
    content = message.get("content")
    return ChatCompletion(
        id=data["id"] if isinstance(data.get("id"), str) else completion_id(),
        created=data["created"] if isinstance(data.get("created"), int) else int(time.time()),
        model=model,
        content=content if isinstance(content, str) else None,
        finish_reason=choice.get("finish_reason") or "stop",
        tool_calls=[_tool_call(c) for c in message.get("tool_calls") or () if isinstance(c, dict)],
        reasoning=_text(message.get("reasoning_content")),
        usage=usage_from_openai(data.get("usage")),
    )


def chunk_from_openai(data: dict[str, Any], model: str) -> ChatChunk:
    """One ``chat.completion.chunk``; a chunk without choices is a usage report."""
    chunk = ChatChunk(
        id=data["id"] if isinstance(data.get("id"), str) else "",
        created=data["created"] if isinstance(data.get("created"), int) else int(time.time()),
        model=model,
        usage=usage_from_openai(data.get("usage")),
    )
    choices = data.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        delta = _object(choice.get("delta"))
        chunk.role = _text(delta.get("role"))
        chunk.content = _text(delta.get("content"))
        chunk.reasoning = _text(delta.get("reasoning_content"))
        chunk.tool_calls = [_tool_call_delta(c, i) for i, c in enumerate(delta.get("tool_calls") or ()) if isinstance(c, dict)]
        chunk.finish_reason = _text(choice.get("finish_reason"))
    return chunk


def _tool_call(raw: dict[str, Any]) -> ToolCall:
    function = _object(raw.get("function"))
    return ToolCall(
        id=str(raw.get("id") or f"call_{completion_id()[9:21]}"),
        name=str(function.get("name") or ""),
        arguments=_arguments(function.get("arguments")),
    )


def _tool_call_delta(raw: dict[str, Any], position: int) -> ToolCallDelta:
    function = _object(raw.get("function"))
    index = raw.get("index")
    return ToolCallDelta(
        index=index if isinstance(index, int) else position,
        id=_text(raw.get("id")),
        name=_text(function.get("name")),
        arguments=_arguments(function.get("arguments")) if function.get("arguments") is not None else "",
    )


def _arguments(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    return jsonfast.dumps(raw if raw is not None else {}).decode()


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
