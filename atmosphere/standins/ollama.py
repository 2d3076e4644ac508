"""A protocol-faithful stand-in for Ollama's native `/api/*` HTTP API.

Wire format follows shared/reference/ollama-api.md: NDJSON streaming on by
default, nanosecond metrics on the final line, `{"error": ...}` bodies, and a
200 status even when a stream fails midway. Switches reproduce the real 0.5.4
(`scenes.ollama_054`: no `capabilities`, 404 for a wrong method, the older
not-found wording) and cloud models (`remote_host`/`remote_model` entries, answered
here: the emulator never contacts ollama.com). `state.show_calls` counts `/api/show`
per model, so a test can prove a client caches it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from atmosphere.standins.catalog import OllamaModel
from atmosphere.standins.common import (
    INVALID_JSON,
    NDJSON,
    ChunkStream,
    count_words,
    embedding_vector,
    json_response,
    last_user_text,
    limit_words,
    now_rfc3339,
    prompt_words,
    request_json,
    split_words,
)
from atmosphere.standins.middleware import emulator_app
from atmosphere.standins.ollama_logprobs import logprobs_asked, token_logprob
from atmosphere.standins.ollama_tools import planned_tool_call, tool_result_reply
from atmosphere.standins.state import EmulatorState, normalize_model

RUNNER_CRASH = "llama runner process has terminated: exit status 2"
_LEGACY_NOT_FOUND = 'model "{}" not found, try pulling it first'
MID_STREAM_ERROR = "an error was encountered while running the model: unexpected EOF"
_NS_PER_WORD = 12_500_000  # pretend 80 tokens/s


def reply_text(model: str, user_text: str) -> str:
    """What every Ollama emulator answer says: deterministic and self-identifying."""
    return f"Hello from the Ollama emulator ({model})! You said: {user_text}"


def _error(message: str, status: int) -> Response:
    return json_response({"error": message}, status)


def _metrics(prompt_count: int, eval_count: int) -> dict[str, int]:
    """Nanosecond timings; zero-valued fields are omitted as Ollama does."""
    prompt_ns = prompt_count * 1_000_000
    eval_ns = eval_count * _NS_PER_WORD
    load_ns = 1_234_567
    metrics = {
        "total_duration": load_ns + prompt_ns + eval_ns + 250_000,
        "load_duration": load_ns,
        "prompt_eval_count": prompt_count,
        "prompt_eval_duration": prompt_ns,
        "eval_count": eval_count,
        "eval_duration": eval_ns,
    }
    return {k: v for k, v in metrics.items() if v}


def _loaded(name: str, verb: str, *, unload: bool) -> Response:
    """Ollama's reply to a chat or generate with nothing to generate: the model was loaded (or,
    with ``keep_alive: 0``, unloaded). Generate names only an unload as its ``done_reason``."""
    created = now_rfc3339()
    if verb == "chat":
        empty = {"role": "assistant", "content": ""}
        reason = "unload" if unload else "load"
        return json_response({"model": name, "created_at": created, "message": empty, "done_reason": reason, "done": True})
    reply: dict[str, Any] = {"model": name, "created_at": created, "response": "", "done": True}
    if unload:
        reply["done_reason"] = "unload"
    return json_response(reply)


def _keep_alive_zero(body: dict[str, Any]) -> bool:
    return body.get("keep_alive") in (0, "0", "0s", "0m")


class _Api:
    """Handlers bound to one `EmulatorState`."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def _resolve(self, request: Request, not_found: str | None = None) -> tuple[dict[str, Any], OllamaModel] | Response:
        """Validate the body and find its model, or return Ollama's error answer."""
        body = request_json(request)
        if body is None:
            return _error("missing request body", 400)
        if body is INVALID_JSON:
            return _error("invalid character looking for beginning of value", 400)
        if not isinstance(body, dict):
            return _error("json: cannot unmarshal into Go value of type api.Request", 400)
        name = body.get("model") or body.get("name")
        if not name or not isinstance(name, str):
            return _error("model is required", 400)
        model = self.state.find_model(name)
        if model is None:
            if not_found is None:
                not_found = _LEGACY_NOT_FOUND if self.state.legacy_not_found else "model '{}' not found"
            return _error(not_found.format(name), 404)
        return body, model

    def _touch(self, model: OllamaModel, body: dict[str, Any]) -> None:
        if _keep_alive_zero(body):
            self.state.loaded.pop(model.name, None)
        else:
            self.state.loaded[model.name] = time.time()

    async def root(self, request: Request) -> Response:
        return PlainTextResponse("Ollama is running")

    async def version(self, request: Request) -> Response:
        return json_response({"version": self.state.ollama_version})

    async def tags(self, request: Request) -> Response:
        new = self.state.with_capabilities
        return json_response({"models": [_tag_entry(m, new) for m in self.state.models]})

    async def ps(self, request: Request) -> Response:
        loaded = sorted(self.state.loaded.items(), key=lambda item: -item[1])
        entries = []
        for name, used_at in loaded:
            model = self.state.find_model(name)
            if model is not None:
                entries.append(_ps_entry(model, used_at))
        return json_response({"models": entries})

    async def show(self, request: Request) -> Response:
        body = request_json(request)
        if isinstance(body, dict):
            self.state.show_calls[str(body.get("model") or body.get("name"))] += 1
        resolved = self._resolve(request)
        if isinstance(resolved, Response):
            return resolved
        return json_response(_show_body(resolved[1], self.state.with_capabilities))

    async def _completion(self, request: Request, verb: str) -> tuple[dict[str, Any], str] | Response:
        """Body and requested name for chat/generate (with messages or a prompt to answer), or
        what Ollama answers instead: its refusal (an embedding-only model), or a load or unload
        call's reply when there is nothing to generate; after ``answer_delay``, where one is set."""
        if self.state.answer_delay:
            await self._think()
        resolved = self._resolve(request)
        if isinstance(resolved, Response):
            return resolved
        body, model = resolved
        if not model.chat_capable:
            return _error(f'"{model.name}" does not support {verb}', 400)
        self._touch(model, body)
        name = body.get("model") or body["name"]
        wanted = body.get("messages") if verb == "chat" else body.get("prompt")
        if not wanted or (verb == "generate" and not isinstance(wanted, str)):
            return _loaded(name, verb, unload=_keep_alive_zero(body))
        return body, name

    async def _think(self) -> None:
        """Take ``answer_delay`` per completion, counting how many are answered at once."""
        state = self.state
        state.active += 1
        state.peak_active = max(state.peak_active, state.active)
        try:
            await asyncio.sleep(state.answer_delay)
        finally:
            state.active -= 1

    async def chat(self, request: Request) -> Response:
        resolved = await self._completion(request, "chat")
        if isinstance(resolved, Response):
            return resolved
        body, name = resolved
        messages = body["messages"]
        model = self.state.find_model(name)
        if body.get("tools") and model is not None and "tools" not in model.capabilities:
            return _error(f"{normalize_model(name)} does not support tools", 400)
        call = planned_tool_call(body)
        if call is not None:
            return self._tool_call(body, name, call, prompt_words(messages))
        text = tool_result_reply(name, messages) or reply_text(name, last_user_text(messages))
        return self._answer(body, name, text, prompt_words(messages), "message")

    def _tool_call(self, body: dict[str, Any], name: str, call: dict[str, Any], prompt_count: int) -> Response:
        """An answer that is one tool call: on a ``done: false`` line when streaming."""
        created = now_rfc3339()
        message = {"role": "assistant", "content": "", "tool_calls": [call]}
        final = {"model": name, "created_at": created, "message": {"role": "assistant", "content": ""}, "done": True}
        final.update(done_reason="stop", **_metrics(prompt_count, 1))
        if body.get("stream", True) is False:
            return json_response({**final, "message": message})
        line = {"model": name, "created_at": created, "message": message, "done": False}
        return ChunkStream([orjson.dumps(line) + b"\n", orjson.dumps(final) + b"\n"], NDJSON, delay=self.state.chunk_delay)

    async def generate(self, request: Request) -> Response:
        resolved = await self._completion(request, "generate")
        if isinstance(resolved, Response):
            return resolved
        body, name = resolved
        return self._answer(body, name, reply_text(name, body["prompt"]), count_words(body["prompt"]), "response")

    def _answer(self, body: dict[str, Any], name: str, text: str, prompt_count: int, field: str) -> Response:
        """Shared tail of chat/generate: truncation, metrics, stream or single object."""
        options = body.get("options")
        limit = options.get("num_predict") if isinstance(options, dict) else None
        text, truncated = limit_words(text, limit)
        pieces = split_words(text)
        created = now_rfc3339()
        final: dict[str, Any] = {"model": name, "created_at": created}
        final[field] = {"role": "assistant", "content": ""} if field == "message" else ""
        final["done"] = True
        final["done_reason"] = "length" if truncated else "stop"
        if field == "response" and not body.get("raw"):
            final["context"] = list(range(1, prompt_count + len(pieces) + 1))
        final.update(_metrics(prompt_count, len(pieces)))
        top = logprobs_asked(body, self.state.ollama_version)
        if body.get("stream", True) is False:
            final[field] = {"role": "assistant", "content": text} if field == "message" else text
            if top is not None:
                final["logprobs"] = [token_logprob(piece, top) for piece in pieces]
            return json_response(final)
        return self._stream(name, created, pieces, final, field, top)

    def _stream(
        self, name: str, created: str, pieces: list[str], final: dict[str, Any], field: str, top: int | None = None
    ) -> Response:
        lines = []
        for piece in pieces:
            part: Any = {"role": "assistant", "content": piece} if field == "message" else piece
            obj = {"model": name, "created_at": created, field: part, "done": False}
            if top is not None:
                obj["logprobs"] = [token_logprob(piece, top)]  # each line carries its own tokens'
            lines.append(orjson.dumps(obj) + b"\n")
        state = self.state
        cut_after: int | None = None
        if state.fault == "stream_error":
            lines = lines[: state.cut_after]
            lines.append(orjson.dumps({"error": MID_STREAM_ERROR}) + b"\n")
        else:
            lines.append(orjson.dumps(final) + b"\n")
            if state.fault == "cut":
                cut_after = state.cut_after
        return ChunkStream(lines, NDJSON, delay=state.chunk_delay, cut_after=cut_after)

    async def embed(self, request: Request) -> Response:
        resolved = self._resolve(request)
        if isinstance(resolved, Response):
            return resolved
        body, model = resolved
        self._touch(model, body)
        raw = body.get("input")
        if raw is None or raw == "":
            texts: list[str] = []
        elif isinstance(raw, str):
            texts = [raw]
        elif isinstance(raw, list) and all(isinstance(t, str) for t in raw):
            texts = raw
        else:
            return _error("invalid input type", 400)
        dims = body.get("dimensions")
        vectors = [_vector(t, model.embedding_length, dims) for t in texts]
        words = sum(count_words(t) for t in texts)
        answer: dict[str, Any] = {"model": body.get("model") or body["name"]}
        answer["embeddings"] = vectors
        answer.update({"total_duration": 14_143_917, "load_duration": 1_019_500})
        if words:
            answer["prompt_eval_count"] = words
        return json_response(answer)

    async def embeddings(self, request: Request) -> Response:
        resolved = self._resolve(request, _LEGACY_NOT_FOUND)
        if isinstance(resolved, Response):
            return resolved
        body, model = resolved
        self._touch(model, body)
        prompt = body.get("prompt")
        if not prompt or not isinstance(prompt, str):
            return json_response({"embedding": []})
        return json_response({"embedding": embedding_vector(prompt, model.embedding_length)})


def _vector(text: str, dim: int, dims: Any) -> tuple[float, ...] | list[float]:
    """Embedding for `text`, cut to `dims` and re-normalized when asked."""
    vector = embedding_vector(text, dim)
    if isinstance(dims, int) and 0 < dims < dim:
        head = vector[:dims]
        norm = sum(v * v for v in head) ** 0.5 or 1.0
        return [v / norm for v in head]
    return vector


def _details(model: OllamaModel, new: bool) -> dict[str, Any]:
    details: dict[str, Any] = {
        "parent_model": "",
        "format": model.format,
        "family": model.family,
        "families": model.families,
        "parameter_size": model.parameter_size,
        "quantization_level": model.quantization_level,
    }
    if new:
        details["context_length"] = model.context_length
        details["embedding_length"] = model.embedding_length
    return details


def _remote(model: OllamaModel) -> dict[str, str]:
    """`remote_model`/`remote_host` of a cloud model (omitted when empty, as Go does)."""
    if model.remote_host is None:
        return {}
    return {"remote_model": model.remote_model or model.name, "remote_host": model.remote_host}


def _tag_entry(model: OllamaModel, new: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": model.name,
        "model": model.name,
        **_remote(model),
        "modified_at": model.modified_at,
        "size": model.size,
        "digest": model.digest,
        "details": _details(model, new),
    }
    if new:
        entry["capabilities"] = model.capabilities
    return entry


def _ps_entry(model: OllamaModel, used_at: float) -> dict[str, Any]:
    expires = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(used_at + 300))
    return {
        "name": model.name,
        "model": model.name,
        "size": model.size * 2,
        "digest": model.digest,
        "details": _details(model, False),
        "expires_at": expires,
        "size_vram": 0,
        "context_length": min(model.context_length, 4096),
    }


def _show_body(model: OllamaModel, new: bool) -> dict[str, Any]:
    arch = model.family.replace("-", "")
    body: dict[str, Any] = {
        "modelfile": f'# Modelfile generated by "ollama show"\nFROM {model.name}\n',
        "parameters": 'stop "<|eot_id|>"',
        "template": "{{ .Prompt }}",
        "details": _details(model, False),
        **_remote(model),
        "model_info": {
            "general.architecture": arch,
            "general.parameter_count": 0,
            f"{arch}.context_length": model.context_length,
            f"{arch}.embedding_length": model.embedding_length,
        },
        "modified_at": model.modified_at,
    }
    if new:
        body["capabilities"] = model.capabilities
    return body


def _not_found(state: EmulatorState) -> Callable[[Request, Exception], Awaitable[Response]]:
    """Gin's plain-text answers for unknown paths and wrong methods (404 for both on 0.5.4)."""

    async def handle(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 405:
            status = state.wrong_method_status
        text = "405 method not allowed" if status == 405 else "404 page not found"
        return PlainTextResponse(text, status)

    return handle


def create_ollama_app(state: EmulatorState | None = None) -> Starlette:
    """Build the Ollama emulator; `app.state.emulator` holds its `EmulatorState`."""
    state = state if state is not None else EmulatorState()
    api = _Api(state)
    routes = [
        Route("/", api.root),
        Route("/api/version", api.version),
        Route("/api/tags", api.tags),
        Route("/api/ps", api.ps),
        Route("/api/show", api.show, methods=["POST"]),
        Route("/api/chat", api.chat, methods=["POST"]),
        Route("/api/generate", api.generate, methods=["POST"]),
        Route("/api/embed", api.embed, methods=["POST"]),
        Route("/api/embeddings", api.embeddings, methods=["POST"]),
    ]
    return emulator_app(state, routes, error500=json_response({"error": RUNNER_CRASH}, 500), unrouted=_not_found(state))
