"""Resilience measures: the circuit breaker's target and memory under hostile backends.

Each runs its own gateway in front of a hostile LlamaFarm (``python -m harness hostile``:
green health, poisonous answers) and the Ollama stand-in, so nothing here disturbs the
request-path numbers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from bench.procs import Children, Gateway, StandIn, refused_url, rss_mb
from bench.report import Report, Row, log
from bench.scenarios import Plan

SHARED = "llama3.2:latest"
CHAT = {"model": SHARED, "messages": [{"role": "user", "content": "Say hello."}]}


@dataclass
class BreakerResult:
    sent: int
    clean: int  # served by the healthy backend with no failed attempt in X-Atmosphere-Attempts
    failed_attempts: int
    errors: int


async def _hostile_pair(children: Children, ollama: StandIn, mode: str, **env: str) -> tuple[StandIn, Gateway]:
    hostile = await children.add(StandIn("hostile", "--dialect", "llamafarm", "--mode", mode, "--shared-alias", SHARED))
    gateway = await children.add(Gateway(llamafarm_url=hostile.url, ollama_url=ollama.url, env=env))
    return hostile, gateway


async def breaker(children: Children, ollama: StandIn, requests: int = 100) -> BreakerResult:
    """One backend answers every request with an instant 503 while its health stays green."""
    hostile, gateway = await _hostile_pair(children, ollama, "busy503")
    result = BreakerResult(requests, 0, 0, 0)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}", timeout=30) as client:
        for _ in range(requests):
            resp = await client.post("/v1/chat/completions", json=CHAT)
            attempts = [a for a in resp.headers.get("x-atmosphere-attempts", "").split("; ") if a]
            failed = [a for a in attempts if "circuit" not in a]
            result.failed_attempts += bool(failed)
            if resp.status_code != 200:
                result.errors += 1
            elif resp.headers.get("x-atmosphere-backend") == "ollama" and not failed:
                result.clean += 1
    gateway.stop()
    hostile.stop()
    return result


@dataclass
class MemoryResult:
    idle_mb: float
    peaks: dict[str, float] = field(default_factory=dict)  # case → peak RSS during it
    after_mb: float = 0.0


async def _peak(pid: int, load: Awaitable[object]) -> float:
    """The highest RSS sampled every 20 ms while ``load`` runs."""
    task = asyncio.ensure_future(load)
    peak = rss_mb(pid)
    while not task.done():
        await asyncio.wait({task}, timeout=0.02)
        peak = max(peak, rss_mb(pid))
    task.result()
    return peak


async def memory(children: Children, ollama: StandIn, quick: bool) -> MemoryResult:
    """RSS while hostile answers arrive 16 at a time, then under 64 concurrent chats, then after."""
    hostile, gateway = await _hostile_pair(
        children, ollama, "none", ATMOSPHERE_FIRST_TOKEN_TIMEOUT="3", ATMOSPHERE_REQUEST_TIMEOUT="3"
    )
    base = f"http://127.0.0.1:{gateway.port}"
    control = f"http://127.0.0.1:{hostile.port}/_hostile"
    await asyncio.sleep(1.0)
    result = MemoryResult(rss_mb(gateway.pid))
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def many(count: int, body: dict[str, object]) -> None:
            await asyncio.gather(*(client.post("/v1/chat/completions", json=body) for _ in range(count)))

        cases: list[tuple[str, dict[str, object], Callable[[], Awaitable[None]]]] = [
            ("huge_body", {"mode": "huge_body", "body_mib": 60}, lambda: many(16, CHAT)),
            ("empty_deltas", {"mode": "empty_deltas"}, lambda: many(16, {**CHAT, "stream": True})),
            ("huge_headers", {"mode": "huge_headers"}, lambda: many(16, CHAT)),
            ("trickle", {"mode": "trickle", "interval": 0.05}, lambda: many(16, CHAT)),
        ]
        rounds = 1 if quick else 3
        for name, params, load in cases:
            await client.post(control, json=params)
            peak = 0.0
            for _ in range(rounds):
                peak = max(peak, await _peak(gateway.pid, load()))
            result.peaks[f"hostile {name}, 16 at once"] = peak
        await client.post(control, json={"mode": "none"})
        chats = 5 if quick else 20
        result.peaks["64 concurrent chats"] = await _peak(gateway.pid, _rounds(many, chats))
    await asyncio.sleep(1.5)  # the delayed malloc_trim runs, idle connections settle
    result.after_mb = rss_mb(gateway.pid)
    gateway.stop()
    hostile.stop()
    return result


async def _rounds(many: Callable[[int, dict[str, object]], Awaitable[None]], rounds: int) -> None:
    for _ in range(rounds):
        await many(64, CHAT)


def elapsed(started: float) -> str:
    return f"{time.monotonic() - started:.1f} s"


@dataclass
class SizesResult:
    idle_mb: float
    after_mb: float
    statuses: dict[int, int]  # status → count of the large-name chats
    log_bytes: int  # GET /v1/requests?limit=500
    metrics_bytes: int


async def client_sizes(children: Children, ollama: StandIn, requests: int = 40, name_mib: int = 3) -> SizesResult:
    """Chats naming a ``name_mib`` MiB model (each a 404 the request log and /metrics record):
    what the gateway keeps of what a client chooses must stay bounded (issue 20)."""
    gateway = await children.add(Gateway(llamafarm_url=refused_url(), ollama_url=ollama.url))
    base = f"http://127.0.0.1:{gateway.port}"
    await asyncio.sleep(1.0)
    idle = rss_mb(gateway.pid)
    statuses: dict[int, int] = {}
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for index in range(requests):
            name = f"{index:04d}" + "m" * (name_mib * 1024 * 1024)
            body = {"model": name, "messages": [{"role": "user", "content": "hi"}]}
            resp = await client.post("/v1/chat/completions", json=body)
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
        await asyncio.sleep(1.5)  # the delayed malloc_trim runs, idle connections settle
        after = rss_mb(gateway.pid)
        log = await client.get("/v1/requests", params={"limit": "500"})
        scrape = await client.get("/metrics")
    gateway.stop()
    return SizesResult(idle, after, statuses, len(log.content), len(scrape.content))


# --- the section ---------------------------------------------------------------------------


async def section(children: Children, ollama: StandIn, plan: Plan, report: Report) -> None:
    section = report.section("9. resilience: a hostile LlamaFarm (green health) in front of the Ollama stand-in")
    br = await breaker(children, ollama)
    outcome = f"{br.clean} of {br.sent} clean; {br.failed_attempts} with a failed attempt; {br.errors} errors"
    section.append(
        Row(
            "instant 503 on every request: served by Ollama, no failed attempt",
            result=outcome,
            budget="≥ 95 of 100",
            ok=br.clean >= 95,
        )
    )
    log(f"breaker: {outcome}")
    mem = await memory(children, ollama, plan.quick)
    for case, peak in mem.peaks.items():
        section.append(Row(f"RSS peak: {case}", result=f"{peak:.1f} MB", budget="< 300 MB", ok=peak < 300))
    section.append(_back_to_idle("RSS after the load vs idle", mem.idle_mb, mem.after_mb))
    log(f"memory: peaks {mem.peaks}; after {mem.after_mb:.1f} MB (idle {mem.idle_mb:.1f})")
    await sizes_section(children, ollama, report)


async def sizes_section(children: Children, ollama: StandIn, report: Report) -> None:
    section = report.section("9b. what a client chooses stays bounded: 40 chats naming a 3 MiB model")
    sizes = await client_sizes(children, ollama)
    answered = ", ".join(f"{count} × {status}" for status, count in sorted(sizes.statuses.items()))
    section.append(_back_to_idle("RSS after the 40 chats vs idle", sizes.idle_mb, sizes.after_mb, f"; answered {answered}"))
    log_mib = sizes.log_bytes / 2**20
    section.append(
        Row(
            "GET /v1/requests?limit=500 after them", result=f"{log_mib:.2f} MiB", budget="< 2 MiB", ok=sizes.log_bytes < 2 * 2**20
        )
    )
    section.append(Row("GET /metrics after them", result=f"{sizes.metrics_bytes:,} bytes"))
    log(f"sizes: RSS {sizes.idle_mb:.1f} → {sizes.after_mb:.1f} MB; /v1/requests {sizes.log_bytes:,} bytes")


def _back_to_idle(measure: str, idle_mb: float, after_mb: float, more: str = "") -> Row:
    """The budget on what a load leaves behind: the gateway's RSS after it, within 40 MB of idle."""
    grown = after_mb - idle_mb
    result = f"{after_mb:.1f} MB (idle {idle_mb:.1f}, +{grown:.1f}){more}"
    return Row(measure, result=result, budget="within 40 MB of idle", ok=grown <= 40)
