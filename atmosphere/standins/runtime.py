"""A protocol-faithful stand-in for LlamaFarm's Universal Runtime (port 11540).

Follows shared/reference/llamafarm-api.md section 8 and what the real runtime of 0.0.27
did ("Observed", O.9, S.4): OpenAI-style chat and embeddings; chat usage counts the prompt
but always says `completion_tokens: 0`, with an extra `x_context_usage` key;
`finish_reason` always "stop" (even when cut by `max_tokens`); every delta repeats the
role; `/health` and `/v1/models` list only loaded models, by cache key; every failure is
a 500 `{"detail": ...}`, and an embedding model it cannot load gets a generic one.
"""

from __future__ import annotations

import base64
import os
import platform
import struct
import time
import uuid
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from atmosphere.standins.common import (
    SSE,
    SSE_DONE,
    ChunkStream,
    embedding_vector,
    fastapi_body_check,
    json_response,
    last_user_text,
    limit_words,
    prompt_words,
    request_json,
    split_words,
    sse,
)
from atmosphere.standins.llamafarm_chat import context_usage
from atmosphere.standins.middleware import emulator_app
from atmosphere.standins.state import EmulatorState

EMBEDDING_DIM = 384
RUNTIME_CRASH = "Failed to generate completion: llama_decode returned -3"
EMBEDDING_FAILURE = "An error occurred while generating embeddings"
_LANGUAGE_KEY = (
    ":ctxauto:batchauto:gpuauto:threadsauto:flashdefault:mmapdefault:mlockdefault:cachekdefault:cachevdefault:quantdefault"
)


def reply_text(model: str, user_text: str) -> str:
    """What every runtime emulator answer says: deterministic and self-identifying."""
    return f"Hello from the Universal Runtime emulator ({model})! You said: {user_text}"


def cache_key(kind: str, model: str) -> str:
    """The runtime's internal id for a loaded model (not the name clients send), as observed.

    The `gguf` field of an encoder key is what a GGUF encoder showed; what a transformers
    encoder shows there is unconfirmed.
    """
    if kind == "encoder":
        return f"encoder:embedding:gguf:{model}:quantdefault:lenauto"
    return f"language:{model}{_LANGUAGE_KEY}"


def model_of_key(key: str) -> str:
    """The model id inside a cache key (the field after the kind prefix)."""
    if key.startswith("encoder:embedding:"):
        return key.split(":", 3)[3].removesuffix(":quantdefault:lenauto")
    return key.removeprefix("language:").removesuffix(_LANGUAGE_KEY)


def preload(state: EmulatorState, kind: str, model: str) -> str:
    """Mark a model loaded, as if a request had loaded it; returns its cache key."""
    key = cache_key(kind, model)
    state.loaded[key] = time.time()
    return key


def _detail(message: str, status: int = 500) -> Response:
    return json_response({"detail": message}, status)


def _unprocessable(loc: list[Any], kind: str, msg: str, value: Any) -> Response:
    detail = [{"type": kind, "loc": loc, "msg": msg, "input": value}]
    return json_response({"detail": detail}, 422)


class _Api:
    """Handlers bound to one `EmulatorState`."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def _load(self, kind: str, model: str) -> Response | None:
        """Mark the model loaded, or answer 500 as an offline runtime would."""
        if model not in self.state.runtime_models:
            self.state.loaded.pop(cache_key(kind, model), None)
            if kind == "encoder":
                return _detail(EMBEDDING_FAILURE)  # generic, not the exception (O.9)
            return _detail(
                f"Failed to load model '{model}': {model} is not a valid model identifier "
                "on the Hugging Face Hub and no local copy was found"
            )
        preload(self.state, kind, model)
        return None

    async def health(self, request: Request) -> Response:
        # The real status is always "healthy" once wired; `unhealthy` is a test fault.
        return json_response(
            {
                "status": "unhealthy" if self.state.fault == "unhealthy" else "healthy",
                "device": {
                    "device": "cpu",
                    "platform": platform.system(),
                    "python_version": platform.python_version(),
                    "torch_version": "2.10.0+cpu",
                    "torch_available": True,
                },
                "loaded_models": list(self.state.loaded),
                "timestamp": datetime.now().isoformat(),  # naive, as the real one
                "pid": os.getpid(),
            }
        )

    async def models(self, request: Request) -> Response:
        created = int(time.time())
        data = [
            {
                "id": key,
                "object": "model",
                "created": created,
                "owned_by": "transformers-runtime",
                "type": "encoder_embedding" if key.startswith("encoder:") else "language",
            }
            for key in self.state.loaded
        ]
        return json_response({"object": "list", "data": data})

    async def chat(self, request: Request) -> Response:
        body = request_json(request)
        invalid = fastapi_body_check(body, "model", "messages")
        if invalid is not None:
            return invalid
        model = body["model"]
        if not isinstance(model, str):
            return _unprocessable(["body", "model"], "string_type", "Input should be a valid string", model)
        failed = self._load("language", model)
        if failed is not None:
            return failed
        text, _ = limit_words(reply_text(model, last_user_text(body["messages"])), body.get("max_tokens"))
        prompt = prompt_words(body["messages"])
        head = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "created": int(time.time()),
            "model": model,
        }
        if body.get("stream") is True:
            return self._stream(head, text)
        return json_response(
            {
                "id": head["id"],
                "object": "chat.completion",
                "created": head["created"],
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": 0, "total_tokens": prompt},
                "x_context_usage": context_usage(prompt),
            }
        )

    def _stream(self, head: dict[str, Any], text: str) -> Response:
        base = {"id": head["id"], "object": "chat.completion.chunk", "created": head["created"], "model": head["model"]}

        def chunk(delta: dict[str, str], finish: str | None) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return sse({**base, "choices": [choice]})

        chunks = [chunk({"role": "assistant", "content": ""}, None)]
        chunks += [chunk({"role": "assistant", "content": p}, None) for p in split_words(text)]
        chunks += [chunk({}, "stop"), SSE_DONE]
        state = self.state
        cut = state.cut_after if state.fault in ("cut", "stream_error") else None
        return ChunkStream(chunks, SSE, delay=state.chunk_delay, cut_after=cut)

    async def embeddings(self, request: Request) -> Response:
        body = request_json(request)
        invalid = fastapi_body_check(body, "model", "input")
        if invalid is not None:
            return invalid
        raw, model = body["input"], body["model"]
        if isinstance(raw, str):
            texts = [raw]
        elif isinstance(raw, list) and all(isinstance(t, str) for t in raw):
            texts = raw
        else:
            return _unprocessable(["body", "input"], "string_type", "Input should be a valid string", raw)
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            return _unprocessable(["body", "encoding_format"], "literal_error", "Input should be 'float' or 'base64'", encoding)
        failed = self._load("encoder", model)
        if failed is not None:
            return failed
        data = []
        for index, text in enumerate(texts):
            vector: Any = embedding_vector(text, EMBEDDING_DIM)
            if encoding == "base64":
                vector = base64.b64encode(struct.pack(f"<{EMBEDDING_DIM}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        usage = {"prompt_tokens": 0, "total_tokens": 0}
        return json_response({"object": "list", "model": model, "data": data, "usage": usage})


async def _fastapi_fallback(request: Request, exc: Exception) -> Response:
    """FastAPI's JSON answers for unknown paths (404) and wrong methods (405)."""
    if isinstance(exc, HTTPException):
        return json_response({"detail": exc.detail}, exc.status_code, exc.headers)
    return _detail("Internal Server Error")


def create_runtime_app(state: EmulatorState | None = None) -> Starlette:
    """Build the Universal Runtime emulator; `app.state.emulator` holds its state."""
    state = state if state is not None else EmulatorState()
    api = _Api(state)
    routes = [
        Route("/health", api.health),
        Route("/v1/models", api.models),
        Route("/v1/chat/completions", api.chat, methods=["POST"]),
        Route("/v1/embeddings", api.embeddings, methods=["POST"]),
    ]
    return emulator_app(state, routes, error500=_detail(RUNTIME_CRASH), unrouted=_fastapi_fallback)
