"""Request-path measures: direct to a stand-in versus through the gateway, alternating.

Every measure runs its direct and through blocks in turns (direct, through, through,
direct, ...) after a warm-up, from the one load generator, so drift in the machine's
speed falls on both sides alike. With a baseline gateway (``--baseline COMMIT``) it joins
the same rounds as a third side, the order rotated every round.
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass

import orjson

from bench.loadgen import LoadResult, Pool, Response, build_request, closed_loop, median, percentile
from bench.procs import StandIn

PROMPT = [{"role": "user", "content": "Say hello in a few words."}]
GAP_S = 0.050  # the stand-in's gap between chunks for the no-buffering check
_PACED = 0.025  # a gap at least this long is one the stand-in made (not two events in one read)


@dataclass(frozen=True)
class Plan:
    """How much of each measure to run; `quick` is the under-a-minute smoke run."""

    quick: bool
    c1_block: int  # requests per block at concurrency 1
    c1_rounds: int
    c32_block_s: float  # seconds per block at concurrency 32
    c32_rounds: int
    ttfc_block: int  # streams per block for time to first chunk
    ttfc_rounds: int
    gap_streams: int  # 50 ms-paced streams per side
    failover_requests: int
    ws_clients: int
    refused_scans: int
    hang_scans: int
    ceiling_s: float

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if quick:
            return cls(True, 300, 2, 2.0, 2, 100, 2, 3, 300, 100, 5, 2, 1.5)
        return cls(False, 1000, 3, 4.0, 3, 300, 3, 8, 1500, 300, 20, 3, 3.0)


@dataclass(frozen=True)
class Target:
    """The same chat asked of one stand-in directly and through the gateway."""

    name: str  # e.g. "LlamaFarm project chat (fast)"
    direct_port: int
    gateway_port: int
    direct: bytes
    through: bytes
    direct_stream: bytes
    through_stream: bytes
    direct_delim: bytes  # b"\n" for NDJSON, b"\n\n" for SSE
    baseline_port: int = 0  # 0: no baseline gateway in this run
    baseline: bytes = b""
    baseline_stream: bytes = b""

    def sides(self, stream: bool) -> dict[str, tuple[int, bytes]]:
        """Each side's port and request bytes: direct, through and (if any) baseline."""
        out = {
            "direct": (self.direct_port, self.direct_stream if stream else self.direct),
            "through": (self.gateway_port, self.through_stream if stream else self.through),
        }
        if self.baseline_port:
            out["baseline"] = (self.baseline_port, self.baseline_stream if stream else self.baseline)
        return out


def llamafarm_target(
    direct_port: int, gateway_port: int, alias: str = "fast", project: str = "chatbot", baseline_port: int = 0
) -> Target:
    path = f"/v1/projects/default/{project}/chat/completions"
    headers = {"X-No-Session": "true"}  # what the gateway sends, so both sides ask the same

    def direct(stream: bool) -> bytes:
        body = {"messages": PROMPT, "model": alias, "stream": stream, "rag_enabled": False}
        return build_request(direct_port, path, body, headers)

    return Target(
        f"LlamaFarm project chat ({alias})",
        direct_port,
        gateway_port,
        direct(False),
        _through(gateway_port, alias, False),
        direct(True),
        _through(gateway_port, alias, True),
        b"\n\n",
        baseline_port,
        _through(baseline_port, alias, False),
        _through(baseline_port, alias, True),
    )


def ollama_target(
    direct_port: int,
    gateway_port: int,
    model: str = "qwen2.5:0.5b",
    through_headers: dict[str, str] | None = None,
    baseline_port: int = 0,
) -> Target:
    def direct(stream: bool) -> bytes:
        return build_request(direct_port, "/api/chat", {"model": model, "messages": PROMPT, "stream": stream})

    return Target(
        f"Ollama chat ({model})",
        direct_port,
        gateway_port,
        direct(False),
        _through(gateway_port, model, False, through_headers),
        direct(True),
        _through(gateway_port, model, True, through_headers),
        b"\n",
        baseline_port,
        _through(baseline_port, model, False, through_headers),
        _through(baseline_port, model, True, through_headers),
    )


def _through(gateway_port: int, model: str, stream: bool, headers: dict[str, str] | None = None) -> bytes:
    body = {"model": model, "messages": PROMPT, "stream": stream}
    return build_request(gateway_port, "/v1/chat/completions", body, headers)


@dataclass
class Pair:
    """What one measure collected on each side."""

    direct: LoadResult
    through: LoadResult
    baseline: LoadResult | None = None


def _sides(round_index: int, names: list[str] | None = None) -> list[str]:
    """The order of the sides in one round: two alternate, three rotate."""
    names = names or ["direct", "through"]
    if len(names) == 2:
        return names if round_index % 2 == 0 else names[::-1]
    shift = round_index % len(names)
    return names[shift:] + names[:shift]


async def ceiling(port: int, plan: Plan) -> dict[str, float]:
    """The load generator against the trivial server: what it can do at all."""
    pool = await Pool(port).grow(32)
    data = build_request(port, "/", {"x": 1})
    await closed_loop(pool, data, 32, duration=0.3)
    c32 = await closed_loop(pool, data, 32, duration=plan.ceiling_s)
    c1 = await closed_loop(pool, data, 1, count=2000)
    pool.close()
    return {"rps_c32": c32.rps, "p50_c1_ms": percentile(c1.latencies, 50) * 1000}


async def warm_up(target: Target) -> None:
    """Fill every side's connection pools (ours and the gateways') and let every path run once."""
    for port, data in target.sides(stream=False).values():
        pool = await Pool(port).grow(32)
        await closed_loop(pool, data, 32, duration=0.4)
        await closed_loop(pool, data, 1, count=100)
        pool.close()
    for side, (port, data) in target.sides(stream=True).items():
        pool = await Pool(port).grow(1)
        for _ in range(20):
            await pool.send(0, data, delimiter=target.direct_delim if side == "direct" else b"\n\n")
        pool.close()


async def non_streaming(target: Target, concurrency: int, plan: Plan, block_s: float | None = None) -> Pair:
    """Alternating blocks at one concurrency: by count at c=1, by time above (``block_s``, else the plan's)."""
    sides = target.sides(stream=False)
    pools = {side: await Pool(port).grow(concurrency) for side, (port, _) in sides.items()}
    requests = {side: data for side, (_, data) in sides.items()}
    results: dict[str, LoadResult] = {}
    rounds = plan.c1_rounds if concurrency == 1 else plan.c32_rounds
    rounds += len(sides) - 2  # three sides: every order of the rotation once at least
    for index in range(rounds):
        for side in _sides(index, list(sides)):
            if concurrency == 1:
                block = await closed_loop(pools[side], requests[side], 1, count=plan.c1_block)
            else:
                block = await closed_loop(pools[side], requests[side], concurrency, duration=block_s or plan.c32_block_s)
            results[side] = results[side].merge(block) if side in results else block
    for pool in pools.values():
        pool.close()
    return Pair(results["direct"], results["through"], results.get("baseline"))


@dataclass
class StreamStats:
    ttfc_ms: list[float]
    gaps_ms: list[float]  # paced gaps only (see _PACED)
    paced_per_stream: float
    errors: int


async def streaming(target: Target, standin: StandIn, plan: Plan) -> dict[str, StreamStats]:
    """Time to first chunk with a zero-delay stand-in (every side), then gaps with a 50 ms-paced
    one (direct and through)."""
    sides = {
        side: (port, data, target.direct_delim if side == "direct" else b"\n\n")
        for side, (port, data) in target.sides(stream=True).items()
    }
    stats = {side: StreamStats([], [], 0.0, 0) for side in sides}
    pools = {side: await Pool(port).grow(max(1, plan.gap_streams)) for side, (port, _, _) in sides.items()}
    for index in range(plan.ttfc_rounds + len(sides) - 2):
        for side in _sides(index, list(sides)):
            _, data, delim = sides[side]
            for _ in range(plan.ttfc_block):
                resp = await pools[side].send(0, data, delimiter=delim)
                if _stream_ok(resp):
                    stats[side].ttfc_ms.append((resp.events[0] - resp.t_sent) * 1000)
                else:
                    stats[side].errors += 1
    await set_chunk_delay(standin, GAP_S)
    try:
        for index in range(2):
            for side in _sides(index):
                _, data, delim = sides[side]
                count = (plan.gap_streams + 1 - index) // 2 or 1
                answers = await asyncio.gather(*(pools[side].send(i, data, delimiter=delim) for i in range(count)))
                for resp in answers:
                    if not _stream_ok(resp):
                        stats[side].errors += 1
                        continue
                    gaps = [(b - a) * 1000 for a, b in zip(resp.events, resp.events[1:], strict=False)]
                    paced = [g for g in gaps if g >= _PACED * 1000]
                    stats[side].gaps_ms.extend(paced)
                    stats[side].paced_per_stream += len(paced) / plan.gap_streams
    finally:
        await set_chunk_delay(standin, 0.0)
        for pool in pools.values():
            pool.close()
    return stats


def _stream_ok(resp: Response) -> bool:
    return resp.status == 200 and resp.error is None and len(resp.events) >= 2


def gaps_kept(stats: dict[str, StreamStats]) -> tuple[bool, str]:
    """Kept: none of the stand-in's paced gaps is merged away (buffering would merge them),
    and the gaps that arrive are about 50 ms (median within ±10%)."""
    direct, through = stats["direct"], stats["through"]
    if not through.gaps_ms or not direct.gaps_ms:
        return False, "no paced gaps seen"
    med = statistics.median(through.gaps_ms)
    none_merged = through.paced_per_stream > direct.paced_per_stream - 0.5
    ok = none_merged and abs(med - GAP_S * 1000) <= GAP_S * 1000 * 0.1
    detail = (
        f"gaps {statistics.median(direct.gaps_ms):.1f} → {med:.1f} ms (max {max(through.gaps_ms):.1f}); "
        f"{direct.paced_per_stream:.1f} → {through.paced_per_stream:.1f} per stream"
    )
    return ok, detail


async def set_chunk_delay(standin: StandIn, seconds: float) -> None:
    pool = await Pool(standin.port).grow(1)
    body = {"fault": "none", "chunk_delay": seconds}
    resp = await pool.send(0, build_request(standin.port, "/_emulator/fault", body))
    pool.close()
    if resp.status != 200:
        raise RuntimeError(f"could not set the chunk delay of {standin.kind}: HTTP {resp.status}")


@dataclass
class Failover:
    sent: int
    lost: int
    by_backend: dict[str, int]
    kill_at: int
    elapsed_s: float
    lost_examples: list[str]


async def failover(gateway_port: int, model: str, victim: StandIn, plan: Plan, concurrency: int = 16) -> Failover:
    """Chat for a model both backends have; SIGKILL the preferred one half way."""
    data = _through(gateway_port, model, False)
    pool = await Pool(gateway_port).grow(concurrency)
    total, kill_at = plan.failover_requests, plan.failover_requests // 2
    sent = lost = 0
    by_backend: dict[str, int] = {}
    examples: list[str] = []
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def worker(index: int) -> None:
        nonlocal sent, lost
        while sent < total:
            sent += 1
            if sent == kill_at:
                victim.kill()  # SIGKILL, synchronous: the next request already meets a dead backend
            resp = await pool.send(index, data, keep_body=True)
            served = _served_by(resp)
            if served is None:
                lost += 1
                if len(examples) < 3:
                    examples.append(resp.error or f"HTTP {resp.status}: {resp.body[:160]!r}")
            else:
                by_backend[served] = by_backend.get(served, 0) + 1

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    pool.close()
    return Failover(sent, lost, by_backend, kill_at, loop.time() - started, examples)


def _served_by(resp: Response) -> str | None:
    """Which stand-in wrote the answer, or None when the answer is lost (not 200 / no content)."""
    if resp.status != 200 or resp.error is not None:
        return None
    try:
        content = orjson.loads(resp.body)["choices"][0]["message"]["content"]
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        return None
    if not content:
        return None
    return "llamafarm" if "LlamaFarm emulator" in content else "ollama" if "Ollama emulator" in content else "other"


def summary(result: LoadResult) -> dict[str, float]:
    lat = result.latencies
    return {
        "p50": percentile(lat, 50) * 1000,
        "p99": percentile(lat, 99) * 1000,
        "rps": result.rps,
        "n": float(len(lat)),
        "errors": float(result.errors),
        "mean": (sum(lat) / len(lat) * 1000) if lat else float("nan"),
        "median": median(lat) * 1000,
    }
