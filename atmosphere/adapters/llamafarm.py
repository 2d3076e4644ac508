"""LlamaFarm adapter.

LlamaFarm (0.0.27) is not a plain OpenAI server:
chat is per project at ``/v1/projects/{ns}/{project}/chat/completions``; the models
we expose are the project models of the configured namespaces (``llamafarm_catalog``),
each ready only when what serves it answers (``llamafarm_readiness``); embeddings live
on its separate Universal Runtime; and a failed stream is masked as a 200 carrying a
canned apology, which we detect so the executor can still fall back.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from datetime import UTC, datetime
from typing import Any

from atmosphere import jsonfast
from atmosphere.adapters.llamafarm_catalog import Catalogue, Target, build_catalogue
from atmosphere.adapters.llamafarm_readiness import (
    Upstreams,
    checkable_hosts,
    host_answers,
    locality,
    ollama_component,
    readiness,
    runtime_state,
)
from atmosphere.adapters.llamafarm_stream import MASKED_FAILURE_PREFIX, stream_chunks
from atmosphere.adapters.openai_wire import completion_from_openai, usage_from_openai
from atmosphere.adapters.system_turns import one_leading_system
from atmosphere.adapters.tool_images import images_after_tool_results
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
    Usage,
    sort_capabilities,
)
from atmosphere.errors import BackendFailure
from atmosphere.http.client import (
    TransportFactory,
    failure_from_response,
    get_json,
    make_client,
    open_post,
    post_json,
)
from atmosphere.locality import farthest, locality_of
from atmosphere.timing import ms_since

__all__ = ["MASKED_FAILURE_PREFIX", "LlamaFarmBackend", "version_label"]

_NO_SESSION = {"Content-Type": "application/json", "X-No-Session": "true"}
# LlamaFarm's answers when the project a model belongs to is broken or gone (reference O.4):
# a server-side state, so fall back and re-read the projects.
_PROJECT_GONE = ("ProjectConfigError", "ProjectNotFound")
_HEALTH_TIMEOUT = 5.0  # the real /health takes ~1.2 s; it is read in the background
_RELEASE = re.compile(r"^v?\d+\.\d+")
_SESSION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
RUNTIME_IDLE_UNLOAD_S = 300  # the Universal Runtime's MODEL_UNLOAD_TIMEOUT default (reference S.4)


def version_label(version: Any) -> str | None:
    """A release as its number; a source checkout's branch name or ``dev`` said to be one."""
    if version is None or version == "":
        return None
    text = str(version)[:64]
    return text.removeprefix("v") if _RELEASE.match(text) else f"{text} (not a release)"


class LlamaFarmBackend:
    """Talks to a LlamaFarm server and its Universal Runtime, one pooled client each."""

    id = "llamafarm"
    name = "LlamaFarm"
    type = "llamafarm"
    # 0.0.27 has no preload route (reference: "LlamaFarm 0.0.27 source ... preload"); later
    # versions do. Both are learnt by the probe (the runtime's /v1/preload/resources answers or not).
    warmup_supported = False

    def __init__(
        self,
        url: str,
        *,
        runtime_url: str,
        namespace: str,
        embed_model: str,
        probe_timeout: float,
        request_timeout: float,
        default_model: str | None = None,
        allow_cloud: bool = False,
        transport_factory: TransportFactory | None = None,
    ):
        self.url = url
        self.runtime_url = runtime_url
        self.namespaces = [n.strip() for n in namespace.split(",") if n.strip()] or ["default"]
        self.namespace = self.namespaces[0]
        self.embed_model = embed_model
        self.default_model = default_model
        self.allow_cloud = allow_cloud
        self.probe_timeout = probe_timeout
        self._client = make_client(url, request_timeout, transport_factory=transport_factory)
        self._runtime = make_client(runtime_url, request_timeout, transport_factory=transport_factory)
        self._catalogue = Catalogue()
        self._embed: ModelInfo | None = None  # the runtime's embedding model, when listed
        self._health: Any = None  # the last /health answer (a dict or a BackendFailure)
        self._health_task: asyncio.Task[Any] | None = None
        self._loaded: list[str] = []  # aliases whose target the runtime held at the last probe

    # --- discovery -------------------------------------------------------------------

    def _read_health(self) -> None:
        """Take a finished /health read, and start the next one: the slow check never holds up a probe."""
        task = self._health_task
        if task is not None and task.done():
            self._health = None if task.cancelled() else task.result()
            self._health_task = task = None
        if task is None:
            self._health_task = asyncio.create_task(self._fetch_health())

    async def _fetch_health(self) -> Any:
        # The request is made inside the task, so a task cancelled before it runs leaves nothing un-awaited.
        return await _attempt(get_json(self._client, "/health", max(_HEALTH_TIMEOUT, self.probe_timeout), "health"))

    async def probe(self) -> ProbeResult:
        started = time.perf_counter()
        self._read_health()
        timeout = self.probe_timeout
        liveness, info, runtime, cache, resources, *listings = await asyncio.gather(
            _timed(get_json(self._client, "/health/liveness", timeout, "liveness")),
            _attempt(get_json(self._client, "/info", timeout, "info")),
            _attempt(get_json(self._runtime, "/health", timeout, "universal runtime health")),
            _attempt(get_json(self._client, "/v1/models", timeout, "model cache")),
            _attempt(get_json(self._runtime, "/v1/preload/resources", timeout, "preload resources")),
            *(_attempt(get_json(self._client, f"/v1/projects/{ns}", timeout, f"projects of {ns}")) for ns in self.namespaces),
        )
        # A runtime with /v1/preload/resources has preload (so warm-up) and says its concurrency.
        self.warmup_supported = isinstance(resources, dict)
        concurrency = _concurrency(resources)
        answer, latency = liveness  # the card's latency: the liveness round trip only
        if isinstance(answer, BackendFailure):
            return ProbeResult(answer.probe_status, answer.reason, latency_ms=latency, reported_concurrency=concurrency)
        if "status" not in answer:
            reason = "liveness: answer has no status; is this LlamaFarm?"
            return ProbeResult("error", reason, latency_ms=latency, reported_concurrency=concurrency)
        if self._health is None and self._health_task is not None:
            # The first probe has no earlier /health to go by: give it what is left of the
            # probe's budget. Later probes never wait; they use the last one that finished.
            budget = self.probe_timeout * 0.9 - (time.perf_counter() - started)
            await asyncio.wait({self._health_task}, timeout=max(0.0, budget))
        self._read_health()  # a fast /health has finished by now
        health = self._health if isinstance(self._health, dict) else None
        if health is not None and str(health.get("status", "")).lower() == "unhealthy":
            summary = health.get("summary") or "health check reports unhealthy"
            return ProbeResult("error", f"unhealthy: {summary}", latency_ms=latency, reported_concurrency=concurrency)
        notes = [f.reason for f in listings if isinstance(f, BackendFailure)]
        catalogue = build_catalogue(
            [(ns, doc) for ns, doc in zip(self.namespaces, listings, strict=True) if isinstance(doc, dict)],
            multi_namespace=len(self.namespaces) > 1,
        )
        up = await self._upstreams(runtime, health, catalogue)
        models = self._models(catalogue, up)
        _mark_loaded(models, runtime.get("loaded_models") if isinstance(runtime, dict) else None)
        self._loaded = [m.id for m in models if m.loaded]
        self._embed = self._embedding_model(up, cache)
        if self._embed is not None:
            models.append(self._embed)
        default, note = self._default(catalogue, models)
        self._catalogue = catalogue
        notes += [note] if note else []
        not_ready = _not_ready(models)
        caps: set[str] = {"chat", "generate"} if catalogue.targets else set()
        if self._embed is not None:
            caps.add("embeddings")
        return ProbeResult(
            status="degraded" if not_ready or catalogue.errors else "healthy",
            error="; ".join(not_ready + catalogue.errors + notes) or None,
            version=version_label(info.get("version")) if isinstance(info, dict) else None,
            models=models,
            projects=catalogue.projects,
            capabilities=sort_capabilities(caps),
            default_model=default,
            default_embedding_model=self._embed.id if self._embed is not None else None,
            latency_ms=latency,
            reported_concurrency=concurrency,
        )

    async def warm(self, model: str, keep_alive: str | float | None = None) -> None:
        """Preload the project that defines ``model`` (``POST /v1/models/preload/{namespace}/{project}``);
        the runtime keeps it by its own idle timeout, so ``keep_alive`` has no say here."""
        target = self._catalogue.ids.get(model)
        if target is None:
            raise BackendFailure(f"warm-up: no project defines `{model}`", kind="error", retryable=False)
        await post_json(self._client, f"/v1/models/preload/{target.namespace}/{target.project}", {}, "warm-up")

    async def unload(self, model: str) -> None:
        """LlamaFarm has no unload call: its runtime drops a model after its idle timeout."""
        if model in self._loaded:
            raise BackendFailure(
                f"LlamaFarm cannot be told to unload `{model}`: its Universal Runtime unloads a model "
                f"after MODEL_UNLOAD_TIMEOUT idle ({RUNTIME_IDLE_UNLOAD_S} s by default)",
                kind="error",
                retryable=False,
            )

    async def running(self) -> list[Resident]:
        """The aliases the runtime held at the last probe. It does not say how long each has
        been idle, so the expiry given is the latest it can be: its idle timeout from now."""
        expires = datetime.fromtimestamp(time.time() + RUNTIME_IDLE_UNLOAD_S, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return [Resident(model=model, expires_at=expires) for model in self._loaded]

    async def model_sheet(self, model: str) -> ModelSheet | None:
        """LlamaFarm reports nothing about a model beyond its project listing."""
        return None

    async def _upstreams(self, runtime: Any, health: dict[str, Any] | None, catalogue: Catalogue) -> Upstreams:
        failure = runtime.reason if isinstance(runtime, BackendFailure) else None
        runtime_down, loaded = runtime_state(runtime, failure)
        ollama_host, ollama_down = ollama_component(health)
        up = Upstreams(locality_of(self.url), self.runtime_url, runtime_down, loaded, ollama_host, ollama_down)
        hosts = checkable_hosts(catalogue.targets, up.server)
        answers = await asyncio.gather(*(host_answers(h, min(0.5, self.probe_timeout)) for h in hosts))
        up.hosts_down = {h: why for h, why in zip(hosts, answers, strict=True) if why}
        return up

    def _models(self, catalogue: Catalogue, up: Upstreams) -> list[ModelInfo]:
        models = []
        for target in catalogue.targets:
            reason = readiness(target, up)
            bare = catalogue.bare.get(target.id)
            models.append(
                ModelInfo(
                    id=bare or target.id,
                    aliases=[target.id] if bare else [],
                    capabilities=["chat", "generate"],
                    project=f"{target.namespace}/{target.project}",
                    backend_model=target.model,
                    provider=target.provider,
                    ready=reason is None,
                    unavailable_reason=reason,
                    locality=locality(target, up),
                )
            )
        return models

    def _embedding_model(self, up: Upstreams, cache: Any) -> ModelInfo | None:
        """The runtime's embedding model, listed only when the runtime has it loaded or the
        server's model cache holds it: a configured name alone may not load (reference O.10)."""
        if up.runtime_down:
            return None
        cached = {m.get("model_id") for m in cache.get("data") or [] if isinstance(m, dict)} if isinstance(cache, dict) else set()
        loaded = self.embed_model in up.runtime_loaded
        if not loaded and self.embed_model not in cached:
            return None
        return ModelInfo(
            id=self.embed_model,
            capabilities=["embeddings"],
            project="universal-runtime",
            provider="universal",
            locality=farthest(up.server, locality_of(self.runtime_url)),
            loaded=loaded,
        )

    def _default(self, catalogue: Catalogue, models: list[ModelInfo]) -> tuple[str | None, str | None]:
        """The model ``auto`` uses: the configured one, else the first ready (and local,
        unless cloud is allowed) model of the first valid project, its default first."""
        if self.default_model:
            if self.default_model in catalogue.ids:
                return self.default_model, None
            return None, f"the default model {self.default_model} is not defined by any valid project"
        by_target = dict(zip((t.id for t in catalogue.targets), models, strict=False))
        order: dict[tuple[str, str], int] = {}
        for target in catalogue.targets:
            order.setdefault((target.namespace, target.project), len(order))

        def rank(t: Target) -> tuple[int, bool]:
            key = (t.namespace, t.project)
            return order[key], catalogue.defaults.get(key) != t.alias

        for target in sorted(catalogue.targets, key=rank):
            info = by_target[target.id]
            if info.ready and (self.allow_cloud or info.locality != "cloud"):
                return info.id, None
        return None, None

    def resolve_model(self, model: str) -> str | None:
        if model in self._catalogue.ids:
            return model
        if self._embed is not None and model == self._embed.id:
            return model
        return None

    # --- execution -------------------------------------------------------------------

    def _target(self, model: str) -> Target:
        target = self._catalogue.ids.get(model)
        if target is None:
            raise BackendFailure(f"model '{model}' is not defined by any valid project", kind="error", rescan=True)
        return target

    def _chat_path(self, target: Target) -> str:
        return f"/v1/projects/{target.namespace}/{target.project}/chat/completions"

    def _headers(self, req: ChatRequest) -> dict[str, str]:
        """Stateless unless the client brought a session: then LlamaFarm's, as asked."""
        if req.session_id is None:
            return _NO_SESSION
        if not _SESSION_ID.match(req.session_id):
            raise BackendFailure("X-Session-ID must be 1-128 letters, digits or ._:-", kind="error", retryable=False)
        return {"Content-Type": "application/json", "X-Session-ID": req.session_id}

    def _chat_body(self, req: ChatRequest, alias: str, stream: bool) -> dict[str, Any]:
        if req.extra.get("logprobs"):
            # Its chat answers carry no logprobs (reference), so asking would silently get none.
            raise BackendFailure("it returns no logprobs (use an Ollama model)", retryable=False)
        # It keeps only the last system message it is sent, and its tool messages take text only.
        messages = one_leading_system(images_after_tool_results(req.messages))
        body: dict[str, Any] = {"messages": messages, "model": alias, "stream": stream, "rag_enabled": False}
        for key in ("temperature", "top_p", "max_tokens", "stop", "seed"):
            value = getattr(req, key)
            if value is not None:
                body[key] = value
        if stream and req.include_usage:
            body["stream_options"] = {"include_usage": True}
        # LlamaFarm's own fields (rag_*, database, think, variables, n_ctx), tools, ... (never Ollama-only fields)
        body.update({key: value for key, value in req.extra.items() if key != OLLAMA_NATIVE})
        return body

    async def chat(self, req: ChatRequest, model: str) -> ChatCompletion:
        target = self._target(model)
        body = self._chat_body(req, target.alias, False)
        with _project_gone():
            data = await post_json(self._client, self._chat_path(target), body, "chat", self._headers(req))
        return completion_from_openai(data, model, "chat")

    async def chat_stream(self, req: ChatRequest, model: str) -> AsyncIterator[ChatChunk]:
        target = self._target(model)
        content = jsonfast.dumps(self._chat_body(req, target.alias, True))
        async with open_post(self._client, self._chat_path(target), content, self._headers(req), "chat stream") as resp:
            if resp.status_code != 200:
                with _project_gone():
                    raise await failure_from_response(resp, "chat stream")
            if "text/event-stream" not in resp.headers.get("content-type", ""):
                raise BackendFailure("chat stream: answer is not an event stream", kind="error")
            async for chunk in stream_chunks(resp, model, req.include_usage):
                yield chunk

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
        if req.dimensions:
            raise BackendFailure(
                "dimensions cannot be honoured: the Universal Runtime has no such parameter and returns the "
                "model's full-length vectors; leave dimensions out",
                retryable=False,
            )
        body: dict[str, Any] = {"model": model, "input": req.inputs, "encoding_format": "float"}
        try:
            data = await post_json(self._runtime, "/v1/embeddings", body, "embeddings (universal runtime)")
        except BackendFailure as failure:
            embed = self._embed
            if failure.status is not None and failure.status >= 500 and embed is not None and embed.id == model:
                # The runtime could not load it: not ready until the next probe looks again.
                embed.ready = False
                embed.unavailable_reason = (
                    f"the Universal Runtime failed with it ({failure.reason}); checked again at the next probe"
                )
            raise
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
        """LlamaFarm's snapshot also lists the projects of its namespaces (with validation errors)."""
        projects = result.projects if result is not None and result.projects else []
        return {"projects": [p.to_dict() for p in projects]}

    async def aclose(self) -> None:
        if self._health_task is not None:
            self._health_task.cancel()
        await asyncio.gather(self._client.aclose(), self._runtime.aclose())


@contextlib.contextmanager
def _project_gone() -> Iterator[None]:
    """422 ProjectConfigError / 404 ProjectNotFound: the project broke or vanished since the
    last probe. Not the client's fault: fall back, and have the projects read again."""
    try:
        yield
    except BackendFailure as failure:
        if failure.status in (404, 422) and any(mark in failure.reason for mark in _PROJECT_GONE):
            raise BackendFailure(failure.reason, kind="error", status=failure.status, rescan=True) from None
        raise


def _not_ready(models: list[ModelInfo]) -> list[str]:
    """ "a, b not ready: why" per distinct reason, naming the models."""
    by_reason: dict[str, list[str]] = {}
    for info in models:
        if not info.ready:
            by_reason.setdefault(info.unavailable_reason or "unavailable", []).append(info.id)
    return [f"{', '.join(names)} not ready: {reason}" for reason, names in by_reason.items()]


async def _timed(coro: Awaitable[Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = await _attempt(coro)
    return result, ms_since(started)


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
