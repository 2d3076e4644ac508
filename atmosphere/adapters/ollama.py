"""Ollama adapter: native ``/api/*`` endpoints (JSON and NDJSON) in, domain results out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from atmosphere import jsonfast
from atmosphere.adapters.ollama_wire import (
    DIMENSIONS_SINCE,
    LOGPROBS_SINCE,
    finish,
    guess_capabilities,
    logprobs_of,
    map_capabilities,
    normalize_model_name,
    ollama_messages,
    options,
    resident_of,
    sheet_of,
    tool_calls,
    usage,
    version_at_least,
)
from atmosphere.domain import (
    OLLAMA_NATIVE,
    ChatChunk,
    ChatCompletion,
    ChatRequest,
    Embeddings,
    EmbedRequest,
    GenerateRequest,
    ModelInfo,
    ModelSheet,
    ProbeResult,
    Resident,
    ToolCallDelta,
    Usage,
    sort_capabilities,
)
from atmosphere.errors import BackendFailure
from atmosphere.http.client import (
    JSON_HEADERS,
    TransportFactory,
    completion_id,
    failure_from_response,
    get_json,
    iter_lines,
    make_client,
    open_post,
    parse_json_object,
    post_json,
)
from atmosphere.locality import locality_of
from atmosphere.timing import ms_since

__all__ = ["OllamaBackend", "normalize_model_name"]


class OllamaBackend:
    """Talks to one Ollama server through a single pooled client."""

    id = "ollama"
    name = "Ollama"
    type = "ollama"
    warmup_supported = True  # a load with keep_alive (see ``warm``)

    def __init__(
        self,
        url: str,
        *,
        probe_timeout: float,
        request_timeout: float,
        allow_cloud: bool = False,
        transport_factory: TransportFactory | None = None,
    ):
        self.url = url
        self.probe_timeout = probe_timeout
        self.allow_cloud = allow_cloud
        self.locality = locality_of(url)
        self._client = make_client(url, request_timeout, transport_factory=transport_factory)
        self._models: set[str] = set()
        self._version: str | None = None  # from the last good probe, to gate newer features
        # digest → capabilities /api/show reported, or None when it reported none (before
        # 0.6.4): cached either way, so an old server is not asked again every probe.
        self._show_cache: dict[str, list[str] | None] = {}

    # --- discovery -------------------------------------------------------------------

    async def probe(self) -> ProbeResult:
        started = time.perf_counter()
        try:
            version_doc, tags, running = await asyncio.gather(
                get_json(self._client, "/api/version", self.probe_timeout, "version"),
                get_json(self._client, "/api/tags", self.probe_timeout, "model list"),
                self._running(),
            )
            models = await self._models_from_tags(tags, started)
            for model in models:
                model.loaded = model.id in running
        except BackendFailure as failure:
            return ProbeResult(status=failure.probe_status, error=failure.reason, latency_ms=ms_since(started))
        self._models = {m.id for m in models}
        self._version = str(version_doc.get("version")) if version_doc.get("version") else None
        caps: set[str] = set()
        for model in models:
            caps.update(model.capabilities)
        # `auto` never picks a cloud model unless cloud models are allowed.
        usable = [m for m in models if self.allow_cloud or m.locality != "cloud"]
        chat_models = [m.id for m in usable if "chat" in m.capabilities]
        embed_models = [m.id for m in usable if "embeddings" in m.capabilities]
        return ProbeResult(
            status="healthy",
            version=str(version_doc.get("version")) if version_doc.get("version") else None,
            models=models,
            capabilities=sort_capabilities(caps),
            default_model=chat_models[0] if chat_models else None,
            default_embedding_model=embed_models[0] if embed_models else None,
            latency_ms=ms_since(started),
        )

    async def _running(self) -> set[str]:
        """Models resident now (``/api/ps``); an Ollama without it just reports none loaded."""
        try:
            return {r.model for r in await self._resident(self.probe_timeout)}
        except BackendFailure:
            return set()

    async def running(self) -> list[Resident]:
        """``/api/ps`` as this host answers it: each model's own expiry, sizes and context."""
        return await self._resident(self.probe_timeout)

    async def _resident(self, timeout: float) -> list[Resident]:
        doc = await get_json(self._client, "/api/ps", timeout, "running models")
        entries = doc.get("models")
        return [r for r in map(resident_of, entries) if r is not None] if isinstance(entries, list) else []

    async def warm(self, model: str, keep_alive: str | float | None = None) -> None:
        """Load ``model``: an empty prompt only loads (reference: /api/generate), kept for
        ``keep_alive`` (Ollama's own default, 5 minutes, when None)."""
        body: dict[str, Any] = {"model": model, "prompt": "", "stream": False}
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        await post_json(self._client, "/api/generate", body, "warm-up")

    async def unload(self, model: str) -> None:
        """What ``ollama stop`` sends: an empty prompt with ``keep_alive: 0``."""
        await post_json(self._client, "/api/generate", {"model": model, "prompt": "", "stream": False, "keep_alive": 0}, "unload")

    async def model_sheet(self, model: str) -> ModelSheet | None:
        """``/api/show``: the model's metadata keys and template as Ollama reports them."""
        data = await post_json(self._client, "/api/show", {"model": model}, "show")
        return sheet_of(data)

    async def _models_from_tags(self, tags: dict[str, Any], started: float) -> list[ModelInfo]:
        entries = tags.get("models")
        if entries is None:
            entries = []
        if not isinstance(entries, list):
            raise BackendFailure("model list: 'models' is not a list", kind="error")
        cache = self._show_cache
        missing = [e for e in entries if isinstance(e, dict) and "capabilities" not in e and e.get("digest") not in cache]
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
            caps = map_capabilities(reported) if reported else guess_capabilities(name, family)
            models.append(
                ModelInfo(
                    id=name,
                    family=family,
                    parameter_size=details.get("parameter_size"),
                    quantization=details.get("quantization_level"),
                    size=entry.get("size"),
                    capabilities=sort_capabilities(caps),
                    # A cloud model (`ollama signin`) is proxied to ollama.com: the prompt leaves.
                    locality="cloud" if entry.get("remote_host") or entry.get("remote_model") else self.locality,
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
        reported = data.get("capabilities") if resp.status_code == 200 else None
        if resp.status_code == 200:
            self._show_cache[digest] = reported if isinstance(reported, list) else None

    def resolve_model(self, model: str) -> str | None:
        name = normalize_model_name(model)
        return name if name in self._models else None

    # --- execution -------------------------------------------------------------------

    def _chat_body(self, req: ChatRequest, model: str, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "messages": ollama_messages(req.messages), "stream": stream}
        opts = options(req)
        if opts:
            body["options"] = opts
        if req.extra.get("tools"):
            body["tools"] = req.extra["tools"]
        if req.extra.get("logprobs"):
            if not version_at_least(self._version, LOGPROBS_SINCE):
                since = ".".join(map(str, LOGPROBS_SINCE))
                raise BackendFailure(f"logprobs need Ollama {since} or newer (this one is {self._version})", retryable=False)
            body.update(logprobs=True, top_logprobs=req.extra.get("top_logprobs", 0))
        return _with_extras(body, req.extra)

    async def chat(self, req: ChatRequest, model: str) -> ChatCompletion:
        data = await post_json(self._client, "/api/chat", self._chat_body(req, model, False), "chat")
        if "error" in data:
            raise BackendFailure(f"chat: {data['error']}", kind="error")
        message = data.get("message")
        if not isinstance(message, dict):
            raise BackendFailure("chat: answer has no message", kind="error")
        calls = tool_calls(message)
        return ChatCompletion(
            id=completion_id(),
            created=int(time.time()),
            model=model,
            content=message.get("content", ""),
            finish_reason="tool_calls" if calls else finish(data.get("done_reason")),
            tool_calls=calls,
            usage=usage(data),
            logprobs=logprobs_of(data) if req.extra.get("logprobs") else None,
        )

    async def chat_stream(self, req: ChatRequest, model: str) -> AsyncIterator[ChatChunk]:
        chunk_id, created = completion_id(), int(time.time())
        role_sent = False
        calls_sent = 0  # tool calls arrive on non-final lines; OpenAI indexes them across the stream
        async for line in self._ndjson("/api/chat", self._chat_body(req, model, True), "chat stream"):
            message = line.get("message") or {}
            thinking = message.get("thinking")  # reasoning models: content, forwarded as reasoning
            chunk = ChatChunk(
                chunk_id,
                created,
                model,
                content=message.get("content") or "",
                reasoning=thinking if isinstance(thinking, str) and thinking else None,
                logprobs=logprobs_of(line),
            )
            for call in tool_calls(message):
                chunk.tool_calls.append(ToolCallDelta(calls_sent, call.id, call.name, call.arguments))
                calls_sent += 1
            if not role_sent:
                chunk.role, role_sent = "assistant", True
            if not line.get("done"):
                yield chunk
                continue
            if chunk.content or chunk.reasoning or chunk.tool_calls or chunk.role:
                yield chunk
            reason = "tool_calls" if calls_sent else finish(line.get("done_reason"))
            yield ChatChunk(chunk_id, created, model, finish_reason=reason)
            if req.include_usage:
                yield ChatChunk(chunk_id, created, model, usage=usage(line))
            return
        raise BackendFailure("chat stream: ended before its final line", kind="error")

    async def _ndjson(self, path: str, body: dict[str, Any], what: str) -> AsyncIterator[dict[str, Any]]:
        """Parsed NDJSON lines; an ``{"error"}`` line or a cut stream becomes a BackendFailure."""
        async with open_post(self._client, path, jsonfast.dumps(body), JSON_HEADERS, what) as resp:
            if resp.status_code != 200:
                raise await failure_from_response(resp, what)
            async for raw in iter_lines(resp, what):
                if not raw:
                    continue
                line = parse_json_object(raw, what)
                if "error" in line:
                    raise BackendFailure(f"{what}: {line['error']}", kind="error")
                yield line

    def _generate_body(self, req: GenerateRequest, model: str, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "prompt": req.prompt, "stream": stream}
        opts = options(req)
        if opts:
            body["options"] = opts
        if req.system:
            body["system"] = req.system
        if req.suffix:
            body["suffix"] = req.suffix  # fill-in-the-middle, for models whose template supports it
        return _with_extras(body, req.extra)

    async def generate(self, req: GenerateRequest, model: str) -> ChatCompletion:
        data = await post_json(self._client, "/api/generate", self._generate_body(req, model, False), "generate")
        if not isinstance(data.get("response"), str):
            raise BackendFailure("generate: answer has no response text", kind="error")
        return ChatCompletion(
            id=completion_id(),
            created=int(time.time()),
            model=model,
            content=data["response"],
            finish_reason=finish(data.get("done_reason")),
            usage=usage(data),
        )

    async def generate_stream(self, req: GenerateRequest, model: str) -> AsyncIterator[ChatChunk]:
        chunk_id, created = completion_id(), int(time.time())
        async for line in self._ndjson("/api/generate", self._generate_body(req, model, True), "generate stream"):
            text = line.get("response")
            text = text if isinstance(text, str) else ""
            if not line.get("done"):
                yield ChatChunk(chunk_id, created, model, content=text)
                continue
            if text:
                yield ChatChunk(chunk_id, created, model, content=text)
            yield ChatChunk(chunk_id, created, model, finish_reason=finish(line.get("done_reason")))
            if req.include_usage:
                yield ChatChunk(chunk_id, created, model, usage=usage(line))
            return
        raise BackendFailure("generate stream: ended before its final line", kind="error")

    async def embed(self, req: EmbedRequest, model: str) -> Embeddings:
        body: dict[str, Any] = {"model": model, "input": req.inputs}
        if req.dimensions:
            if not version_at_least(self._version, DIMENSIONS_SINCE):
                since = ".".join(map(str, DIMENSIONS_SINCE))
                raise BackendFailure(
                    f"dimensions needs Ollama {since} or newer (this one is {self._version}, which returns "
                    "full-length vectors): leave dimensions out",
                    retryable=False,
                )
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
        return Embeddings(model=model, vectors=vectors, usage=Usage(prompt_tokens=int(data.get("prompt_eval_count") or 0)))

    async def _embed_legacy(self, req: EmbedRequest, model: str) -> Embeddings:
        """``/api/embeddings``: one text per call, so the inputs go concurrently."""
        answers = await asyncio.gather(
            *(post_json(self._client, "/api/embeddings", {"model": model, "prompt": text}, "embeddings") for text in req.inputs)
        )
        vectors = [v for v in (answer.get("embedding") for answer in answers) if isinstance(v, list) and v]
        if len(vectors) != len(req.inputs):
            raise BackendFailure("embeddings: answer has no embedding for every input", kind="error")
        return Embeddings(model=model, vectors=vectors, usage=Usage(estimated=True))

    def describe(self, result: ProbeResult | None) -> dict[str, Any]:
        return {}

    async def aclose(self) -> None:
        await self._client.aclose()


def _with_extras(body: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``response_format`` as Ollama's ``format``, then the native fields a face passed
    (``keep_alive``, ``think``, ``images``, ...), their ``options`` merged into ours."""
    response_format = extra.get("response_format")
    if isinstance(response_format, dict):
        if response_format.get("type") == "json_object":
            body["format"] = "json"
        elif response_format.get("type") == "json_schema":
            body["format"] = (response_format.get("json_schema") or {}).get("schema", "json")
    native = extra.get(OLLAMA_NATIVE)
    if isinstance(native, dict):
        for key, value in native.items():
            if key == "options" and isinstance(value, dict):
                body["options"] = {**value, **body.get("options", {})}
            elif key not in body:
                body[key] = value
    return body
