"""Section 8 of the bench: a fleet of hosts.

- residency: three emulated Ollama hosts whose answers take 200 ms, the model loaded on one
  only; sequential requests should go there (≥ 95 %);
- limits: ``--max-inflight 2`` and 12 concurrent requests over three such hosts: no host
  ever answers more than 2 at once (each stand-in counts), none is lost;
- the routing decision (plan, pools, rank, slot taken and given back) with 10 hosts,
  in-process, per request (< 50 µs);
- the cost of a ``GET /metrics`` scrape after the load.

The stand-ins run in this process (threads with their own loops) so their counters can be
read directly; the gateway is a child process like in the other sections.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from atmosphere.domain import ModelInfo, ProbeResult
from atmosphere.router.balancer import Balancer
from atmosphere.router.executor import Executor
from atmosphere.router.plan import pools
from atmosphere.standins.ollama import create_ollama_app
from atmosphere.standins.server import EmulatorServer
from atmosphere.standins.state import EmulatorState
from atmosphere.state.registry import Registry
from bench.loadgen import median, percentile
from bench.procs import Children, Gateway
from bench.report import Report, Row, log
from bench.scenarios import Plan

MODEL = "qwen2.5:0.5b"
ANSWER_S = 0.2
_BODY = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}


@dataclass
class FleetResult:
    sequential: int = 0
    to_loaded: int = 0
    served: dict[str, int] = field(default_factory=dict)
    concurrent: int = 0
    concurrent_ok: int = 0
    peaks: list[int] = field(default_factory=list)
    decision_us: float = 0.0
    decision_p99_us: float = 0.0
    scrape_ms: float = 0.0
    scrape_bytes: int = 0


def _hosts(loaded_on: int) -> list[EmulatorServer]:
    servers = []
    for index in range(3):
        loaded = {MODEL: time.time()} if index == loaded_on else {}
        state = EmulatorState(loaded=loaded, answer_delay=ANSWER_S)
        servers.append(EmulatorServer(create_ollama_app(state)).start())
    return servers


async def _gateway(children: Children, servers: list[EmulatorServer], *extra: str) -> Gateway:
    urls = ",".join(f"h{i}={s.url}" for i, s in enumerate(servers))
    gateway = Gateway(llamafarm_url="http://127.0.0.1:9", ollama_url=urls)
    gateway.args += list(extra)
    return await children.add(gateway)


async def measure(children: Children, quick: bool) -> FleetResult:
    result = FleetResult()
    servers = _hosts(loaded_on=1)
    try:
        gateway = await _gateway(children, servers)
        url = f"http://127.0.0.1:{gateway.port}"
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            result.sequential = 20 if quick else 100
            for _ in range(result.sequential):
                answer = await client.post("/v1/chat/completions", json=_BODY)
                host = answer.headers.get("x-atmosphere-backend", f"status {answer.status_code}")
                result.served[host] = result.served.get(host, 0) + 1
            result.to_loaded = result.served.get("h1", 0)
            result.scrape_ms, result.scrape_bytes = await _scrape(client, 20 if quick else 50)
        gateway.stop()

        for server in servers:
            server.state.peak_active = 0
        limited = await _gateway(children, servers, "--max-inflight", "2")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{limited.port}", timeout=30) as client:
            result.concurrent = 12
            answers = await asyncio.gather(
                *(client.post("/v1/chat/completions", json=_BODY) for _ in range(result.concurrent)),
                return_exceptions=True,
            )
        result.concurrent_ok = sum(1 for a in answers if isinstance(a, httpx.Response) and a.status_code == 200)
        result.peaks = [server.state.peak_active for server in servers]
        limited.stop()
    finally:
        for server in servers:
            server.stop()
    result.decision_us, result.decision_p99_us = await routing_decision(10, 2_000 if quick else 20_000)
    return result


async def _scrape(client: httpx.AsyncClient, count: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(count):
        started = time.perf_counter()
        answer = await client.get("/metrics")
        times.append((time.perf_counter() - started) * 1000)
        size = len(answer.content)
    return median(times), size


# --- the routing decision, in-process -----------------------------------------------------


class _Host:
    """A backend that only answers probes: enough for the registry and the planner."""

    type = "ollama"

    def __init__(self, index: int, models: list[str], loaded: str | None):
        self.id = f"ollama-{index}"
        self.name = self.id
        self.url = f"http://10.0.0.{index}:11434"
        self._models = set(models)
        self._result = ProbeResult(
            status="healthy",
            models=[ModelInfo(m, capabilities=["chat"], loaded=m == loaded) for m in models],
            capabilities=["chat"],
            default_model=models[0],
        )

    async def probe(self) -> ProbeResult:
        return self._result

    def resolve_model(self, model: str) -> str | None:
        return model if model in self._models else None

    def describe(self, result: ProbeResult | None) -> dict[str, Any]:
        return {}

    async def aclose(self) -> None:
        return None


async def routing_decision(hosts: int, rounds: int) -> tuple[float, float]:
    """Median and p99 µs for plan → pools → rank → slot taken and given back, with ``hosts`` hosts
    of one priority, each listing 20 models, the requested one loaded on one host."""
    models = [f"model-{i}:latest" for i in range(20)]
    backends: list[Any] = [_Host(i, models, models[3] if i == 7 else None) for i in range(hosts)]
    with tempfile.TemporaryDirectory() as state:
        registry = Registry(backends, state_dir=Path(state), probe_timeout=1, health_interval=60)
        await registry.scan()
        balancer = Balancer()
        executor = Executor(registry, balancer=balancer)
        samples = []
        for index in range(rounds):
            started = time.perf_counter()
            candidates, _ = executor.plan(models[3], "chat")
            ranked = balancer.rank(pools(candidates)[0], f"user-{index % 50}")
            lease = await balancer.acquire([c.host_id for c in ranked])
            balancer.remember(f"user-{index % 50}", lease.host)
            lease.release()
            samples.append((time.perf_counter() - started) * 1e6)
        await registry.aclose()
    return median(samples), percentile(samples, 99)


# --- the section ---------------------------------------------------------------------------


async def section(children: Children, plan: Plan, report: Report) -> None:
    section = report.section("8. a fleet: three Ollama hosts answering in 200 ms, the model loaded on one")
    result = await measure(children, plan.quick)
    share = result.to_loaded / result.sequential
    served = ", ".join(f"{k} {v}" for k, v in sorted(result.served.items()))
    outcome = f"{share:.0%} to the loaded host ({served})"
    section.append(Row(f"{result.sequential} sequential requests", result=outcome, budget="≥ 95 %", ok=share >= 0.95))
    lost = result.concurrent - result.concurrent_ok
    peaks = " / ".join(str(p) for p in result.peaks)
    section.append(
        Row(
            f"--max-inflight 2, {result.concurrent} concurrent",
            result=f"most at once per host {peaks}; lost {lost}",
            budget="≤ 2 each, lost = 0",
            ok=max(result.peaks) <= 2 and lost == 0,
        )
    )
    decision = f"{result.decision_us:.1f} µs median, {result.decision_p99_us:.1f} µs p99"
    section.append(Row("routing decision, 10 hosts (in-process)", result=decision, budget="< 50 µs", ok=result.decision_us < 50))
    scrape = f"{result.scrape_ms:.2f} ms median ({result.scrape_bytes:,} bytes)"
    section.append(Row("GET /metrics after the load", result=scrape))
    log(f"fleet: {share:.0%} to loaded; peaks {peaks}, lost {lost}; decision {decision}; scrape {scrape}")
