"""Every client protocol's added latency, beside OpenAI chat's, in the same run.

One Ollama chat is asked of the stand-in directly (``/api/chat``) and through each
surface of the gateway. All sides run in the same rounds, their order rotated every round,
so drift in the machine's speed falls on each alike; a surface passes when its added p50
stays within ``RATIO`` of ``/v1/chat/completions``'s.

Streams are measured the same way by their time to first chunk (``STREAMS``).
To measure another surface, add its path and request body to ``SURFACES`` and ``STREAMS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.loadgen import LoadResult, Pool, build_request, closed_loop, percentile
from bench.scenarios import PROMPT, Plan

CHAT = "/v1/chat/completions"
RATIO = 1.5  # a surface may add at most this many times what OpenAI chat adds

# path → the request body for ``model`` (non-streaming, same prompt everywhere).
SURFACES: dict[str, Callable[[str], dict[str, Any]]] = {
    CHAT: lambda model: {"model": model, "messages": PROMPT},
    "/v1/messages": lambda model: {"model": model, "max_tokens": 256, "messages": PROMPT},
    "/api/chat": lambda model: {"model": model, "messages": PROMPT, "stream": False},
    "/v1/responses": lambda model: {"model": model, "input": PROMPT, "max_output_tokens": 256},
}


# path → (the streaming request body for ``model``, the delimiter between its events).
STREAMS: dict[str, tuple[Callable[[str], dict[str, Any]], bytes]] = {
    CHAT: (lambda model: {"model": model, "messages": PROMPT, "stream": True}, b"\n\n"),
    "/v1/messages": (lambda model: {"model": model, "max_tokens": 256, "messages": PROMPT, "stream": True}, b"\n\n"),
    "/api/chat": (lambda model: {"model": model, "messages": PROMPT}, b"\n"),
    "/v1/responses": (lambda model: {"model": model, "input": PROMPT, "max_output_tokens": 256, "stream": True}, b"\n\n"),
}


@dataclass
class SurfaceLatency:
    path: str
    p50_ms: float
    added_ms: float
    errors: int


async def added_latency(direct_port: int, gateway_port: int, model: str, plan: Plan) -> tuple[float, list[SurfaceLatency]]:
    """(direct p50, each surface's p50 and added p50), at concurrency 1."""
    sides = {"direct": (direct_port, build_request(direct_port, "/api/chat", SURFACES["/api/chat"](model)))}
    for path, body in SURFACES.items():
        sides[path] = (gateway_port, build_request(gateway_port, path, body(model)))
    pools = {side: await Pool(port).grow(1) for side, (port, _) in sides.items()}
    for side, (_, data) in sides.items():  # warm-up: every path once through its code
        await closed_loop(pools[side], data, 1, count=100)
    results: dict[str, LoadResult] = {}
    order = list(sides)
    for index in range(plan.c1_rounds + 1):
        rotated = order[index % len(order) :] + order[: index % len(order)]
        for side in rotated:
            block = await closed_loop(pools[side], sides[side][1], 1, count=plan.c1_block)
            results[side] = results[side].merge(block) if side in results else block
    for pool in pools.values():
        pool.close()
    direct = percentile(results["direct"].latencies, 50) * 1000
    out = []
    for path in SURFACES:
        p50 = percentile(results[path].latencies, 50) * 1000
        out.append(SurfaceLatency(path, p50, p50 - direct, results[path].errors))
    return direct, out


async def time_to_first_chunk(direct_port: int, gateway_port: int, model: str, plan: Plan) -> tuple[float, list[SurfaceLatency]]:
    """(direct p50, each surface's p50 and added p50) of the time to the first event."""
    sides = {"direct": (direct_port, build_request(direct_port, "/api/chat", STREAMS["/api/chat"][0](model)), b"\n")}
    for path, (body, delimiter) in STREAMS.items():
        sides[path] = (gateway_port, build_request(gateway_port, path, body(model)), delimiter)
    pools = {side: await Pool(port).grow(1) for side, (port, _, _) in sides.items()}
    firsts: dict[str, list[float]] = {side: [] for side in sides}
    errors: dict[str, int] = {side: 0 for side in sides}
    order = list(sides)
    for index in range(plan.ttfc_rounds + 1):  # the first round warms every path up
        rotated = order[index % len(order) :] + order[: index % len(order)]
        for side in rotated:
            _, data, delimiter = sides[side]
            for _ in range(plan.ttfc_block):
                resp = await pools[side].send(0, data, delimiter=delimiter)
                if resp.status != 200 or resp.error is not None or not resp.events:
                    errors[side] += 1
                elif index:
                    firsts[side].append(resp.events[0] - resp.t_sent)
    for pool in pools.values():
        pool.close()
    direct = percentile(firsts["direct"], 50) * 1000
    out = []
    for path in STREAMS:
        p50 = percentile(firsts[path], 50) * 1000
        out.append(SurfaceLatency(path, p50, p50 - direct, errors[path]))
    return direct, out
