"""The fleet: which hosts exist, in which order, and what the operator did to them.

Hosts come from the settings (``ATMOSPHERE_OLLAMA_URL`` / ``ATMOSPHERE_LLAMAFARM_URL``) and
from the dashboard (``POST /v1/integrations``). Those added, and the order the operator
chose, persist in ``<state_dir>/hosts.json``; enable/disable stays in the registry's own
file. Only URLs the operator entered are ever contacted: nothing here discovers hosts.

The registry owns each host's state; this module changes the set of hosts and supplies the
fields that change with load (in flight, queue, statistics) to the registry's snapshots.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from atmosphere import jsonfast
from atmosphere.domain import ModelInfo
from atmosphere.errors import Conflict, InvalidRequest, NotFound, StateNotSaved
from atmosphere.host_policy import HostRules, TooManyHosts, network_of
from atmosphere.hosts import HostListError, HostSpec, check_id, new_host
from atmosphere.observe.metrics import HostGauge
from atmosphere.observe.requestlog import RequestLog
from atmosphere.ports import Backend
from atmosphere.registry import Registry
from atmosphere.router.balancer import Balancer
from atmosphere.state import files

log = logging.getLogger("atmosphere.fleet")

BuildBackend = Callable[[HostSpec], Backend]


class Fleet:
    def __init__(
        self,
        configured: list[HostSpec],
        *,
        state_dir: Path,
        build: BuildBackend,
        balancer: Balancer,
        requests: RequestLog,
        rules: HostRules = HostRules(),  # noqa: B008 - frozen
    ):
        self._file = state_dir / "hosts.json"
        self.rules = rules
        self._build = build
        self.balancer = balancer
        self.requests = requests
        self._lock = asyncio.Lock()
        added, self._order = self._load()
        self.specs: dict[str, HostSpec] = {spec.id: spec for spec in configured}
        for spec in added:
            if spec.id in self.specs:
                log.warning("ignoring saved host %r: the settings name a host with that id", spec.id)
                continue
            if len(self.specs) >= rules.max_hosts:
                log.warning("ignoring saved host %r in %s: more hosts than ATMOSPHERE_MAX_HOSTS", spec.id, self._file)
                continue
            self.specs[spec.id] = spec
        self.registry: Registry | None = None
        self.on_change: Callable[[], None] = lambda: None  # e.g. /ws sends a fresh snapshot

    # --- start-up --------------------------------------------------------------------

    def backends(self) -> list[Backend]:
        """One backend per host: LlamaFarm hosts first, then Ollama, added ones after their kind."""
        specs = sorted(self.specs.values(), key=lambda s: 0 if s.kind == "llamafarm" else 1)
        return [self._build(spec) for spec in specs]

    def attach(self, registry: Registry) -> None:
        self.registry = registry
        registry.live_fields = self.live_fields
        registry.after_probe = self._probed
        if self._order:
            registry.reorder(self._order)

    def _probed(self, backend: Backend) -> None:
        """A host's own word on its concurrency (LlamaFarm's optimal_concurrency) sets its limit."""
        self.balancer.set_reported_limit(backend.id, getattr(backend, "reported_concurrency", None))

    # --- what cards show -------------------------------------------------------------

    def live_fields(self, host_id: str) -> dict[str, Any]:
        load = self.balancer.load(host_id)
        spec = self.specs.get(host_id)
        backend = self.registry.get(host_id) if self.registry else None
        return {
            "removable": bool(spec and spec.removable),
            "inflight": load.inflight,
            "queue_depth": load.queued,
            "max_inflight": load.max_inflight,
            "stats": self.requests.stats(host_id),
            "warmup_supported": bool(backend is not None and backend.warmup_supported),
            "network": network_of(spec.url) if spec else None,
        }

    def gauges(self) -> list[HostGauge]:
        """Per-host gauges for /metrics, read at scrape time."""
        if self.registry is None:
            return []
        out = []
        for backend in self.registry.backends:
            load = self.balancer.load(backend.id)
            result = self.registry.result(backend.id)
            out.append(
                HostGauge(
                    backend.id,
                    load.inflight,
                    load.queued,
                    load.max_inflight,
                    result.latency_ms if result else None,
                    result.status if result else "unknown",
                )
            )
        return out

    # --- the operator's changes ------------------------------------------------------

    async def add(self, kind: Any, name: Any, url: Any, runtime_url: Any) -> dict[str, Any]:
        registry = self._registry()
        for field, value in (("kind", kind), ("url", url)):
            if not isinstance(value, str) or not value.strip():
                raise InvalidRequest(f"'{field}' must be a non-empty string.", param=field)
        if name is not None and not isinstance(name, str):
            raise InvalidRequest("'name' must be a string.", param="name")
        if runtime_url is not None and not isinstance(runtime_url, str):
            raise InvalidRequest("'runtime_url' must be a string.", param="runtime_url")
        async with self._lock:
            try:
                self.rules.check_room(len(self.specs))
                spec = new_host(kind, name or "", url, runtime_url or None, set(self.specs), self.rules.allow)
            except TooManyHosts as exc:
                raise Conflict(str(exc), code="too_many_hosts") from None
            except HostListError as exc:
                raise InvalidRequest(str(exc), param=exc.param) from None
            self.specs[spec.id] = spec
            try:
                await self._save()
            except BaseException:
                del self.specs[spec.id]
                raise
            registry.add(self._build(spec))
        log.info("added %s at %s", spec.id, spec.url)
        self.on_change()
        return registry.integration(spec.id)

    async def remove(self, host_id: str) -> None:
        registry = self._registry()
        spec = self.specs.get(host_id)
        if spec is None or registry.get(host_id) is None:
            raise NotFound(f"No integration with id '{host_id}'.", param="integration_id")
        if not spec.removable:
            raise InvalidRequest(
                f"'{host_id}' comes from the settings (ATMOSPHERE_{spec.kind.upper()}_URL); remove it there, or disable it.",
                param="integration_id",
            )
        async with self._lock:
            del self.specs[host_id]
            try:
                await self._save()
            except BaseException:
                self.specs[host_id] = spec
                raise
            backend = registry.remove(host_id)
        await registry.forget(host_id)
        self.balancer.forget(host_id)
        self.requests.forget(host_id)
        await backend.aclose()
        log.info("removed %s", host_id)
        self.on_change()

    async def reorder(self, order: Any) -> list[dict[str, Any]]:
        registry = self._registry()
        if not isinstance(order, list) or not all(isinstance(i, str) for i in order) or not order:
            raise InvalidRequest("'order' must be a non-empty list of integration ids.", param="order")
        unknown = [i for i in order if registry.get(i) is None]
        if unknown:
            raise InvalidRequest(f"Unknown integration id(s): {', '.join(unknown)}.", param="order")
        if len(set(order)) != len(order):
            raise InvalidRequest("'order' names an integration twice.", param="order")
        async with self._lock:
            previous = [b.id for b in registry.backends]
            registry.reorder(order)
            self._order = [b.id for b in registry.backends]
            try:
                await self._save()
            except BaseException:
                registry.reorder(previous)
                self._order = previous
                raise
        self.on_change()
        return registry.integrations()

    # --- what the hosts serve (for model equivalents) ----------------------------------

    def healthy_models(self) -> list[tuple[str, list[ModelInfo]]]:
        """Each host's id and models while it serves (healthy or degraded), in priority order."""
        registry = self._registry()
        found = [(b.id, registry.result(b.id)) for b in registry.backends]
        return [(host_id, r.models) for host_id, r in found if r is not None and r.status in ("healthy", "degraded")]

    def knows(self, host_id: str) -> bool:
        return self._registry().get(host_id) is not None

    # --- persistence -----------------------------------------------------------------

    def _registry(self) -> Registry:
        if self.registry is None:
            raise RuntimeError("fleet used before the registry was attached")
        return self.registry

    def _load(self) -> tuple[list[HostSpec], list[str]]:
        """The added hosts and the saved order; whatever in the file is malformed is warned about and skipped."""
        document = files.read_document(self._file, jsonfast.loads)
        added = files.list_field(self._file, document, "added")
        saved = ((f"saved host {files.shown(i)}", i) for i in added)
        specs = files.valid_entries(self._file, saved, lambda i: HostSpec.from_saved(i, self.rules.allow))
        order = files.list_field(self._file, document, "order")
        return specs, files.valid_entries(self._file, ((f"order entry {files.shown(i)}", i) for i in order), check_id)

    async def _save(self) -> None:
        doc = {"added": [s.to_saved() for s in self.specs.values() if s.removable], "order": self._order}
        try:
            await files.save(self._file, jsonfast.dumps(doc))
        except OSError as exc:
            reason = exc.strerror or exc
            raise StateNotSaved(f"Could not save the hosts to {self._file}: {reason}. Nothing was changed.") from None
