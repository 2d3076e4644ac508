"""The executor: LlamaFarm first, Ollama as the fallback, model-aware.

For each request it makes a plan (which enabled, healthy backends can serve the
model, in priority order, skipping models that are not ready or not local:
``readiness``), then tries them in turn; ``answers`` holds the rules every answer obeys. A failure before anything
reached the client moves on to the next backend; the result records who served
and every attempt that did not.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from atmosphere.domain import (
    Attempt,
    CatalogModel,
    ChatCompletion,
    ChatRequest,
    Embeddings,
    EmbedRequest,
    GenerateRequest,
    ProbeResult,
    TestResult,
)
from atmosphere.errors import (
    BackendFailure,
    HostsBusy,
    InvalidRequest,
    ModelNotFound,
    NotAllowedForKey,
    failure_from_attempts,
    unexpected_answer,
)
from atmosphere.observe.metrics import Metrics
from atmosphere.observe.recorder import Recorder, StreamTally, Trace, prompt_text
from atmosphere.observe.requestlog import RequestLog
from atmosphere.ports import Backend
from atmosphere.router import actions
from atmosphere.router.actions import ActionRequest
from atmosphere.router.answers import one_answer, prompt_estimate, settle_completion
from atmosphere.router.balancer import Balancer, Lease
from atmosphere.router.breaker import Breakers
from atmosphere.router.catalog import Catalog
from atmosphere.router.equivalents import Equivalents
from atmosphere.router.plan import Candidate, equivalent_natives, pools
from atmosphere.router.readiness import ROUTABLE, attempts_before, not_local, screen
from atmosphere.router.residency import Residency
from atmosphere.router.streams import OfflineWatch, StreamLimits, attempting, start_stream
from atmosphere.router.streams import StartedStream as StartedStream  # faces import it from here
from atmosphere.state.registry import Registry

log = logging.getLogger("atmosphere.executor")

# OpenAI's own per-request limit; it also keeps an answer of 2,048 vectors of up to ~1,500
# dimensions under the 64 MiB result cap.
MAX_EMBED_INPUTS = 2048

T = TypeVar("T")
AUTO_MODELS = frozenset({"", "auto", "default"})


@dataclass(slots=True)
class Served(Generic[T]):
    """A result, the backend and model that produced it, and the attempts before it."""

    value: T
    backend: str
    model: str
    attempts: list[Attempt] = field(default_factory=list)
    substituted: bool = False  # an equivalent of the requested model served (X-Atmosphere-Substituted)


class Executor:
    """The one way every face reaches a backend: plan, try in order, report attempts."""

    def __init__(
        self,
        registry: Registry,
        *,
        balancer: Balancer | None = None,
        recorder: Recorder | None = None,
        equivalents: Equivalents | None = None,
        allow_cloud: bool = False,
        limits: StreamLimits | None = None,
        breakers: Breakers | None = None,
    ):
        self.registry = registry
        self.allow_cloud = allow_cloud  # local by default: cloud models are neither listed nor routed
        self.limits = limits or StreamLimits()
        self.breakers = breakers or Breakers()
        self.watch = OfflineWatch(registry)
        self.catalog = Catalog(registry, equivalents, allow_cloud=allow_cloud)
        self.balancer = balancer or Balancer()
        self.recorder = recorder or Recorder(RequestLog(), Metrics())
        self.equivalents = equivalents
        self.residency = Residency(registry, self.plan, equivalents, allow_cloud=allow_cloud)  # warm, unload, what is held

    # --- the catalogue -----------------------------------------------------------------

    def models(self) -> list[CatalogModel]:
        """The merged catalogue, in priority order, each model once."""
        return self.catalog.models()

    def lookup(self, name: str) -> str | None:
        """The name ``name`` is served under, as an Ollama client means it (``Catalog.lookup``)."""
        return self.catalog.lookup(name)

    def model(self, model_id: str) -> CatalogModel:
        found = self.catalog.model(model_id)
        if found is None:
            raise self.model_not_found(model_id)
        return found

    # --- planning --------------------------------------------------------------------

    def plan(self, model: str | None, capability: str) -> tuple[list[Candidate], list[Attempt]]:
        """Hosts (with their own model name) that may serve ``model``, in priority order,
        then equivalents of the model; and the hosts skipped on the way, with why."""
        candidates: list[Candidate] = []
        skipped: list[Attempt] = []
        registry = self.registry
        if model is None or model.lower() in AUTO_MODELS:
            for backend in registry.backends:
                result = self._usable(backend, skipped)
                if result is None:
                    continue
                default = result.default_embedding_model if capability == "embeddings" else result.default_model
                if default is None:
                    skipped.append(Attempt(backend.id, f"has no ready {capability} model", "skipped"))
                    continue
                if (skip := screen(backend, result, default, self.allow_cloud)) is not None:
                    skipped.append(skip)  # auto never picks a model that is not ready or not local
                    continue
                candidates.append(self._candidate(backend, default, result))
            return candidates, skipped

        unsupported: list[str] = []
        direct = [(b, n) for b in registry.backends if (n := b.resolve_model(model)) is not None]
        equivalent = equivalent_natives(self.equivalents, model, registry.backends)
        if equivalent is not None and equivalent[1] and not direct:
            shared = equivalent[0]  # a shared name: the first member in priority order is not a substitute
            direct, extra = shared[:1], shared[1:]
        else:
            extra = equivalent[0] if equivalent is not None else []
        for substituted, pairs in ((False, direct), (True, extra)):
            for backend, native in pairs:
                result = self._usable(backend, skipped)
                if result is None:
                    continue
                if not _supports(result, native, capability):
                    unsupported.append(backend.name)
                    continue
                if (skip := screen(backend, result, native, self.allow_cloud)) is not None:
                    skipped.append(skip)  # like an unhealthy backend: skipped, and named if nothing serves
                    continue
                candidates.append(self._candidate(backend, native, result, substituted))
        if not candidates and not skipped and unsupported:
            raise InvalidRequest(
                f"The model `{model}` does not support {capability} (on {', '.join(unsupported)}).", param="model"
            )
        if not candidates and not skipped:
            raise self.model_not_found(model)
        if not candidates and (refusal := not_local(model, skipped)) is not None:
            raise refusal
        return candidates, skipped

    def _usable(self, backend: Backend, skipped: list[Attempt]) -> ProbeResult | None:
        """The last probe of an enabled backend that can take work (``ROUTABLE``); None otherwise
        (one that cannot is noted in ``skipped`` with its reason; a disabled one is left out silently)."""
        if not self.registry.is_enabled(backend.id):
            return None
        result = self.registry.result(backend.id)
        if result is None or result.status not in ROUTABLE:
            skipped.append(_unhealthy(backend, result))
            return None
        return result

    def _candidate(self, backend: Backend, native: str, result: ProbeResult, substituted: bool = False) -> Candidate:
        loaded = result is not None and native in result.loaded()
        return Candidate(backend, native, self.registry.priority(backend.id), loaded, substituted)

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
        req: ActionRequest,
        capability: str,
        call: Callable[[Backend, str], Awaitable[T]],
        what: str,
    ) -> Served[T]:
        """Plan, then for each pool of equals take a slot on the best host and try it; a
        failure moves on to the next host of the pool, then to the next pool."""
        stream = getattr(req, "stream", False)
        trace = self.recorder.trace(req.model, stream, lambda: prompt_text(req))
        try:
            return await self._dispatch(req, capability, call, what, trace)
        except BaseException as exc:
            trace.fail(exc)
            raise

    async def _dispatch(
        self, req: ActionRequest, capability: str, call: Callable[[Backend, str], Awaitable[T]], what: str, trace: Trace
    ) -> Served[T]:
        refuse = trace.context.refuse_model
        if refuse is not None and (why := refuse(req.model)) is not None:
            raise NotAllowedForKey(why, param="model")  # a client key's scope, before any host is asked
        candidates, attempts = self.plan(req.model, capability)
        session = getattr(req, "user", None) or trace.context.session
        balancer = self.balancer
        groups = pools(candidates)
        for number, pool in enumerate(groups, 1):
            remaining = self._admitted(balancer.rank(pool, session), attempts)
            while remaining:
                try:
                    lease = await balancer.acquire([c.host_id for c in remaining])
                except HostsBusy as busy:
                    if number == len(groups):
                        retry = int(busy.headers["Retry-After"])
                        raise HostsBusy(busy.message, attempts, retry_after=retry) from None
                    attempts.extend(Attempt(c.host_id, "busy: queue full", "skipped") for c in remaining)
                    break
                if lease.waited:
                    trace.waited(lease.waited)
                candidate = next(c for c in remaining if c.host_id == lease.host)
                remaining.remove(candidate)
                backend, native = candidate.backend, candidate.native
                refused = self.breakers.admit(backend.id, native)
                if refused is not None:  # another request took the half-open trial meanwhile
                    lease.release()
                    attempts.append(Attempt(backend.id, refused, "skipped"))
                    continue
                trace.upstream_begins()
                attempting(backend.name)
                try:
                    async with self.watch.released(backend.id):
                        value = await call(backend, native)
                except BaseException as exc:  # noqa: BLE001 - the slot is freed whatever happened; _failure re-raises
                    lease.release()
                    failure = self._judged(exc, backend, native, what)
                else:
                    balancer.remember(session, backend.id)
                    if not isinstance(value, StartedStream):
                        self.breakers.succeeded(backend.id, native)
                    return self._served(value, candidate, attempts, lease, trace)
                last = number == len(groups) and not remaining
                then = "" if last else "; trying the next integration"
                log.warning("%s failed on %s (%s)%s", what, backend.id, failure.reason, then)
                attempts.append(Attempt(backend.id, failure.reason, failure.kind))
                if failure.kind == "unreachable" or failure.rescan:
                    self.registry.request_scan()  # be honest about state sooner than the next tick
                self.registry.refresh(backend.id)  # a model the adapter marked not ready shows at once
        raise failure_from_attempts(attempts, what)

    def _admitted(self, ranked: list[Candidate], attempts: list[Attempt]) -> list[Candidate]:
        """The plan step of the circuit breaker: hosts whose circuit is open are skipped, with why."""
        admitted = []
        for candidate in ranked:
            refused = self.breakers.admit(candidate.host_id, candidate.native, take=False)
            if refused is None:
                admitted.append(candidate)
            else:
                attempts.append(Attempt(candidate.host_id, refused, "skipped"))
        return admitted

    def _judged(self, exc: BaseException, backend: Backend, native: str, what: str) -> BackendFailure:
        """``_failure``, with the outcome told to the breaker (a client error or a cancellation is no verdict)."""
        try:
            failure = self._failure(exc, backend, what)
        except BaseException:
            self.breakers.abandoned(backend.id, native)
            raise
        self.breakers.failed(backend.id, native, failure)
        return failure

    def _failure(self, exc: BaseException, backend: Backend, what: str) -> BackendFailure:
        """A retryable failure to record, or the exception itself when it must not fall back."""
        if isinstance(exc, BackendFailure):
            if not exc.retryable:
                raise InvalidRequest(f"{backend.name} refused the request: {exc.reason}") from None
            return exc
        if not isinstance(exc, Exception):
            raise exc  # cancelled: the client left
        log.exception("%s on %s: unexpected answer", what, backend.id, exc_info=exc)
        return BackendFailure(unexpected_answer(exc, detail=True), kind="error")

    def _served(self, value: T, candidate: Candidate, attempts: list[Attempt], lease: Lease, trace: Trace) -> Served[T]:
        """Commit to the host that answered; a stream keeps its slot until it ends."""
        backend, native, substituted = candidate.host_id, candidate.native, candidate.substituted
        if isinstance(value, StartedStream):
            trace.first_chunk()

            value.watched(_Committed(self.breakers, StreamTally(value.first, trace), candidate, attempts, lease, trace))
        else:
            lease.release()
            usage = getattr(value, "usage", None)
            answer = getattr(value, "content", None)
            trace.finish(backend, native, attempts, usage, substituted=substituted, answer=answer)
        before = attempts_before(attempts, backend, self.registry.backends)
        return Served(value, backend, native, before, substituted)

    async def chat(self, req: ChatRequest) -> Served[ChatCompletion]:
        prompt = prompt_estimate(req.messages)
        return await self._run(req, "chat", lambda b, m: _settled(b.chat(req, m), prompt), "chat completion")

    async def chat_stream(self, req: ChatRequest) -> Served[StartedStream]:
        def start(backend: Backend, model: str) -> Awaitable[StartedStream]:
            return start_stream(
                one_answer(backend.chat_stream(req, model), req.include_usage, prompt_estimate(req.messages)), self.limits
            )

        return await self._run(req, "chat", start, "chat stream")

    async def generate(self, req: GenerateRequest) -> Served[ChatCompletion]:
        prompt = prompt_estimate([{"content": req.prompt}])
        return await self._run(req, "generate", lambda b, m: _settled(b.generate(req, m), prompt), "generation")

    async def generate_stream(self, req: GenerateRequest) -> Served[StartedStream]:
        def start(backend: Backend, model: str) -> Awaitable[StartedStream]:
            prompt = prompt_estimate([{"content": req.prompt}])
            return start_stream(one_answer(backend.generate_stream(req, model), req.include_usage, prompt), self.limits)

        return await self._run(req, "generate", start, "generation stream")

    async def embed(self, req: EmbedRequest) -> Served[Embeddings]:
        if len(req.inputs) > MAX_EMBED_INPUTS:
            # The answer would outgrow the result cap (and OpenAI refuses the same): the
            # caller asked too much, so say the limit instead of failing upstream.
            raise InvalidRequest(
                f"Too many embedding inputs: {len(req.inputs)}; at most {MAX_EMBED_INPUTS} per request. "
                "Split the input into batches.",
                param="input",
            )
        return await self._run(req, "embeddings", lambda b, m: b.embed(req, m), "embeddings")

    # --- Atmosphere's own actions ----------------------------------------------------

    async def test_one(self, integration: str, prompt: str, model: str | None, max_tokens: int | None) -> TestResult:
        """One prompt on one integration, no fallback; a backend failure is a result."""
        return await actions.test_one(self.registry, integration, prompt, model, max_tokens)

    async def execute(self, request: actions.ActionRequest) -> Served[ChatCompletion] | Served[Embeddings]:
        """Run a chat, generate or embeddings request (``/v1/execute``), with fallback."""
        if isinstance(request, EmbedRequest):
            return await self.embed(request)
        if isinstance(request, GenerateRequest):
            return await self.generate(request)
        return await self.chat(request)


class _Committed:
    """A committed stream's end, told once (``StreamWatcher``): the breaker's verdict (cut or
    failed mid-way counts against the host, a client leaving is no verdict), the host's slot
    freed, the request's entry written with what the chunks added up to."""

    __slots__ = ("_breakers", "_candidate", "_attempts", "_lease", "_trace", "_tally", "chunk")

    def __init__(
        self, breakers: Breakers, tally: StreamTally, candidate: Candidate, attempts: list[Attempt], lease: Lease, trace: Trace
    ) -> None:
        self._breakers = breakers
        self._candidate = candidate
        self._tally = tally
        self.chunk = tally.add  # bound once: the watcher calls it for every chunk
        self._attempts = attempts
        self._lease = lease
        self._trace = trace

    def ended(self, error: BaseException | None) -> None:
        backend, native = self._candidate.host_id, self._candidate.native
        if error is None:
            self._breakers.succeeded(backend, native)
        elif isinstance(error, BackendFailure):
            self._breakers.failed(backend, native, error)
        elif isinstance(error, Exception):
            self._breakers.failed(backend, native, BackendFailure(unexpected_answer(error)))
        else:
            self._breakers.abandoned(backend, native)
        self._lease.release()
        usage, text = self._tally.result()
        self._trace.finish(backend, native, self._attempts, usage, substituted=self._candidate.substituted, answer=text)


async def _settled(answer: Awaitable[ChatCompletion], prompt_tokens: int) -> ChatCompletion:
    """A buffered answer with honest usage, before anyone records or renders it."""
    return settle_completion(await answer, prompt_tokens)


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
