"""Section 9c: what the usage history costs a request (`python -m bench --only recording`).

Two gateways in front of one Ollama stand-in, the same in all but ``ATMOSPHERE_RECORD_USAGE``:
one records every request (SQLite in its state directory, the default), the other records
nothing. Their blocks rotate with the direct ones (the bench's ``baseline`` side is the gateway
with recording off), so drift falls on both alike. The cost is through(on) − through(off):
p50 at concurrency 1, requests/s at concurrency 32. The rows the recording gateway wrote (and
any it dropped) are read back from its own ``/v1/usage``, so the measure is of real writes.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import httpx

from bench import scenarios
from bench.procs import Children, Gateway, StandIn
from bench.report import Report, Row, ms
from bench.scenarios import Plan

COST_BUDGET_MS = 0.020  # the 20 µs per request at c=1
THROUGHPUT_SHARE = 0.95  # c=32 requests/s within 5 % of recording off


@dataclass(frozen=True)
class Recording:
    c1_on_ms: float
    c1_off_ms: float
    c32_on_rps: float
    c32_off_rps: float
    rows: int
    dropped: int
    errors: int


async def measure(children: Children, plan: Plan) -> Recording:
    ollama = await children.add(StandIn("ollama"))
    refused = "http://127.0.0.1:9"
    on = await children.add(Gateway(llamafarm_url=refused, ollama_url=ollama.url, env={"ATMOSPHERE_RECORD_USAGE": "true"}))
    off = await children.add(Gateway(llamafarm_url=refused, ollama_url=ollama.url, env={"ATMOSPHERE_RECORD_USAGE": "false"}))
    target = scenarios.ollama_target(ollama.port, on.port, baseline_port=off.port)
    await scenarios.warm_up(target)
    c1 = await scenarios.non_streaming(target, 1, plan)
    c32 = await scenarios.non_streaming(target, 32, plan)
    assert c1.baseline is not None and c32.baseline is not None
    on1, off1 = scenarios.summary(c1.through), scenarios.summary(c1.baseline)
    on32, off32 = scenarios.summary(c32.through), scenarios.summary(c32.baseline)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{on.port}", timeout=10.0) as client:
        report = (await client.get("/v1/usage")).json()  # after a clean stop too, but the writer keeps up
    rows = sum(point["requests"] for point in report.get("series", []))
    return Recording(
        c1_on_ms=on1["p50"],
        c1_off_ms=off1["p50"],
        c32_on_rps=on32["rps"],
        c32_off_rps=off32["rps"],
        rows=rows,
        dropped=int(report.get("recording", {}).get("dropped", 0)),
        errors=int(on1["errors"] + off1["errors"] + on32["errors"] + off32["errors"]),
    )


async def section(children: Children, plan: Plan, report: Report) -> Recording:
    measured = await measure(children, plan)
    rows = report.section("9c. the usage history: recording on vs off (one Ollama stand-in, SQLite)")
    cost = measured.c1_on_ms - measured.c1_off_ms
    rows.append(
        Row(
            "c=1 p50 (direct column: recording off; through: on)",
            ms(measured.c1_off_ms),
            ms(measured.c1_on_ms),
            f"{cost * 1000:+.1f} µs per request",
            "≤ +20 µs",
            cost <= COST_BUDGET_MS,
        )
    )
    share = measured.c32_on_rps / measured.c32_off_rps if measured.c32_off_rps else 0.0
    rows.append(
        Row(
            "c=32 requests/s (direct column: off; through: on)",
            f"{measured.c32_off_rps:,.0f}",
            f"{measured.c32_on_rps:,.0f}",
            f"{share:.1%} of off",
            "≥ 95 %",
            share >= THROUGHPUT_SHARE,
        )
    )
    rows.append(
        Row(
            "rows the recording gateway wrote",
            result=f"{measured.rows:,} in /v1/usage, {measured.dropped:,} dropped, {measured.errors} request errors",
            budget="0 dropped",
            ok=measured.dropped == 0,
        )
    )
    print(f"[bench] recording: {json.dumps(measured.__dict__)}", file=sys.stderr, flush=True)
    return measured
