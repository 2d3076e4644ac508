"""LlamaFarm adapter.

LlamaFarm is not a plain OpenAI server (see shared/reference/llamafarm-api.md):
chat is per project at ``/v1/projects/{ns}/{project}/chat/completions``; the models
we expose are the model aliases of the projects in one namespace; embeddings live on
its separate Universal Runtime; and a failed stream is masked as a 200 carrying a
canned apology, which we detect so the executor can still fall back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from atmosphere import jsonfast
from atmosphere.adapters.openai_wire import chunk_from_openai, completion_from_openai, usage_from_openai
from atmosphere.domain import (
    OLLAMA_NATIVE,
    ChatChunk,
    ChatCompletion,
    ChatRequest,
    Embeddings,
    EmbedRequest,
    GenerateRequest,
    ModelInfo,
    ProbeResult,
    Project,
    Usage,
    sort_capabilities,
)
from atmosphere.errors import BackendFailure
from atmosphere.http.client import (
    TransportFactory,
    failure_from_status,
    get_json,
    iter_lines,
    make_client,
    open_answer,
    parse_json_object,
    post_json,
    read_capped,
)
from atmosphere.timing import ms_since

# LlamaFarm's masked stream failure begins with this text (reference §6).
MASKED_FAILURE_PREFIX = "I notice my previous response wasn't very helpful."
_NO_SESSION = {"Content-Type": "application/json", "X-No-Session": "true"}


def _project_models(config: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """A project's model aliases and its default, from any of the three runtime shapes.

    ``runtime`` has been a list of ``{name, provider, model}`` (current docs), a dict of
    named models, or a legacy single ``provider`` + ``model``.
    """
    runtime = config.get("runtime") if isinstance(config, dict) else None
    if not isinstance(runtime, dict):
        return [], None
    default = runtime.get("default_model")
    models = runtime.get("models")
    found: list[dict[str, Any]] = []
    if isinstance(models, list):
        found = [m for m in models if isinstance(m, dict) and isinstance(m.get("name"), str)]
    elif isinstance(models, dict):
        found = [{"name": name, **(spec if isinstance(spec, dict) else {})} for name, spec in models.items()]
    elif isinstance(runtime.get("model"), str):
        # Legacy single model: the alias is the model itself.
        found = [{"name": runtime["model"], "model": runtime["model"], "provider": runtime.get("provider")}]
    if not isinstance(default, str) and found:
        default = next((m["name"] for m in found if m.get("default")), found[0]["name"])
    return found, default if isinstance(default, str) else None


class LlamaFarmBackend:
    """Talks to a LlamaFarm server and its Universal Runtime, one pooled client each."""

    id = "llamafarm"
    name = "LlamaFarm"
    type = "llamafarm"
    # 0.0.27 has no preload route (reference: "LlamaFarm 0.0.27 source ... preload"); later
    # versions do. Both are learnt by the probe (the runtime's /v1/preload/resources answers or not).
    warmup_supported = False
    reported_concurrency: int | None = None  # optimal_concurrency, where the version reports it

    def __init__(
        self,
        url: str,
        *,
        runtime_url: str,
        namespace: str,
        embed_model: str,
        probe_timeout: float,
        request_timeout: float,
        transport_factory: TransportFactory | None = None,
    ):
        self.url = url
        self.runtime_url = runtime_url
        self.namespace = namespace
        self.embed_model = embed_model
        self.probe_timeout = probe_timeout
        self._client = make_client(url, request_timeout, transport_factory=transport_factory)
        self._runtime = make_client(runtime_url, request_timeout, transport_factory=transport_factory)
        self._aliases: dict[str, str] = {}  # alias → project name (first project wins)
        self._runtime_up = False

    # --- discovery -------------------------------------------------------------------

    async def probe(self) -> ProbeResult:
        started = time.perf_counter()
        liveness, health, info, projects, runtime, resources = await asyncio.gather(
            _attempt(get_json(self._client, "/health/liveness", self.probe_timeout, "liveness")),
            _attempt(get_json(self._client, "/health", self.probe_timeout, "health")),
            _attempt(get_json(self._client, "/info", self.probe_timeout, "info")),
            _attempt(get_json(self._client, f"/v1/projects/{self.namespace}", self.probe_timeout, "projects")),
            _attempt(get_json(self._runtime, "/health", self.probe_timeout, "universal runtime health")),
            _attempt(get_json(self._runtime, "/v1/preload/resources", self.probe_timeout, "preload resources")),
        )
        self._note_preload(resources)
        latency = ms_since(started)
        if isinstance(liveness, BackendFailure):
            return ProbeResult(status=liveness.probe_status, error=liveness.reason, latency_ms=latency)
        if "status" not in liveness:
            return ProbeResult(status="error", error="liveness: answer has no status; is this LlamaFarm?", latency_ms=latency)
        error = None
        if isinstance(health, dict):
            verdict = str(health.get("status", "")).lower()
            if verdict == "unhealthy":
                summary = health.get("summary") or "health check reports unhealthy"
                return ProbeResult(status="error", error=f"unhealthy: {summary}", latency_ms=latency)
            if verdict == "degraded":
                error = f"degraded: {health.get('summary') or 'some components are unhealthy'}"
        self._runtime_up = isinstance(runtime, dict) and str(runtime.get("status", "")).lower() == "healthy"
        project_list, models, aliases = self._parse_projects(projects)
        _mark_loaded(models, runtime.get("loaded_models") if isinstance(runtime, dict) else None)
        if isinstance(projects, BackendFailure):
            error = error or projects.reason
        caps: set[str] = {"chat", "generate"} if models else set()
        if self._runtime_up:
            caps.add("embeddings")
            models.append(ModelInfo(id=self.embed_model, capabilities=["embeddings"], project="universal-runtime"))
        self._aliases = aliases
        default = project_list[0].default_model if project_list and project_list[0].default_model in aliases else None
        if default is None and aliases:
            default = next(iter(aliases))
        return ProbeResult(
            status="healthy",
            error=error,
            version=str(info["version"]) if isinstance(info, dict) and info.get("version") else None,
            models=models,
            projects=project_list,
            capabilities=sort_capabilities(caps),
            default_model=default,
            default_embedding_model=self.embed_model if self._runtime_up else None,
            latency_ms=latency,
        )

    def _note_preload(self, resources: Any) -> None:
        """A runtime with /v1/preload/resources has preload (so warm-up) and says its concurrency."""
        self.warmup_supported = isinstance(resources, dict)
        self.reported_concurrency = _concurrency(resources)

    async def warm(self, model: str) -> None:
        """Preload the project that defines ``model`` (``POST /v1/models/preload/{namespace}/{project}``)."""
        project = self._aliases.get(model)
        if project is None:
            raise BackendFailure(f"warm-up: no project defines `{model}`", kind="error", retryable=False)
        await post_json(self._client, f"/v1/models/preload/{self.namespace}/{project}", {}, "warm-up")

    def _parse_projects(self, doc: Any) -> tuple[list[Project], list[ModelInfo], dict[str, str]]:
        if not isinstance(doc, dict) or not isinstance(doc.get("projects"), list):
            return [], [], {}
        projects, models, aliases = [], [], {}
        for entry in sorted((p for p in doc["projects"] if isinstance(p, dict)), key=lambda p: str(p.get("name"))):
            name = entry.get("name")
            if not isinstance(name, str):
                continue
            found, default = _project_models(entry.get("config") or {})
            projects.append(Project(self.namespace, name, default, [m["name"] for m in found]))
            for spec in found:
                alias = spec["name"]
                if alias in aliases:
                    continue  # the first project (by name) that defines an alias serves it
                aliases[alias] = name
                models.append(
                    ModelInfo(
                        id=alias,
                        capabilities=["chat", "generate"],
                        project=f"{self.namespace}/{name}",
                        backend_model=spec.get("model") if isinstance(spec.get("model"), str) else None,
                    )
                )
        return projects, models, aliases

    def resolve_model(self, model: str) -> str | None:
        if model in self._aliases:
            return model
        if model == self.embed_model and self._runtime_up:
            return model
        return None

    # --- execution -------------------------------------------------------------------

    def _chat_path(self, alias: str) -> str:
        project = self._aliases.get(alias)
        if project is None:
            raise BackendFailure(f"model '{alias}' is not defined by any project in '{self.namespace}'", kind="error")
        return f"/v1/projects/{self.namespace}/{project}/chat/completions"

    def _chat_body(self, req: ChatRequest, alias: str, stream: bool) -> dict[str, Any]:
        if req.extra.get("logprobs"):
            # Its chat answers carry no logprobs (reference), so asking would silently get none.
            raise BackendFailure("it returns no logprobs (use an Ollama model)", retryable=False)
        body: dict[str, Any] = {"messages": req.messages, "model": alias, "stream": stream, "rag_enabled": False}
        for key in ("temperature", "top_p", "max_tokens", "stop", "seed"):
            value = getattr(req, key)
            if value is not None:
                body[key] = value
        if stream and req.include_usage:
            body["stream_options"] = {"include_usage": True}
        # tools, response_format, rag_enabled=True when asked, ... (never Ollama-only fields)
        body.update({key: value for key, value in req.extra.items() if key != OLLAMA_NATIVE})
        return body

    async def chat(self, req: ChatRequest, model: str) -> ChatCompletion:
        data = await post_json(self._client, self._chat_path(model), self._chat_body(req, model, False), "chat", _NO_SESSION)
        return completion_from_openai(data, model, "chat")

    async def chat_stream(self, req: ChatRequest, model: str) -> AsyncIterator[ChatChunk]:
        path = self._chat_path(model)
        request = self._client.build_request(
            "POST", path, content=jsonfast.dumps(self._chat_body(req, model, True)), headers=_NO_SESSION
        )
        async with open_answer(self._client, request, "chat stream") as resp:
            if resp.status_code != 200:
                raise failure_from_status(resp.status_code, await read_capped(resp, "chat stream"), "chat stream")
            if "text/event-stream" not in resp.headers.get("content-type", ""):
                raise BackendFailure("chat stream: answer is not an event stream", kind="error")
            async for chunk in self._stream_chunks(resp, model, req.include_usage):
                yield chunk

    async def _stream_chunks(self, resp: Any, model: str, include_usage: bool) -> AsyncIterator[ChatChunk]:
        """SSE → chunks. Leading chunks are held back until real content shows, so a
        masked failure (the canned apology) is caught before anything reaches the client."""
        held: list[ChatChunk] = []
        checked = False
        finished = False
        saw_usage = False
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
            saw_usage = saw_usage or chunk.usage is not None
            last = chunk
            if checked:
                yield chunk
                continue
            held.append(chunk)
            if not chunk.has_content:
                continue
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

    def _as_chat(self, req: GenerateRequest, model: str) -> ChatRequest:
        """LlamaFarm has no raw completion endpoint: a prompt becomes one user turn. It cannot
        fill in the middle, so a ``suffix`` is refused (a 400 naming LlamaFarm), not dropped."""
        if req.suffix:
            raise BackendFailure("it cannot fill in the middle ('suffix' needs an Ollama model)", retryable=False)
        messages: list[dict[str, Any]] = [{"role": "user", "content": req.prompt}]
        if req.system:
            messages.insert(0, {"role": "system", "content": req.system})
        return ChatRequest(
            model=model,
            messages=messages,
            stream=req.stream,
            temperature=req.temperature,
            top_p=req.top_p,
            max_tokens=req.max_tokens,
            stop=req.stop,
            seed=req.seed,
            include_usage=req.include_usage,
            extra=req.extra,
        )

    async def generate(self, req: GenerateRequest, model: str) -> ChatCompletion:
        return await self.chat(self._as_chat(req, model), model)

    def generate_stream(self, req: GenerateRequest, model: str) -> AsyncIterator[ChatChunk]:
        return self.chat_stream(self._as_chat(req, model), model)

    async def embed(self, req: EmbedRequest, model: str) -> Embeddings:
        body: dict[str, Any] = {"model": model, "input": req.inputs, "encoding_format": "float"}
        data = await post_json(self._runtime, "/v1/embeddings", body, "embeddings (universal runtime)")
        items = data.get("data")
        if not isinstance(items, list) or len(items) != len(req.inputs):
            raise BackendFailure("embeddings: answer has no embedding for every input", kind="error")
        items = sorted(items, key=lambda item: item.get("index", 0))
        vectors = [item.get("embedding") for item in items]
        if not all(isinstance(v, list) for v in vectors):
            raise BackendFailure("embeddings: an embedding is not a list of numbers", kind="error")
        usage = usage_from_openai(data.get("usage")) or Usage()
        return Embeddings(model=model, vectors=vectors, usage=Usage(prompt_tokens=usage.prompt_tokens))

    def describe(self, result: ProbeResult | None) -> dict[str, Any]:
        """LlamaFarm's snapshot also lists the projects of its namespace."""
        projects = result.projects if result is not None and result.projects else []
        return {"projects": [p.to_dict() for p in projects]}

    async def aclose(self) -> None:
        await asyncio.gather(self._client.aclose(), self._runtime.aclose())


async def _attempt(coro: Any) -> Any:
    try:
        return await coro
    except BackendFailure as failure:
        return failure


def _concurrency(doc: Any) -> int | None:
    value = doc.get("optimal_concurrency") if isinstance(doc, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 1024 else None


def _mark_loaded(models: list[ModelInfo], cache_keys: Any) -> None:
    """Mark aliases whose target the Universal Runtime holds in memory. Its ``loaded_models``
    are cache keys like ``language:unsloth/Qwen3-1.7B-GGUF:ctxauto:...`` (the model id
    without the quantization, which the key spells elsewhere); read by the monitor only."""
    if not isinstance(cache_keys, list):
        return
    held = {key.split(":", 2)[1].lower() for key in cache_keys if isinstance(key, str) and key.count(":") >= 1}
    for model in models:
        target = (model.backend_model or "").split(":", 1)[0].lower()
        if target and target in held:
            model.loaded = True
