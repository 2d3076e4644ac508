"""Residency: which models the hosts hold in memory, and loading or unloading one on request.

One action for every surface that asks. The dashboard's Warm button
(``POST /v1/integrations/{id}/warm``) names a host; the Ollama face's load and unload calls
(an empty ``/api/chat`` or ``/api/generate`` with ``keep_alive``; ``ollama stop`` sends
``keep_alive: 0``) name only a model. A load goes to the host the router would send that
model to first; an unload to every host serving the name (a models-file name: each
member), since a balanced pool may hold it on more than one. What is resident is asked of
each host live (Ollama's own ``/api/ps``, with its real expiry), not read from the last probe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from atmosphere.domain import Attempt, ModelInfo, Resident
from atmosphere.errors import BackendFailure, InvalidRequest, ModelNotFound, NotFound, failure_from_attempts, unexpected_answer
from atmosphere.ports import Backend
from atmosphere.router.equivalents import Equivalents
from atmosphere.router.plan import Candidate, equivalent_natives
from atmosphere.router.readiness import ROUTABLE
from atmosphere.state.registry import Registry
from atmosphere.timing import ms_since

log = logging.getLogger("atmosphere.residency")

DASHBOARD_KEEP_ALIVE = "30m"  # a warm-up from the dashboard keeps the model this long (Ollama's default is 5m)
Plan = Callable[[str | None, str], tuple[list[Candidate], list[Attempt]]]


@dataclass(frozen=True, slots=True)
class Warmed:
    """A warm-up's outcome on one host: ``error`` says why it did not happen."""

    host: str
    model: str  # the host's own name for it
    latency_ms: float | None = None
    error: str | None = None

    @property
    def success(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Held:
    """A resident model, under the name the host lists it by, and the host that holds it."""

    name: str
    host: str
    info: ModelInfo
    resident: Resident


class Residency:
    def __init__(self, registry: Registry, plan: Plan, equivalents: Equivalents | None = None, *, allow_cloud: bool = False):
        self.registry = registry
        self._plan = plan  # the executor's: a load goes where a request for the model would
        self.equivalents = equivalents
        self.allow_cloud = allow_cloud

    # --- loading -----------------------------------------------------------------------

    async def warm_on(self, host_id: str, model: str, keep_alive: str | float | None = DASHBOARD_KEEP_ALIVE) -> Warmed:
        """Load ``model`` on one named host (the dashboard). An unknown host or a model it
        does not list is a 404; a host that cannot preload, or fails to, is a result saying why."""
        backend = self.registry.get(host_id)
        if backend is None:
            raise NotFound(f"No integration with id '{host_id}'.", param="integration_id")
        native = backend.resolve_model(model)
        if native is None:
            raise ModelNotFound(f"{backend.name} does not list the model `{model}`.", param="model")
        if not backend.warmup_supported:
            return Warmed(host_id, native, error=f"{backend.name} has no way to preload a model in this version.")
        started = time.perf_counter()
        try:
            await self._warm(backend, native, keep_alive)
        except BackendFailure as failure:
            return Warmed(host_id, native, ms_since(started), failure.reason)
        return Warmed(host_id, native, ms_since(started))

    async def warm(self, model: str, capability: str, keep_alive: str | float | None) -> Warmed | None:
        """Load ``model`` for a client, on the host a request for it would go to first. None
        when that host cannot preload (it loads the model on first use); a failure raises."""
        candidates, skipped = self._plan(model, capability)
        if not candidates:
            raise failure_from_attempts(skipped, "the warm-up")
        first = candidates[0]
        if not first.backend.warmup_supported:
            return None
        started = time.perf_counter()
        try:
            await self._warm(first.backend, first.native, keep_alive)
        except BackendFailure as failure:
            raise failure_from_attempts([Attempt(first.host_id, failure.reason, failure.kind)], "the warm-up") from None
        return Warmed(first.host_id, first.native, ms_since(started))

    async def _warm(self, backend: Backend, native: str, keep_alive: str | float | None) -> None:
        try:
            await backend.warm(native, keep_alive)
        finally:
            self.registry.request_scan()  # the card shows it loaded after the next probe

    # --- unloading ---------------------------------------------------------------------

    async def unload(self, model: str) -> list[str]:
        """Drop ``model`` from memory on every host serving the name; the hosts asked.

        A host that cannot be told to (LlamaFarm, while its runtime holds the model) is a
        400 saying so; a host that fails is a 502/504 naming it (others are unloaded still)."""
        targets = self._serving(model)
        if not targets:
            raise ModelNotFound(f"The model `{model}` does not exist on any enabled integration.", param="model")
        outcomes = await asyncio.gather(*(backend.unload(native) for backend, native in targets), return_exceptions=True)
        self.registry.request_scan()
        failed: list[Attempt] = []
        for (backend, native), outcome in zip(targets, outcomes, strict=True):
            if isinstance(outcome, BackendFailure) and not outcome.retryable:
                raise InvalidRequest(outcome.reason, param="keep_alive")
            if isinstance(outcome, BackendFailure):
                failed.append(Attempt(backend.id, outcome.reason, outcome.kind))
            elif isinstance(outcome, BaseException):
                log.error("unloading %s on %s: unexpected answer", native, backend.id, exc_info=outcome)
                failed.append(Attempt(backend.id, unexpected_answer(outcome)))
        if failed:
            raise failure_from_attempts(failed, "the unload")
        return [backend.id for backend, _ in targets]

    def _serving(self, model: str) -> list[tuple[Backend, str]]:
        """(host, native name) for each enabled, reachable host that serves ``model``."""
        backends = self.registry.backends
        found = [(b, n) for b in backends if (n := b.resolve_model(model)) is not None]
        equivalent = equivalent_natives(self.equivalents, model, backends)
        if equivalent is not None and equivalent[1]:  # a models-file name: its members are the model
            found += [pair for pair in equivalent[0] if pair not in found]
        return [(b, n) for b, n in found if self._routable(b)]

    def _routable(self, backend: Backend) -> bool:
        result = self.registry.result(backend.id)
        return self.registry.is_enabled(backend.id) and result is not None and result.status in ROUTABLE

    # --- what is resident --------------------------------------------------------------

    async def running(self) -> list[Held]:
        """Every resident model once, under the name its host lists it by, latest expiry first.

        Hosts are asked concurrently; one that does not answer is left out (logged), not an error.
        A name held by several hosts (a pool) is listed once, with the latest expiry."""
        hosts = [b for b in self.registry.backends if self._routable(b)]
        answers = await asyncio.gather(*(self._resident(b) for b in hosts))
        held: dict[str, Held] = {}
        for backend, residents in zip(hosts, answers, strict=True):
            result = self.registry.result(backend.id)
            for resident in residents:
                info = result.model_info(resident.model) if result is not None else None
                if info is None:
                    info = ModelInfo(id=resident.model)  # loaded since the last probe listed the models
                if info.locality == "cloud" and not self.allow_cloud:
                    continue
                known = held.get(info.id)
                if known is None or expiry(resident) > expiry(known.resident):
                    held[info.id] = Held(info.id, backend.id, info, resident)
        return sorted(held.values(), key=lambda h: expiry(h.resident), reverse=True)

    async def _resident(self, backend: Backend) -> list[Resident]:
        try:
            return await backend.running()
        except BackendFailure as failure:
            log.warning("could not ask %s what it holds: %s", backend.id, failure.reason)
        except Exception:  # noqa: BLE001 - one host's odd answer must not fail the listing
            log.exception("could not ask %s what it holds", backend.id)
        return []


def expiry(resident: Resident) -> float:
    """When the host will unload it (epoch seconds); 0 when it does not say or says nonsense."""
    if not resident.expires_at:
        return 0.0
    try:
        return datetime.fromisoformat(resident.expires_at).timestamp()
    except ValueError:
        return 0.0
