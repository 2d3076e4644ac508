"""Ollama adapter: native ``/api/*`` endpoints (JSON and NDJSON) in, OpenAI shapes out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from atmosphere import jsonfast
from atmosphere.domain import ChatRequest, EmbedRequest, ModelInfo, ProbeResult, sort_capabilities
from atmosphere.errors import BackendFailure
from atmosphere.http.client import (
    JSON_HEADERS,
    TransportFactory,
    completion_id,
    failure_from_status,
    get_json,
    iter_lines,
    make_client,
    open_answer,
    parse_json_object,
    post_json,
    read_capped,
)

# Ollama's model capabilities (api/show, api/tags on v0.30+) → ours.
_CAPABILITY_MAP = {
    "completion": ("chat", "generate"),
    "embedding": ("embeddings",),
    "vision": ("vision",),
    "tools": ("tools",),
}


def normalize_model_name(name: str) -> str:
    """Ollama treats a name without a tag as ``:latest``."""
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def _guess_capabilities(name: str, family: str | None) -> set[str]:
    """For servers older than 0.6.4, which do not report capabilities."""
    lowered = name.lower()
    if "embed" in lowered or (family and "bert" in family.lower()):
        return {"embeddings"}
    caps = {"chat", "generate"}
    if "llava" in lowered or "vision" in lowered:
        caps.add("vision")
    return caps


def _map_capabilities(reported: list[str]) -> set[str]:
    caps: set[str] = set()
    for item in reported:
        caps.update(_CAPABILITY_MAP.get(item, ()))
    return caps


def _ollama_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI messages → Ollama's: string content, images as bare base64."""
    out = []
    for message in messages:
        content = message.get("content")
        converted: dict[str, Any] = {"role": message.get("role", "user")}
        if message.get("role") == "developer":
            converted["role"] = "system"
        if isinstance(content, list):
            texts, images = [], []
            for part in content:
                kind = part.get("type")
                if kind == "text":
                    texts.append(part.get("text", ""))
                elif kind == "image_url":
                    url = (part.get("image_url") or {}).get("url", "")
                    if url.startswith("data:") and "," in url:
                        images.append(url.split(",", 1)[1])
            converted["content"] = "\n".join(texts)
            if images:
                converted["images"] = images
        else:
            converted["content"] = content or ""
        if message.get("tool_calls"):
            converted["tool_calls"] = [
                {"function": {"name": c["function"]["name"], "arguments": _json_arguments(c["function"].get("arguments"))}}
                for c in message["tool_calls"]
                if isinstance(c, dict) and isinstance(c.get("function"), dict)
            ]
        if message.get("role") == "tool" and message.get("name"):
            converted["tool_name"] = message["name"]
        out.append(converted)
    return out


def _json_arguments(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return jsonfast.loads(arguments)
        except jsonfast.JSONDecodeError:
            return {}
    return arguments or {}


def _options(params: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for ours, theirs in (("temperature", "temperature"), ("top_p", "top_p"), ("seed", "seed"), ("stop", "stop")):
        if params.get(ours) is not None:
            options[theirs] = params[ours]
    if params.get("max_tokens") is not None:
        options["num_predict"] = params["max_tokens"]
    return options


def _usage(final: dict[str, Any]) -> dict[str, int]:
    prompt = int(final.get("prompt_eval_count") or 0)
    completion = int(final.get("eval_count") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _tool_calls(message: dict[str, Any]) -> list[dict[str, Any]] | None:
    calls = message.get("tool_calls")
    if not calls:
        return None
    out = []
    for index, call in enumerate(calls):
        function = call.get("function") or {}
        arguments = function.get("arguments", {})
        out.append(
            {
                "index": index,
                "id": call.get("id") or f"call_{completion_id()[9:21]}",
                "type": "function",
                "function": {
                    "name": function.get("name", ""),
                    "arguments": arguments if isinstance(arguments, str) else jsonfast.dumps(arguments).decode(),
                },
            }
        )
    return out


class OllamaBackend:
    """Talks to one Ollama server through a single pooled client."""

    id = "ollama"
    name = "Ollama"
    type = "ollama"

    def __init__(
        self, url: str, *, probe_timeout: float, request_timeout: float, transport_factory: TransportFactory | None = None
    ):
        self.url = url
        self.probe_timeout = probe_timeout
        self._client = make_client(url, request_timeout, transport_factory=transport_factory)
        self._models: set[str] = set()
        self._show_cache: dict[str, list[str]] = {}  # digest → reported capabilities

    # --- discovery -------------------------------------------------------------------

    async def probe(self) -> ProbeResult:
        started = time.perf_counter()
        try:
            version_doc, tags = await asyncio.gather(
                get_json(self._client, "/api/version", self.probe_timeout, "version"),
                get_json(self._client, "/api/tags", self.probe_timeout, "model list"),
            )
            models = await self._models_from_tags(tags, started)
        except BackendFailure as failure:
            status = "offline" if failure.kind in ("unreachable", "timeout") else "error"
            return ProbeResult(status=status, error=failure.reason, latency_ms=_ms_since(started))
        self._models = {m.id for m in models}
        caps: set[str] = set()
        for model in models:
            caps.update(model.capabilities)
        chat_models = [m.id for m in models if "chat" in m.capabilities]
        embed_models = [m.id for m in models if "embeddings" in m.capabilities]
        return ProbeResult(
            status="healthy",
            version=str(version_doc.get("version")) if version_doc.get("version") else None,
            models=models,
            capabilities=sort_capabilities(caps),
            default_model=chat_models[0] if chat_models else None,
            default_embedding_model=embed_models[0] if embed_models else None,
            latency_ms=_ms_since(started),
        )

    async def _models_from_tags(self, tags: dict[str, Any], started: float) -> list[ModelInfo]:
        entries = tags.get("models")
        if entries is None:
            entries = []
        if not isinstance(entries, list):
            raise BackendFailure("model list: 'models' is not a list", kind="error")
        missing = [e for e in entries if isinstance(e, dict) and "capabilities" not in e]
        if missing:
            remaining = max(0.05, self.probe_timeout - (time.perf_counter() - started))
            await asyncio.gather(*(self._show_capabilities(e, remaining) for e in missing))
        models = []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("name") or entry.get("model"), str):
                continue
            name = normalize_model_name(entry.get("name") or entry["model"])
            details = entry.get("details") or {}
            reported = entry.get("capabilities")
            if reported is None:
                reported = self._show_cache.get(entry.get("digest", ""))
            family = details.get("family")
            caps = _map_capabilities(reported) if reported else _guess_capabilities(name, family)
            models.append(
                ModelInfo(
                    id=name,
                    family=family,
                    parameter_size=details.get("parameter_size"),
                    quantization=details.get("quantization_level"),
                    size=entry.get("size"),
                    capabilities=sort_capabilities(caps),
                )
            )
        return models

    async def _show_capabilities(self, entry: dict[str, Any], timeout: float) -> None:
        """Ask /api/show once per digest; older servers send none and we guess instead."""
        digest = entry.get("digest", "")
        if digest in self._show_cache:
            return
        try:
            resp = await self._client.post("/api/show", json={"model": entry.get("name")}, timeout=timeout)
            data = parse_json_object(resp.content, "show") if resp.status_code == 200 else {}
        except Exception:  # noqa: BLE001 - capabilities are optional; guessing is the fallback
            return
        if isinstance(data.get("capabilities"), list):
            self._show_cache[digest] = data["capabilities"]

    def resolve_model(self, model: str) -> str | None:
        name = normalize_model_name(model)
        return name if name in self._models else None

    # --- execution -------------------------------------------------------------------

    def _chat_body(self, req: ChatRequest, model: str, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "messages": _ollama_messages(req.messages), "stream": stream}
        options = _options(
            {"temperature": req.temperature, "top_p": req.top_p, "seed": req.seed, "stop": req.stop, "max_tokens": req.max_tokens}
        )
        if options:
            body["options"] = options
        if req.extra.get("tools"):
            body["tools"] = req.extra["tools"]
        response_format = req.extra.get("response_format")
        if isinstance(response_format, dict):
            if response_format.get("type") == "json_object":
                body["format"] = "json"
            elif response_format.get("type") == "json_schema":
                body["format"] = (response_format.get("json_schema") or {}).get("schema", "json")
        return body

    async def chat(self, req: ChatRequest, model: str) -> dict[str, Any]:
        data = await post_json(self._client, "/api/chat", self._chat_body(req, model, False), "chat")
        if "error" in data:
            raise BackendFailure(f"chat: {data['error']}", kind="error")
        message = data.get("message")
        if not isinstance(message, dict):
            raise BackendFailure("chat: answer has no message", kind="error")
        tool_calls = _tool_calls(message)
        out_message: dict[str, Any] = {"role": "assistant", "content": message.get("content", "")}
        if tool_calls:
            out_message["tool_calls"] = [{k: v for k, v in c.items() if k != "index"} for c in tool_calls]
        finish = "tool_calls" if tool_calls else (data.get("done_reason") or "stop")
        return {
            "id": completion_id(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "message": out_message, "logprobs": None, "finish_reason": _finish(finish)}],
            "usage": _usage(data),
        }

    async def chat_stream(self, req: ChatRequest, model: str) -> AsyncIterator[dict[str, Any]]:
        body = self._chat_body(req, model, True)
        chunk_id, created = completion_id(), int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            out = {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": None,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if req.include_usage:
                out["usage"] = None  # as OpenAI: null on every chunk but the last
            return out

        role_sent = False
        calls_sent = 0  # tool calls arrive on non-final lines; OpenAI indexes them across the stream
        async for line in self._ndjson("/api/chat", body, "chat stream"):
            message = line.get("message") or {}
            delta: dict[str, Any] = {"content": message.get("content") or ""}
            tool_calls = _tool_calls(message)
            if tool_calls:
                for call in tool_calls:
                    call["index"] += calls_sent
                calls_sent += len(tool_calls)
                delta["tool_calls"] = tool_calls
            if not role_sent:
                delta = {"role": "assistant", **delta}
                role_sent = True
            if not line.get("done"):
                yield chunk(delta)
                continue
            if delta.get("content") or tool_calls or "role" in delta:
                yield chunk(delta)
            yield chunk({}, "tool_calls" if calls_sent else _finish(line.get("done_reason") or "stop"))
            if req.include_usage:
                final = chunk({})
                final["choices"] = []
                final["usage"] = _usage(line)
                yield final
            return
        raise BackendFailure("chat stream: ended before its final line", kind="error")

    async def _ndjson(self, path: str, body: dict[str, Any], what: str) -> AsyncIterator[dict[str, Any]]:
        """Parsed NDJSON lines; an ``{"error"}`` line or a cut stream becomes a BackendFailure."""
        request = self._client.build_request("POST", path, content=jsonfast.dumps(body), headers=JSON_HEADERS)
        async with open_answer(self._client, request, what) as resp:
            if resp.status_code != 200:
                raise failure_from_status(resp.status_code, await read_capped(resp, what), what)
            async for raw in iter_lines(resp, what):
                if not raw:
                    continue
                line = parse_json_object(raw, what)
                if "error" in line:
                    raise BackendFailure(f"{what}: {line['error']}", kind="error")
                yield line

    async def generate(self, prompt: str, model: str, params: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "prompt": prompt, "stream": False}
        options = _options(params)
        if options:
            body["options"] = options
        if params.get("system"):
            body["system"] = params["system"]
        data = await post_json(self._client, "/api/generate", body, "generate")
        if not isinstance(data.get("response"), str):
            raise BackendFailure("generate: answer has no response text", kind="error")
        return {
            "text": data["response"],
            "model": model,
            "finish_reason": _finish(data.get("done_reason") or "stop"),
            "usage": _usage(data),
        }

    async def embed(self, req: EmbedRequest, model: str) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "input": req.inputs}
        if req.dimensions:
            body["dimensions"] = req.dimensions
        try:
            data = await post_json(self._client, "/api/embed", body, "embeddings")
        except BackendFailure as failure:
            # Before 0.2.6 there is no /api/embed: gin answers a plain-text 404 for the route
            # (a missing model is a JSON 404 naming the model instead).
            if failure.status == 404 and "page not found" in failure.reason:
                return await self._embed_legacy(req, model)
            raise
        vectors = data.get("embeddings")
        if not isinstance(vectors, list) or len(vectors) != len(req.inputs):
            raise BackendFailure("embeddings: answer has no embeddings for every input", kind="error")
        prompt_tokens = int(data.get("prompt_eval_count") or 0)
        return {"model": model, "vectors": vectors, "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}}

    async def _embed_legacy(self, req: EmbedRequest, model: str) -> dict[str, Any]:
        """``/api/embeddings``: one text per call, so the inputs go concurrently."""
        answers = await asyncio.gather(
            *(post_json(self._client, "/api/embeddings", {"model": model, "prompt": text}, "embeddings") for text in req.inputs)
        )
        vectors = [answer.get("embedding") for answer in answers]
        if not all(isinstance(v, list) and v for v in vectors):
            raise BackendFailure("embeddings: answer has no embedding for every input", kind="error")
        return {"model": model, "vectors": vectors, "usage": {"prompt_tokens": 0, "total_tokens": 0}}

    async def aclose(self) -> None:
        await self._client.aclose()


def _finish(reason: str) -> str:
    return reason if reason in ("stop", "length", "tool_calls", "content_filter") else "stop"


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
