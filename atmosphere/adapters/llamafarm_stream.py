"""LlamaFarm's chat stream (SSE) → domain chunks, with its masked failure caught.

When the model behind a project cannot answer, LlamaFarm still answers a stream with 200
whose only content is a canned apology beginning with ``MASKED_FAILURE_PREFIX`` (its
non-streaming chat answers a 500 instead). Leading chunks are held back until real
content shows, so that apology becomes a failure the executor can fall back from.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from atmosphere.adapters.openai_wire import chunk_from_openai
from atmosphere.domain import ChatChunk, Usage
from atmosphere.errors import BackendFailure
from atmosphere.http.client import iter_lines, parse_json_object

# The text LlamaFarm's masked stream failure begins with, verbatim.
MASKED_FAILURE_PREFIX = "I notice my previous response wasn't very helpful."


async def stream_chunks(resp: Any, model: str, include_usage: bool) -> AsyncIterator[ChatChunk]:
    """SSE → chunks. Leading chunks are held back until real content shows, so a
    masked failure (the canned apology) is caught before anything reaches the client;
    of the empty ones only the first is kept (bounded, whatever the backend sends)."""
    held: list[ChatChunk] = []
    checked = False
    finished = False
    saw_usage = False
    role_sent = False
    last: ChatChunk | None = None
    async for line in iter_lines(resp, "chat stream"):
        if not line.startswith(b"data:"):
            continue
        payload = line[5:].strip()
        if payload == b"[DONE]":
            finished = True
            break
        data = parse_json_object(payload, "chat stream")
        if "error" in data:
            raise BackendFailure(f"chat stream: {data['error']}", kind="error")
        chunk = chunk_from_openai(data, model)
        if role_sent:
            chunk.role = None  # the runtime repeats the role on every delta; OpenAI sends it once
        role_sent = role_sent or chunk.role is not None
        saw_usage = saw_usage or chunk.usage is not None
        last = chunk
        if checked:
            yield chunk
            continue
        if not chunk.has_content:
            # Held: the first only (it carries the role). Later empty deltas are dropped, so a
            # backend that sends nothing else cannot fill memory while we wait for content.
            if not held:
                held.append(chunk)
            continue
        held.append(chunk)
        if (chunk.content or "").lstrip().startswith(MASKED_FAILURE_PREFIX):
            raise BackendFailure("chat stream: LlamaFarm answered with its masked-failure apology", kind="error")
        checked = True
        for waiting in held:
            yield waiting
        held.clear()
    if not finished:
        raise BackendFailure("chat stream: ended without [DONE]", kind="error")
    for waiting in held:  # a stream with no content at all
        yield waiting
    if include_usage and not saw_usage and last is not None:
        # LlamaFarm counted nothing: report zeros rather than leave the client waiting for usage.
        yield ChatChunk(id=last.id, created=last.created, model=model, usage=Usage(estimated=True))
