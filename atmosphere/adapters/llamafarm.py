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
from atmosphere.domain import ChatRequest, EmbedRequest, ModelInfo, ProbeResult, Project, sort_capabilities
from atmosphere.errors import BackendFailure
from atmosphere.http.client import (
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
        liveness, health, info, projects, runtime = await asyncio.gather(
            _attempt(get_json(self._client, "/health/liveness", self.probe_timeout, "liveness")),
            _attempt(get_json(self._client, "/health", self.probe_timeout, "health")),
            _attempt(get_json(self._client, "/info", self.probe_timeout, "info")),
            _attempt(get_json(self._client, f"/v1/projects/{self.namespace}", self.probe_timeout, "projects")),
            _attempt(get_json(self._runtime, "/health", self.probe_timeout, "universal runtime health")),
        )
        latency = round((time.perf_counter() - started) * 1000, 2)
        if isinstance(liveness, BackendFailure):
            status = "offline" if liveness.kind in ("unreachable", "timeout") else "error"
            return ProbeResult(status=status, error=liveness.reason, latency_ms=latency)
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
        body: dict[str, Any] = {"messages": req.messages, "model": alias, "stream": stream, "rag_enabled": False}
        for key in ("temperature", "top_p", "max_tokens", "stop", "seed"):
            value = getattr(req, key)
            if value is not None:
                body[key] = value
        if stream and req.include_usage:
            body["stream_options"] = {"include_usage": True}
        body.update(req.extra)  # tools, response_format, rag_enabled=True when asked, ...
        return body

    async def chat(self, req: ChatRequest, model: str) -> dict[str, Any]:
        data = await post_json(self._client, self._chat_path(model), self._chat_body(req, model, False), "chat", _NO_SESSION)
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0].get("message"), dict):
            raise BackendFailure("chat: answer has no choices", kind="error")
        for choice in choices:
            choice.setdefault("finish_reason", "stop")
            choice.setdefault("logprobs", None)
            choice["message"].setdefault("content", None)
        data.pop("thinking", None)
        data["model"] = model  # the alias the client asked for, not the model behind it
        data.setdefault("id", completion_id())
        data.setdefault("object", "chat.completion")
        data.setdefault("created", int(time.time()))
        usage = data.get("usage")
        if not isinstance(usage, dict):
            data["usage"] = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        return data

    async def chat_stream(self, req: ChatRequest, model: str) -> AsyncIterator[dict[str, Any]]:
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

    async def _stream_chunks(self, resp: Any, model: str, include_usage: bool) -> AsyncIterator[dict[str, Any]]:
        """SSE → chunk dicts. Leading chunks are held back until real content shows, so a
        masked failure (the canned apology) is caught before anything reaches the client."""
        held: list[dict[str, Any]] = []
        checked = False
        finished = False
        saw_usage = False
        last: dict[str, Any] | None = None
        async for line in iter_lines(resp, "chat stream"):
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]":
                finished = True
                break
            chunk = parse_json_object(payload, "chat stream")
            if "error" in chunk:
                raise BackendFailure(f"chat stream: {chunk['error']}", kind="error")
            chunk["model"] = model
            for choice in chunk.get("choices") or ():
                choice.setdefault("finish_reason", None)
            if chunk.get("usage"):
                saw_usage = True
            elif include_usage:
                chunk["usage"] = None  # as OpenAI: null on every chunk but the last
            last = chunk
            if checked:
                yield chunk
                continue
            held.append(chunk)
            text = _content_of(chunk)
            if text is None:
                continue
            if text.lstrip().startswith(MASKED_FAILURE_PREFIX):
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
            yield {**last, "choices": [], "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}

    async def generate(self, prompt: str, model: str, params: dict[str, Any]) -> dict[str, Any]:
        messages = [{"role": "user", "content": prompt}]
        if params.get("system"):
            messages.insert(0, {"role": "system", "content": params["system"]})
        req = ChatRequest(
            model=model,
            messages=messages,
            temperature=params.get("temperature"),
            top_p=params.get("top_p"),
            max_tokens=params.get("max_tokens"),
            stop=params.get("stop"),
            seed=params.get("seed"),
        )
        data = await self.chat(req, model)
        choice = data["choices"][0]
        return {
            "text": choice["message"].get("content") or "",
            "model": model,
            "finish_reason": choice.get("finish_reason") or "stop",
            "usage": data["usage"],
        }

    async def embed(self, req: EmbedRequest, model: str) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "input": req.inputs, "encoding_format": "float"}
        data = await post_json(self._runtime, "/v1/embeddings", body, "embeddings (universal runtime)")
        items = data.get("data")
        if not isinstance(items, list) or len(items) != len(req.inputs):
            raise BackendFailure("embeddings: answer has no embedding for every input", kind="error")
        items = sorted(items, key=lambda item: item.get("index", 0))
        vectors = [item.get("embedding") for item in items]
        if not all(isinstance(v, list) for v in vectors):
            raise BackendFailure("embeddings: an embedding is not a list of numbers", kind="error")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        tokens = int(usage.get("prompt_tokens") or 0)
        return {"model": model, "vectors": vectors, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    async def aclose(self) -> None:
        await asyncio.gather(self._client.aclose(), self._runtime.aclose())


def _content_of(chunk: dict[str, Any]) -> str | None:
    """The text a chunk carries, or None while it carries nothing meaningful yet."""
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        content = delta.get("content")
        if content or delta.get("tool_calls") or choice.get("finish_reason"):
            return content or ""
    return None


async def _attempt(coro: Any) -> Any:
    try:
        return await coro
    except BackendFailure as failure:
        return failure
