"""Project chat answers shaped per provider, as LlamaFarm 0.0.27 sends them (reference O.5-O.8).

- `universal` (the Universal Runtime): usage with `completion_tokens: 0` and the prompt
  counted, an extra `x_context_usage` key, `finish_reason` always `stop` (even when cut),
  every streamed delta repeating the role, no usage chunk.
- `openai`: real usage, `length` on a cut, the upstream's own ids.
- `ollama`: id `chatcmpl-<unix seconds>`; a non-stream call ignores `max_tokens`; the
  stream's finish chunk carries usage (switch `finish_usage`).
- Streams from `openai`/`ollama` that stop on `length` repeat the whole generation ten
  times, then add a canned "maximum number of tool calls" chunk (the 0.0.27 chat loop).
- When the provider's host does not answer: a 500 for a non-stream call, and for a stream
  the masked failure (HTTP 200, one apology chunk, `[DONE]`).

The answer is generated here; only the provider's host is checked, by a TCP connect,
and only when it is a wired stand-in or a loopback address: the emulator never
contacts anything else, so a hosted `base_url` counts as up.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import Response

from atmosphere.standins.catalog import Project, ProjectModel
from atmosphere.standins.common import (
    SSE,
    SSE_DONE,
    ChunkStream,
    count_words,
    json_response,
    last_user_text,
    limit_words,
    prompt_words,
    split_words,
    sse,
)
from atmosphere.standins.state import EmulatorState

APOLOGY = (
    "I notice my previous response wasn't very helpful. Let me try to provide a better answer. "
    "Could you rephrase your question or share a bit more detail?"
)
MAX_ITERATIONS_MESSAGE = "I've reached the maximum number of tool calls. Please try rephrasing your request."
UPSTREAM_FAILURE = "Chat service failed to generate a response: Connection error."
MAX_TOOL_ITERATIONS = 10
_CONTEXT = 4096  # the n_ctx the real runs used
_SESSIONS_KEPT = 1000


def reply_text(project: str, alias: str, user_text: str) -> str:
    """What every LlamaFarm emulator answer says: deterministic and self-identifying."""
    return f"Hello from the LlamaFarm emulator ({project}/{alias})! You said: {user_text}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _answers(url: str | None) -> bool:
    """Whether something accepts connections at `url` (None: not wired, taken as up)."""
    if url is None:
        return True
    parts = urlsplit(url)
    if not parts.hostname or not _is_loopback(parts.hostname):
        return True  # never contact a host that is not this machine
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        # A port nobody listens on refuses at once; the timeout only bounds a black hole, so it can be
        # generous enough that a busy test machine never makes a live runtime look down.
        _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port), 3.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


def provider_host(state: EmulatorState, model: ProjectModel) -> str | None:
    """The host that serves this model for LlamaFarm (what chat fails on when it is down)."""
    if model.provider == "universal":
        return state.lf_runtime_url
    if model.provider == "ollama":
        # The emulator's `ollama` models run on the Ollama LlamaFarm is configured with.
        return state.lf_ollama_url
    return model.base_url


class ChatAnswers:
    """Builds the answer of one project chat request."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    async def answer(self, project: Project, model: ProjectModel, body: dict[str, Any], session: str) -> Response:
        state = self.state
        stream = body.get("stream") is True
        headers = {"X-Session-ID": session}
        if state.fault == "masked" or not await _answers(provider_host(state, model)):
            if state.chat_failure_delay > 0:
                await asyncio.sleep(state.chat_failure_delay)
            if stream:
                return self._masked(model, headers)
            return json_response({"detail": UPSTREAM_FAILURE}, 500, headers)
        messages = body["messages"]
        prompt = prompt_words(messages) + (state.sessions.pop(session, 0) if session else 0)
        text = reply_text(project.name, model.name, last_user_text(messages))
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if not (model.provider == "ollama" and not stream):  # that path drops max_tokens
            text, truncated = limit_words(text, limit)
        else:
            truncated = False
        if session:
            state.sessions[session] = prompt + count_words(text)
            while len(state.sessions) > _SESSIONS_KEPT:
                state.sessions.pop(next(iter(state.sessions)))
        if stream:
            return self._stream(model, text, prompt, truncated, headers)
        return json_response(_completion(model, text, prompt, truncated), headers=headers)

    def _masked(self, model: ProjectModel, headers: dict[str, str]) -> Response:
        chunk = {
            "id": f"chat-{uuid.uuid4()}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model.name,
            "choices": [{"index": 0, "delta": {"content": APOLOGY}, "finish_reason": "stop"}],
        }
        return ChunkStream([sse(chunk), SSE_DONE], SSE, headers=_stream_headers(headers))

    def _stream(self, model: ProjectModel, text: str, prompt: int, truncated: bool, headers: dict[str, str]) -> Response:
        state = self.state
        pieces = split_words(text)
        if model.provider == "universal":
            chunks = _universal_stream(model, pieces)
        else:
            finish = "length" if truncated else "stop"
            rounds = MAX_TOOL_ITERATIONS if finish == "length" and state.length_loop else 1
            chunks = []
            for _ in range(rounds):
                chunks += _generation(model, pieces, finish, prompt, state.finish_usage)
            if rounds == MAX_TOOL_ITERATIONS:
                chunks.append(_canned_last_chunk(model))
        chunks.append(SSE_DONE)
        cut = state.cut_after if state.fault in ("cut", "stream_error") else None
        return ChunkStream(chunks, SSE, headers=_stream_headers(headers), delay=state.chunk_delay, cut_after=cut)


def _stream_headers(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _completion_id(model: ProjectModel) -> str:
    if model.provider == "ollama":
        return f"chatcmpl-{int(time.time())}"  # not unique within a second
    return f"chatcmpl-{uuid.uuid4().hex}"


def _completion(model: ProjectModel, text: str, prompt: int, truncated: bool) -> dict[str, Any]:
    completion = count_words(text)
    answer: dict[str, Any] = {
        "id": _completion_id(model),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model.model,  # the backend model, not the alias
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "length" if truncated and model.provider != "universal" else "stop",
            }
        ],
    }
    if model.provider == "universal":
        answer["usage"] = {"prompt_tokens": prompt, "completion_tokens": 0, "total_tokens": prompt}
        answer["x_context_usage"] = context_usage(prompt)
    else:
        answer["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    return answer


def context_usage(prompt: int) -> dict[str, Any]:
    """The runtime's `x_context_usage`: 512 reserved for the answer, plus a 5 % margin."""
    return {
        "total_context": _CONTEXT,
        "prompt_tokens": prompt,
        "available_for_completion": _CONTEXT - prompt - int(0.05 * _CONTEXT),
        "truncated": False,
        "truncated_messages": 0,
    }


def _base(model: ProjectModel, chunk_id: str) -> dict[str, Any]:
    return {"id": chunk_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model.model}


def _universal_stream(model: ProjectModel, pieces: list[str]) -> list[bytes]:
    """Every delta repeats the role; the end is `delta: {}` + `stop`; no usage chunk."""
    base = _base(model, f"chatcmpl-{uuid.uuid4().hex}")
    chunks = [sse({**base, "choices": [{"index": 0, "delta": {"content": "", "role": "assistant"}}]})]
    for piece in pieces:
        chunks.append(sse({**base, "choices": [{"index": 0, "delta": {"content": piece, "role": "assistant"}}]}))
    chunks.append(sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    return chunks


def _generation(model: ProjectModel, pieces: list[str], finish: str, prompt: int, finish_usage: bool) -> list[bytes]:
    """One generation of an `openai`/`ollama` provider: role once, nulls stripped."""
    base = _base(model, _completion_id(model))
    chunks = []
    for index, piece in enumerate(pieces):
        delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
        chunks.append(sse({**base, "choices": [{"index": 0, "delta": delta}]}))
    last: dict[str, Any] = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
    if finish_usage and model.provider == "ollama":
        last["usage"] = {"prompt_tokens": prompt, "completion_tokens": len(pieces), "total_tokens": prompt + len(pieces)}
    chunks.append(sse(last))
    return chunks


def _canned_last_chunk(model: ProjectModel) -> bytes:
    """What the loop appends after its tenth iteration: alias as model, a `chat-<uuid>` id."""
    chunk = {
        "id": f"chat-{uuid.uuid4()}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model.name,
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": MAX_ITERATIONS_MESSAGE}, "finish_reason": "stop"}],
    }
    return sse(chunk)
