"""Operational measures: discovery scans, WebSocket fan-out on a backend's death.

Each runs against its own gateway process, configured for the case, so a slow scan or
hundreds of sockets never disturb the request-path numbers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from bench.loadgen import HOST, Pool, build_request, percentile
from bench.procs import Children, Gateway, StandIn, refused_url
from bench.scenarios import Plan
from bench.wsclient import connect_many

PROBE_TIMEOUT = 1.0
WS_HEALTH_INTERVAL = 0.2


@dataclass
class Scan:
    case: str
    times_ms: list[float]
    statuses: dict[str, str]  # integration id → status seen in the last scan

    @property
    def p50(self) -> float:
        return percentile(self.times_ms, 50)

    @property
    def worst(self) -> float:
        return max(self.times_ms) if self.times_ms else float("nan")


async def _scans(port: int, count: int, case: str) -> Scan:
    pool = await Pool(port).grow(1)
    data = build_request(port, "/v1/integrations?refresh=true")
    times: list[float] = []
    statuses: dict[str, str] = {}
    for _ in range(count):
        resp = await pool.send(0, data, keep_body=True)
        if resp.status != 200:
            raise RuntimeError(f"scan failed: HTTP {resp.status} {resp.error or ''}")
        times.append(resp.latency * 1000)
        statuses = {i["id"]: i["status"] for i in orjson.loads(resp.body)["integrations"]}
    pool.close()
    return Scan(case, times, statuses)


async def discovery(children: Children, live_ollama: StandIn, plan: Plan) -> list[Scan]:
    """A scan with both backends refusing; one with LlamaFarm accepting and never answering."""
    refused = await children.add(Gateway(llamafarm_url=refused_url(), ollama_url=refused_url(), probe_timeout=PROBE_TIMEOUT))
    hang = await children.add(StandIn("hang"))
    hanging = await children.add(Gateway(llamafarm_url=hang.url, ollama_url=live_ollama.url, probe_timeout=PROBE_TIMEOUT))
    results = [
        await _scans(refused.port, plan.refused_scans, "both refusing"),
        await _scans(hanging.port, plan.hang_scans, "LlamaFarm never answers"),
    ]
    for child in (refused, hanging, hang):
        child.stop()
    return results


@dataclass
class FanOut:
    clients: int
    connect_s: float
    kill_to_first_ms: float
    kill_to_last_ms: float
    spread_ms: float
    missed: int


def _is_update(text: bytes) -> bool:
    return b'"type":"snapshot"' in text or b'"type":"integration"' in text


async def ws_fanout(children: Children, plan: Plan, timeout: float = 5.0) -> FanOut:
    """N clients on /ws; SIGKILL Ollama's stand-in; when does each client hear it is gone?"""
    ollama = await children.add(StandIn("ollama"))
    gateway = await children.add(
        Gateway(
            llamafarm_url=refused_url(), ollama_url=ollama.url, probe_timeout=PROBE_TIMEOUT, health_interval=WS_HEALTH_INTERVAL
        )
    )
    started = time.perf_counter()
    clients = await connect_many(HOST, gateway.port, plan.ws_clients, _is_update)
    await _until(lambda: all(c.messages for c in clients), timeout)
    connect_s = time.perf_counter() - started
    await asyncio.sleep(0.5)  # let a few background scans pass with nothing to report
    killed_at = time.perf_counter()
    ollama.kill()
    seen: dict[int, float] = {}

    def check() -> bool:
        for index, client in enumerate(clients):
            if index not in seen:
                for at, message in client.messages:
                    if _ollama_down(message):
                        seen[index] = at
                        break
        return len(seen) == len(clients)

    await _until(check, timeout)
    for client in clients:
        client.close()
    gateway.stop()
    times = sorted(seen.values())
    if not times:
        return FanOut(len(clients), connect_s, float("nan"), float("nan"), float("nan"), len(clients))
    return FanOut(
        len(clients),
        connect_s,
        (times[0] - killed_at) * 1000,
        (times[-1] - killed_at) * 1000,
        (times[-1] - times[0]) * 1000,
        len(clients) - len(times),
    )


def _ollama_down(message: object) -> bool:
    if not isinstance(message, dict) or message.get("type") != "integration":
        return False
    item = message.get("integration") or {}
    return item.get("id") == "ollama" and item.get("status") != "healthy"


async def _until(condition: Callable[[], bool], timeout: float, step: float = 0.005) -> bool:
    """Poll `condition`; arrival times are stamped by the clients, so polling never skews them."""
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(step)
    return True
