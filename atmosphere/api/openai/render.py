"""Domain results → OpenAI's JSON: chat completions, chunks, usage, embeddings, models.

Each OpenAI convention is written here once (zero usage when a backend counted nothing,
``usage: null`` on every chunk but the last, base64 float32 vectors) so every OpenAI-style
surface renders the same way.
"""

from __future__ import annotations

import base64
import struct
import time
from typing import Any

from atmosphere import jsonfast
from atmosphere.domain import CatalogModel, ChatChunk, ChatCompletion, Embeddings, TokenLogprob, ToolCallDelta, Usage


def usage_body(usage: Usage | None) -> dict[str, int]:
    """OpenAI's usage object; zeros when the backend reported none."""
    return (usage or Usage()).to_openai()


def embedding_usage_body(usage: Usage) -> dict[str, int]:
    """Embeddings count only input tokens."""
    return {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens}


def completion_body(answer: ChatCompletion) -> dict[str, Any]:
    """A ``chat.completion``. As OpenAI sends it: ``refusal: null``, ``content: null`` on a
    reply that only calls tools, and no ``system_fingerprint`` (clients type it as a string)."""
    content = None if answer.tool_calls and not answer.content else answer.content
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if answer.reasoning:
        message["reasoning_content"] = answer.reasoning
    if answer.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in answer.tool_calls
        ]
    return {
        "id": answer.id,
        "object": "chat.completion",
        "created": answer.created,
        "model": answer.model,
        "choices": [
            {"index": 0, "message": message, "logprobs": logprobs_body(answer.logprobs), "finish_reason": answer.finish_reason}
        ],
        "usage": usage_body(answer.usage),
    }


def _is_usage_report(chunk: ChatChunk) -> bool:
    return chunk.usage is not None and chunk.role is None and chunk.content is None and not chunk.has_content


def chunk_body(chunk: ChatChunk, include_usage: bool) -> dict[str, Any]:
    """One ``chat.completion.chunk``; a usage report has no choices. With ``include_usage``
    every other chunk carries ``usage: null``, as OpenAI sends it."""
    out: dict[str, Any] = {
        "id": chunk.id,
        "object": "chat.completion.chunk",
        "created": chunk.created,
        "model": chunk.model,
    }
    if _is_usage_report(chunk):
        out["choices"] = []
    else:
        delta: dict[str, Any] = {}
        if chunk.role is not None:
            delta["role"] = chunk.role
        if chunk.content is not None:
            delta["content"] = chunk.content
        if chunk.reasoning:
            delta["reasoning_content"] = chunk.reasoning
        if chunk.tool_calls:
            delta["tool_calls"] = [_tool_call_delta(c) for c in chunk.tool_calls]
        out["choices"] = [
            {"index": 0, "delta": delta, "logprobs": logprobs_body(chunk.logprobs), "finish_reason": chunk.finish_reason}
        ]
    if chunk.usage is not None:
        out["usage"] = usage_body(chunk.usage)
    elif include_usage:
        out["usage"] = None
    return out


class ChunkEvents:
    """One chat stream's chunks as SSE ``data:`` events, each byte for byte what
    ``chunk_body`` serialises. A chunk that carries only text (nearly every one) goes into a
    template built once per stream (id, created and model do not change), one string
    serialised instead of a dict built and serialised per chunk."""

    __slots__ = ("_include_usage", "_key", "_head", "_tail")

    def __init__(self, include_usage: bool) -> None:
        self._include_usage = include_usage
        self._key: tuple[str, int, str] | None = None
        self._head = self._tail = b""

    def event(self, chunk: ChatChunk) -> bytes:
        if (
            chunk.content is not None
            and chunk.role is None
            and chunk.finish_reason is None
            and chunk.usage is None
            and chunk.logprobs is None
            and not chunk.reasoning
            and not chunk.tool_calls
        ):
            if self._key != (chunk.id, chunk.created, chunk.model):
                self._template(chunk)
            return self._head + jsonfast.dumps(chunk.content) + self._tail
        return b"data: " + jsonfast.dumps(chunk_body(chunk, self._include_usage)) + b"\n\n"

    def _template(self, chunk: ChatChunk) -> None:
        """The event of a text-only chunk, cut where its text goes (``"content":""``)."""
        self._key = (chunk.id, chunk.created, chunk.model)
        empty = ChatChunk(chunk.id, chunk.created, chunk.model, content="")
        whole = b"data: " + jsonfast.dumps(chunk_body(empty, self._include_usage)) + b"\n\n"
        head, tail = whole.split(b'"content":""', 1)  # keys come before it: id, object, model are strings escaped
        self._head, self._tail = head + b'"content":', tail


def logprobs_body(logprobs: list[TokenLogprob] | None) -> dict[str, Any] | None:
    """A choice's ``logprobs``: null unless asked for, else ``{content: [...], refusal: null}``."""
    if logprobs is None:
        return None
    return {"content": [_token_body(t, top=True) for t in logprobs], "refusal": None}


def _token_body(token: TokenLogprob, top: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"token": token.token, "logprob": token.logprob, "bytes": token.bytes}
    if top:
        out["top_logprobs"] = [_token_body(t, top=False) for t in token.top]
    return out


def _tool_call_delta(call: ToolCallDelta) -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": call.arguments}
    if call.name is not None:
        function["name"] = call.name
    out: dict[str, Any] = {"index": call.index}
    if call.id is not None:
        out.update(id=call.id, type="function")
    out["function"] = function
    return out


def encode_vector(vector: list[float], encoding_format: str) -> list[float] | str:
    """As asked: floats, or base64 of little-endian float32 (the OpenAI SDK's default)."""
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


def embeddings_body(result: Embeddings, model: str, encoding_format: str) -> dict[str, Any]:
    return {
        "object": "list",
        "model": model,
        "data": [
            {"object": "embedding", "index": i, "embedding": encode_vector(v, encoding_format)}
            for i, v in enumerate(result.vectors)
        ],
        "usage": embedding_usage_body(result.usage),
    }


def model_body(model: CatalogModel) -> dict[str, Any]:
    return {"id": model.id, "object": "model", "created": model.created, "owned_by": model.owned_by}


def text_completion_body(answers: list[ChatCompletion]) -> dict[str, Any]:
    """One ``text_completion`` with a choice per prompt and the usage of them all."""
    first = answers[0]
    usage = Usage()
    for answer in answers:
        if answer.usage is not None:
            usage.prompt_tokens += answer.usage.prompt_tokens
            usage.completion_tokens += answer.usage.completion_tokens
    choices = [
        {"text": a.content or "", "index": i, "logprobs": None, "finish_reason": _finish(a.finish_reason)}
        for i, a in enumerate(answers)
    ]
    return {
        "id": _cmpl_id(first.id),
        "object": "text_completion",
        "created": first.created or int(time.time()),
        "model": first.model,
        "choices": choices,
        "usage": usage_body(usage),
    }


def text_completion_chunk_body(chunk: ChatChunk, index: int, include_usage: bool) -> dict[str, Any]:
    """A streamed ``text_completion`` (the same object type as the answer, as OpenAI sends it)."""
    out: dict[str, Any] = {"id": _cmpl_id(chunk.id), "object": "text_completion", "created": chunk.created, "model": chunk.model}
    if chunk.usage is not None and not chunk.has_content:
        out["choices"] = []
        out["usage"] = usage_body(chunk.usage)
        return out
    finish = _finish(chunk.finish_reason) if chunk.finish_reason else None
    out["choices"] = [{"text": chunk.content or "", "index": index, "logprobs": None, "finish_reason": finish}]
    if include_usage:
        out["usage"] = None
    return out


def _finish(reason: str | None) -> str:
    """Completions know only stop, length and content_filter."""
    return reason if reason in ("length", "content_filter") else "stop"


def _cmpl_id(chat_id: str) -> str:
    return "cmpl-" + chat_id.removeprefix("chatcmpl-")
