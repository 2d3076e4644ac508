"""The executor: LlamaFarm first, Ollama as the fallback, model-aware.

For each request it makes a plan (which enabled, healthy backends can serve the
model, in priority order), then tries them in turn. A failure before anything
reached the client moves on to the next backend; the result records who served
and every attempt that did not.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from atmosphere.domain import (
    CatalogModel,
    ChatChunk,
    ChatCompletion,
    ChatRequest,
    Embeddings,
    EmbedRequest,
    GenerateRequest,
    ProbeResult,
    TestResult,
)
from atmosphere.errors import (
    Attempt,
    BackendFailure,
    InvalidRequest,
    ModelNotFound,
    failure_from_attempts,
)
from atmosphere.ports import Backend
from atmosphere.registry import Registry
from atmosphere.router import actions
from atmosphere.router.catalog import Catalog

log = logging.getLogger("atmosphere.executor")

T = TypeVar("T")
AUTO_MODELS = frozenset({"", "auto", "default"})


@dataclass(slots=True)
class Served(Generic[T]):
    """A result, the backend and model that produced it, and the attempts before it."""

    value: T
    backend: str
    model: str
    attempts: list[Attempt] = field(default_factory=list)


@dataclass(slots=True)
class StartedStream:
    """A stream whose first chunk has already arrived, so the backend is committed."""

    first: ChatChunk
    rest: AsyncIterator[ChatChunk]


class Executor:
    """The one way every face reaches a backend: plan, try in order, report attempts."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self.catalog = Catalog(registry)

    # --- the catalogue -----------------------------------------------------------------

    def models(self) -> list[CatalogModel]:
        """The merged catalogue, in priority order, each model once."""
        return self.catalog.models()

    def model(self, model_id: str) -> CatalogModel:
        found = self.catalog.model(model_id)
        if found is None:
            raise self.model_not_found(model_id)
        return found

    # --- planning --------------------------------------------------------------------

    def plan(self, model: str | None, capability: str) -> tuple[list[tuple[Backend, str]], list[Attempt]]:
        """Backends (with their own model name) that may serve ``model``, best first,
        and the backends skipped on the way, with why."""
        candidates: list[tuple[Backend, str]] = []
        skipped: list[Attempt] = []
        registry = self.registry
        if model is None or model.lower() in AUTO_MODELS:
            for backend in registry.backends:
                if not registry.is_enabled(backend.id):
                    continue
                result = registry.result(backend.id)
                if result is None or result.status != "healthy":
                    skipped.append(_unhealthy(backend, result))
                    continue
                default = result.default_embedding_model if capability == "embeddings" else result.default_model
                if default is None:
                    skipped.append(Attempt(backend.id, f"has no {capability} model", "skipped"))
                    continue
                candidates.append((backend, default))
            return candidates, skipped

        unsupported = []
        for backend in registry.backends:
            native = backend.resolve_model(model)
            if native is None or not registry.is_enabled(backend.id):
                continue
            result = registry.result(backend.id)
            if result is None or result.status != "healthy":
                skipped.append(_unhealthy(backend, result))
                continue
            if not _supports(result, native, capability):
                unsupported.append(backend.name)
                continue
            candidates.append((backend, native))
        if not candidates and not skipped and unsupported:
            raise InvalidRequest(
                f"The model `{model}` does not support {capability} (on {', '.join(unsupported)}).", param="model"
            )
        if not candidates and not skipped:
            raise self.model_not_found(model)
        return candidates, skipped

    def model_not_found(self, model: str) -> ModelNotFound:
        """The 404 for a model no enabled backend serves, naming disabled ones that do."""
        registry = self.registry
        disabled = [b.id for b in registry.backends if not registry.is_enabled(b.id) and b.resolve_model(model)]
        if disabled:
            return ModelNotFound(
                f"The model `{model}` is only available on disabled integration(s): {', '.join(disabled)}. "
                "Enable the integration to use it.",
                param="model",
            )
        return ModelNotFound(f"The model `{model}` does not exist on any enabled integration.", param="model")

    # --- running ---------------------------------------------------------------------

    async def _run(
        self,
        model: str | None,
        capability: str,
        call: Callable[[Backend, str], Awaitable[T]],
        what: str,
    ) -> Served[T]:
        candidates, attempts = self.plan(model, capability)
        for position, (backend, native) in enumerate(candidates, 1):
            try:
                return Served(await call(backend, native), backend.id, native, attempts)
            except BackendFailure as exc:
                if not exc.retryable:
                    raise InvalidRequest(f"{backend.name} refused the request: {exc.reason}") from None
                failure = exc
            except Exception as exc:  # noqa: BLE001 - an answer the adapter could not digest
                log.exception("%s on %s: unexpected answer", what, backend.id)
                failure = BackendFailure(f"unexpected answer ({type(exc).__name__}: {exc})", kind="error")
            then = "; trying the next backend" if position < len(candidates) else ""
            log.warning("%s failed on %s (%s)%s", what, backend.id, failure.reason, then)
            attempts.append(Attempt(backend.id, failure.reason, failure.kind))
            if failure.kind == "unreachable":
                self.registry.request_scan()  # be honest about state sooner than the next tick
        raise failure_from_attempts(attempts, what)

    async def chat(self, req: ChatRequest) -> Served[ChatCompletion]:
        return await self._run(req.model, "chat", lambda b, m: b.chat(req, m), "chat completion")

    async def chat_stream(self, req: ChatRequest) -> Served[StartedStream]:
        return await self._run(req.model, "chat", lambda b, m: _start_stream(b.chat_stream(req, m)), "chat stream")

    async def generate(self, req: GenerateRequest) -> Served[ChatCompletion]:
        return await self._run(req.model, "generate", lambda b, m: b.generate(req, m), "generation")

    async def generate_stream(self, req: GenerateRequest) -> Served[StartedStream]:
        return await self._run(req.model, "generate", lambda b, m: _start_stream(b.generate_stream(req, m)), "generation stream")

    async def embed(self, req: EmbedRequest) -> Served[Embeddings]:
        return await self._run(req.model, "embeddings", lambda b, m: b.embed(req, m), "embeddings")

    # --- Atmosphere's own actions ----------------------------------------------------

    async def test_one(self, integration: str, prompt: str, model: str | None, max_tokens: int | None) -> TestResult:
        """One prompt on one integration, no fallback; a backend failure is a result."""
        return await actions.test_one(self.registry, integration, prompt, model, max_tokens)

    async def execute(self, request: actions.ActionRequest) -> Served[ChatCompletion] | Served[Embeddings]:
        """Run a chat, generate or embeddings request (``/v1/execute``), with fallback."""
        return await actions.execute(self, request)


async def _start_stream(stream: AsyncIterator[ChatChunk]) -> StartedStream:
    """Wait for the first chunk: until it arrives, a failure can still fall back."""
    iterator = aiter(stream)
    try:
        first = await anext(iterator)
    except StopAsyncIteration:
        raise BackendFailure("stream ended before its first chunk", kind="error") from None
    return StartedStream(first, iterator)


def _supports(result: ProbeResult, native: str, capability: str) -> bool:
    """Whether the backend said this model can do ``capability`` (unknown → let it try)."""
    wanted = "chat" if capability == "generate" else capability
    for info in result.models:
        if info.id == native:
            return not info.capabilities or wanted in info.capabilities
    return True


def _unhealthy(backend: Backend, result: ProbeResult | None) -> Attempt:
    """Why a backend that is not healthy was skipped, in the words of its last probe."""
    if result is None:
        return Attempt(backend.id, "not probed yet", "skipped")
    return Attempt(backend.id, f"{result.status}: {result.error or 'not reachable'}", "skipped")
