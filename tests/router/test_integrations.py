"""The integration cards (router/integrations.py), in process: what the dashboard is told,
and when, from the registry, the host list, the balancer, the breakers and the request log."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from atmosphere.domain import ModelInfo, ProbeResult
from atmosphere.errors import BackendFailure
from atmosphere.observe.requestlog import RequestEntry, RequestLog
from atmosphere.router.balancer import Balancer
from atmosphere.router.breaker import Breakers
from atmosphere.router.integrations import Integration, Integrations
from atmosphere.state.hostlist import HostSpec
from atmosphere.state.hosts import Hosts


class Host:
    """A backend whose probe answers what the test says, a little slower each time."""

    type = "ollama"
    warmup_supported = True

    def __init__(self, spec: HostSpec):
        self.id, self.name, self.url = spec.id, spec.name, spec.url
        self.status = "healthy"
        self.concurrency: int | None = None
        self.latency = 1.0

    async def probe(self) -> ProbeResult:
        self.latency += 1.0
        models = [ModelInfo("qwen3:4b", capabilities=["chat"])]
        return ProbeResult(self.status, models=models, latency_ms=self.latency, reported_concurrency=self.concurrency)

    def describe(self, result: ProbeResult | None) -> dict[str, Any]:
        return {}

    async def aclose(self) -> None:
        pass


class Dashboard:
    def __init__(self) -> None:
        self.changed: list[Integration] = []
        self.replaced: list[list[Integration]] = []

    def integration_changed(self, integration: Integration) -> None:
        self.changed.append(integration)

    def integrations_replaced(self, integrations: list[Integration]) -> None:
        self.replaced.append(integrations)


def fleet(tmp_path: Path) -> tuple[Hosts, Integrations, Balancer, Breakers, RequestLog, Dashboard]:
    configured = [HostSpec("ollama", "ollama", "Ollama", "http://127.0.0.1:9")]
    hosts = Hosts(configured, state_dir=tmp_path, build=Host, probe_timeout=1, health_interval=60)
    balancer, breakers, requests = Balancer(), Breakers(on_change=hosts.registry.refresh), RequestLog()
    cards = Integrations(hosts, balancer=balancer, breakers=breakers, requests=requests)
    dashboard = Dashboard()
    cards.add_listener(dashboard)
    return hosts, cards, balancer, breakers, requests, dashboard


async def test_the_dashboard_hears_of_a_card_only_when_more_than_latency_changed(tmp_path) -> None:
    hosts, cards, _balancer, _breakers, _requests, dashboard = fleet(tmp_path)
    await hosts.registry.scan()
    assert [c["status"] for c in dashboard.changed] == ["healthy"]
    await hosts.registry.scan()  # only latency_ms and last_checked moved
    assert len(dashboard.changed) == 1 and cards.get("ollama")["latency_ms"] == 3.0
    backend: Any = hosts.registry.get("ollama")
    backend.status = "degraded"
    await hosts.registry.scan()
    assert [c["status"] for c in dashboard.changed] == ["healthy", "degraded"]


async def test_a_tripped_breaker_and_a_reported_limit_reach_the_card(tmp_path) -> None:
    hosts, cards, balancer, breakers, _requests, dashboard = fleet(tmp_path)
    backend: Any = hosts.registry.get("ollama")
    backend.concurrency = 3
    await hosts.registry.scan()
    assert cards.get("ollama")["max_inflight"] == 3 and balancer.load("ollama").max_inflight == 3
    for _ in range(breakers.threshold):
        breakers.failed("ollama", "qwen3:4b", BackendFailure("chat: HTTP 500", kind="error"))
    assert dashboard.changed[-1]["breaker"]["state"] == "open"


async def test_a_host_added_then_removed_leaves_nothing_behind_and_resends_every_card(tmp_path) -> None:
    hosts, cards, balancer, _breakers, requests, dashboard = fleet(tmp_path)
    added = await hosts.add("ollama", "desk", "http://127.0.0.1:10", None)
    assert [c["id"] for c in dashboard.replaced[-1]] == ["ollama", "desk"]
    assert cards.get("desk")["removable"] is True and cards.get("ollama")["removable"] is False
    balancer.load(added).inflight = 2
    requests.add(
        RequestEntry(
            "req-1", time.time(), "openai.chat", "m", added, "m", False, [], 200, "ok", 1.0, 2.0, None, 1, 1, False, None
        )
    )
    assert cards.get(added)["stats"]["requests_per_minute"] > 0
    await hosts.remove(added)
    assert [c["id"] for c in dashboard.replaced[-1]] == ["ollama"] and not cards.knows(added)
    assert balancer.load(added).inflight == 0  # a fresh record: the removed host's was dropped
    assert requests.stats(added)["requests_per_minute"] == 0
