"""The integration card: one typed snapshot of a host, built in one place, and who hears of it.

A card joins what its owners know: the registry (probe, enabled, priority), the host list
(removable), the balancer (load, the host's reported limit), the circuit breakers and the
request log (statistics). ``build_integration`` is the only place they meet; ``Integrations``
listens to the registry and tells its own listeners (``/ws``) about a card only when
something other than latency or the probe time changed. ``ui/src/api/types.ts`` is the
contract for the fields.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NotRequired, Protocol, TypedDict, cast

from atmosphere.domain import ModelInfo
from atmosphere.observe.metrics import HostGauge
from atmosphere.observe.requestlog import RequestLog
from atmosphere.router.balancer import Balancer
from atmosphere.router.breaker import Breakers
from atmosphere.router.readiness import ROUTABLE
from atmosphere.state.hosts import Hosts
from atmosphere.state.registry import Registry

log = logging.getLogger("atmosphere.integrations")

# Fields that change on every probe; a change in only these is not news.
_VOLATILE = ("latency_ms", "last_checked")


class Integration(TypedDict):
    id: str
    name: str
    type: str
    url: str
    status: str
    error: str | None
    version: str | None
    models: list[dict[str, Any]]
    model_count: int
    capabilities: list[str]
    default_model: str | None
    latency_ms: float | None
    last_checked: float | None
    enabled: bool
    priority: int
    projects: NotRequired[list[dict[str, Any]]]  # LlamaFarm: its namespaces' projects (the adapter's ``describe``)
    removable: bool
    inflight: int
    queue_depth: int
    max_inflight: int | None
    stats: dict[str, Any]
    warmup_supported: bool
    network: str | None  # loopback, private or public (the host URL policy's word)
    breaker: dict[str, Any]


def build_integration(host_id: str, *, hosts: Hosts, balancer: Balancer, breakers: Breakers, requests: RequestLog) -> Integration:
    """The card of one host, as ``GET /v1/integrations`` and ``/ws`` show it."""
    registry = hosts.registry
    backend = registry.get(host_id)
    if backend is None:
        raise KeyError(host_id)
    result = registry.result(host_id)
    serving = result if result is not None and result.status in ROUTABLE else None
    load = balancer.load(host_id)
    card = {
        "id": backend.id,
        "name": backend.name,
        "type": backend.type,
        "url": backend.url,
        "status": result.status if result else "offline",
        "error": result.error if result else "not probed yet",
        "version": result.version if result else None,
        "models": [m.to_dict() for m in serving.models] if serving else [],
        "model_count": len(serving.models) if serving else 0,
        "capabilities": serving.capabilities if serving else [],
        "default_model": serving.default_model if serving else None,
        "latency_ms": result.latency_ms if result else None,
        "last_checked": registry.last_checked(host_id),
        "enabled": registry.is_enabled(host_id),
        "priority": registry.priority(host_id),
        **backend.describe(serving),
        "removable": hosts.removable(host_id),
        "inflight": load.inflight,
        "queue_depth": load.queued,
        "max_inflight": load.max_inflight,
        "stats": requests.stats(host_id),
        "warmup_supported": bool(backend.warmup_supported),
        "network": hosts.network(host_id),
        "breaker": breakers.state(host_id),
    }
    return cast(Integration, card)


def host_gauges(registry: Registry, balancer: Balancer) -> list[HostGauge]:
    """Per-host gauges for /metrics, read at scrape time."""
    out = []
    for backend in registry.backends:
        load = balancer.load(backend.id)
        result = registry.result(backend.id)
        status = result.status if result else "unknown"
        latency = result.latency_ms if result else None
        out.append(HostGauge(backend.id, load.inflight, load.queued, load.max_inflight, latency, status))
    return out


class IntegrationListener(Protocol):
    def integration_changed(self, integration: Integration) -> None:
        """One card changed in a way worth showing."""
        ...

    def integrations_replaced(self, integrations: list[Integration]) -> None:
        """Hosts were added, removed or reordered: here is every card."""
        ...


class Integrations:
    """Every card, kept current from the registry's news; a registry listener."""

    def __init__(self, hosts: Hosts, *, balancer: Balancer, breakers: Breakers, requests: RequestLog):
        self._hosts = hosts
        self._registry = hosts.registry
        self._balancer = balancer
        self._breakers = breakers
        self._requests = requests
        self._listeners: list[IntegrationListener] = []
        self._shown: dict[str, Integration] = {host_id: self.get(host_id) for host_id in self._ids()}
        self._registry.add_listener(self)

    def get(self, host_id: str) -> Integration:
        """KeyError: no such host."""
        return build_integration(
            host_id, hosts=self._hosts, balancer=self._balancer, breakers=self._breakers, requests=self._requests
        )

    def all(self) -> list[Integration]:
        return [self.get(host_id) for host_id in self._ids()]

    def knows(self, host_id: str) -> bool:
        return self._registry.get(host_id) is not None

    def serving_models(self) -> list[tuple[str, list[ModelInfo]]]:
        """Each host's id and models while it serves (healthy or degraded), in priority order."""
        found = [(b.id, self._registry.result(b.id)) for b in self._registry.backends]
        return [(host_id, r.models) for host_id, r in found if r is not None and r.status in ROUTABLE]

    def add_listener(self, listener: IntegrationListener) -> None:
        self._listeners.append(listener)

    def _ids(self) -> list[str]:
        return [b.id for b in self._registry.backends]

    # --- what the registry tells ---------------------------------------------------------

    def host_changed(self, host_id: str) -> None:
        result = self._registry.result(host_id)
        if result is not None:  # the host's own word on its concurrency is its limit
            self._balancer.set_reported_limit(host_id, result.reported_concurrency)
        card = self.get(host_id)
        before = self._shown.get(host_id)
        self._shown[host_id] = card
        if before is None or _essential(before) != _essential(card):
            self._tell(lambda listener: listener.integration_changed(card))

    def hosts_changed(self) -> None:
        ids = self._ids()
        for gone in set(self._shown) - set(ids):  # removed: nothing of it may linger
            del self._shown[gone]
            self._balancer.forget(gone)
            self._requests.forget(gone)
        cards = [self.get(host_id) for host_id in ids]
        self._shown = {card["id"]: card for card in cards}
        self._tell(lambda listener: listener.integrations_replaced(cards))

    def _tell(self, call: Callable[[IntegrationListener], None]) -> None:
        for listener in list(self._listeners):
            try:
                call(listener)
            except Exception:  # noqa: BLE001 - one bad listener must not stop the others
                log.exception("integration listener failed")


def _essential(card: Integration) -> dict[str, Any]:
    return {k: v for k, v in card.items() if k not in _VOLATILE}
