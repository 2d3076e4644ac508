"""Section 11, the usage history (issue 21): what recording costs a request, and how fast a day
view reads a million rows (`python -m bench --only usage`; `--only recording` is the same: the
former section 9c, two gateways on and off without a control, is folded in here).

Recording on against recording off: two gateways in front of the same Ollama stand-in, one with
the defaults and one with ``ATMOSPHERE_RECORD_USAGE=false``, in alternating blocks like the
other sections (c=1 latency, gateway CPU per request, c=32 throughput). Two in-process figures
say where the cost lies: the request middleware with and without its ``record`` call (what the
request path pays), and the writer's flush per row (paid off the path, on the same event loop).

The day view: 1,000,000 rows seeded straight into the store's own schema (migrations, one
``executemany``, then the store's backfills of its hourly and daily sums), a gateway started on that state
directory, ``GET /v1/usage?bucket=day`` (the last 30 days, every row in range) asked a few times.
"""

from __future__ import annotations

import asyncio
import math
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import cpu
from bench.loadgen import Pool, build_request, closed_loop, percentile
from bench.procs import Children, Gateway, StandIn, refused_url
from bench.report import Report, Row, log, ms
from bench.scenarios import PROMPT, Plan, _sides

MODEL = "qwen2.5:0.5b"
DAY_VIEW_ROWS = 1_000_000
DAY_MS = 86_400_000


@dataclass
class RecordingCost:
    c1_p50_ms: dict[str, float]
    c1_block_deltas_us: list[float]  # p50 on − p50 off, per pair of neighbouring blocks
    c1_control_deltas_us: list[float]  # p50 on − p50 control (both recording): what noise alone gives
    c1_mean_ms: dict[str, float]
    cpu_us: dict[str, float]
    c32_rps: dict[str, float]
    c32_block_ratios: list[float]  # on ÷ off, per pair of neighbouring blocks
    c32_control_ratios: list[float]  # on ÷ control
    errors: dict[str, int]
    middleware_us: dict[str, float]  # in-process: the request middleware per call, with and without record
    flush_us_per_row: float  # in-process: the writer's event-loop time per row written
    written: int  # rows the "on" gateway wrote during the run
    dropped: int  # records the "on" gateway dropped (its /v1/usage says), which should be none


# Many short blocks rather than a few long ones: on this shared machine one block's p50 moves by
# ±200 µs, so a 20 µs difference is read off the median of many neighbouring on/off pairs.
C1_ROUNDS, C1_BLOCK = 40, 100
C32_ROUNDS, C32_BLOCK_S = 12, 1.0


def _rounds(plan: Plan) -> int:
    return C1_ROUNDS if plan.quick else 2 * C1_ROUNDS


async def recording_cost(children: Children, ollama: StandIn, plan: Plan) -> RecordingCost:
    on = Gateway(llamafarm_url=refused_url(), ollama_url=ollama.url)
    off = Gateway(llamafarm_url=refused_url(), ollama_url=ollama.url, env={"ATMOSPHERE_RECORD_USAGE": "false"})
    control = Gateway(llamafarm_url=refused_url(), ollama_url=ollama.url)  # a second recording one: on vs on is the noise
    await asyncio.gather(children.add(on), children.add(off), children.add(control))
    gateways = {"on": on, "off": off, "control": control}
    body = {"model": MODEL, "messages": PROMPT, "stream": False}
    data = {name: build_request(g.port, "/v1/chat/completions", body) for name, g in gateways.items()}
    pools = {name: await Pool(g.port).grow(32) for name, g in gateways.items()}
    for name in gateways:  # warm-up: connections, pools, the writer's first batches
        await closed_loop(pools[name], data[name], 32, duration=0.4)
        await closed_loop(pools[name], data[name], 1, count=100)
    errors = dict.fromkeys(gateways, 0)

    c1: dict[str, list[float]] = {name: [] for name in gateways}
    deltas: list[float] = []
    control_deltas: list[float] = []
    for index in range(_rounds(plan)):
        block_p50: dict[str, float] = {}
        for name in _sides(index, list(gateways)):
            block = await closed_loop(pools[name], data[name], 1, count=C1_BLOCK)
            c1[name] += block.latencies
            errors[name] += block.errors
            block_p50[name] = percentile(block.latencies, 50)
        deltas.append((block_p50["on"] - block_p50["off"]) * 1e6)
        control_deltas.append((block_p50["on"] - block_p50["control"]) * 1e6)

    sides = {name: cpu.Side(g.pid, g.port, data[name]) for name, g in gateways.items()}
    cpu_us = await cpu.per_request_us(sides, 4000 if plan.quick else 8000, rounds=20)  # 10 ms ticks: many requests

    served = dict.fromkeys(gateways, 0)
    elapsed = dict.fromkeys(gateways, 0.0)
    ratios: list[float] = []
    control_ratios: list[float] = []
    for index in range(C32_ROUNDS):
        block_rps: dict[str, float] = {}
        for name in _sides(index, list(gateways)):
            block = await closed_loop(pools[name], data[name], 32, duration=C32_BLOCK_S if plan.quick else 2 * C32_BLOCK_S)
            served[name] += len(block.latencies)
            elapsed[name] += block.elapsed
            errors[name] += block.errors
            block_rps[name] = block.rps
        ratios.append(block_rps["on"] / block_rps["off"] if block_rps["off"] else math.nan)
        control_ratios.append(block_rps["on"] / block_rps["control"] if block_rps["control"] else math.nan)
    for pool in pools.values():
        pool.close()
    await asyncio.sleep(0.8)  # the writer's last batch
    written = _rows(on.workdir / "state")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{on.port}", timeout=10.0) as client:
        dropped = int((await client.get("/v1/usage")).json()["recording"]["dropped"])
    if _rows(off.workdir / "state"):
        raise RuntimeError("the gateway with ATMOSPHERE_RECORD_USAGE=false wrote usage rows: the off side is not off")
    for gateway in gateways.values():
        gateway.stop()
    return RecordingCost(
        {name: percentile(c1[name], 50) * 1000 for name in gateways},
        deltas,
        control_deltas,
        {name: statistics.fmean(c1[name]) * 1000 for name in gateways},
        cpu_us,
        {name: served[name] / elapsed[name] for name in gateways},
        ratios,
        control_ratios,
        errors,
        await middleware_cost(),
        await flush_cost(),
        written,
        dropped,
    )


def _rows(state_dir: Path) -> int:
    connection = sqlite3.connect(state_dir / "atmosphere.db")
    try:
        return int(connection.execute("SELECT count(*) FROM usage").fetchone()[0])
    finally:
        connection.close()


# --- in-process: where the cost lies ------------------------------------------------------


async def middleware_cost(calls: int = 20_000, rounds: int = 6) -> dict[str, float]:
    """µs per request through ``RequestContextMiddleware`` around a bare ASGI answer, with the
    usage ``record`` call and without (alternating blocks, a fresh writer each block)."""
    from atmosphere.api.middleware.context import RequestContextMiddleware
    from atmosphere.store.usage import UsageWriter

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"ok":true}'})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    headers = [(b"host", b"127.0.0.1:4000"), (b"content-type", b"application/json"), (b"content-length", b"96")]
    scope = {"type": "http", "path": "/v1/chat/completions", "headers": headers, "client": ("127.0.0.1", 50000)}
    surfaces = {"/v1/chat/completions": "openai.chat"}
    spent = {"on": 0.0, "off": 0.0}
    for index in range(rounds):
        for name in _sides(index, ["on", "off"]):
            writer = UsageWriter(capacity=calls + 1, retention_days=30, max_rows=10**7)
            middleware = RequestContextMiddleware(app, surfaces=surfaces, record=writer.record if name == "on" else None)
            started = time.perf_counter()
            for _ in range(calls):
                await middleware(scope, receive, send)
            spent[name] += time.perf_counter() - started
    return {name: seconds / (calls * rounds) * 1e6 for name, seconds in spent.items()}


async def flush_cost(rows: int = 20_000) -> float:
    """The writer's event-loop time per row (building rows, compiling the INSERT; the SQLite work
    itself runs on aiosqlite's thread), over ``rows`` rows into a temporary database."""
    from atmosphere.config import Settings
    from atmosphere.observe.context import RequestContext
    from atmosphere.store.service import Store

    with tempfile.TemporaryDirectory(prefix="atmosphere-bench-usage-") as directory:
        store = Store(Settings(state_dir=Path(directory)))
        await store.open()
        if not store.available:
            return math.nan
        for n in range(rows):
            store.usage.record(RequestContext(f"req_{n}", "openai.chat", "127.0.0.1", None), 200, 96, 300, 1.5)
        started = time.thread_time()  # this thread only: the event loop's share
        await store.usage.flush()
        spent = time.thread_time() - started
        await store.close()
    return spent / rows * 1e6


# --- the day view over a million rows -----------------------------------------------------


@dataclass
class DayView:
    rows: int
    seed_s: float
    times_ms: list[float]  # GET /v1/usage?bucket=day, first (cold) included
    statuses: list[int]
    counted: int  # requests the report summed: every row, or the view is wrong

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.times_ms[1:] or self.times_ms)


def _seed_rows(count: int, now_ms: int) -> Iterator[tuple[Any, ...]]:
    """``count`` plausible rows spread evenly over the last 30 days: 8 models, 13 keys, 3 hosts,
    latencies 50 ms to 3 s, 2 % errors."""
    from atmosphere.store.usage import latency_bin

    rng = random.Random(21)
    models = [f"model-{i}" for i in range(8)]
    keys = [f"key-{i}" for i in range(12)] + ["local"]
    hosts = ["ollama", "llamafarm", "gpu-box"]
    span = 30 * DAY_MS - 60_000
    for i in range(count):
        duration = rng.uniform(50.0, 3000.0)
        failed = i % 50 == 0
        model = models[i % len(models)]
        yield (
            now_ms - span + i * span // count, f"req_{i:016x}", keys[i % len(keys)], "openai.chat", model, model,
            hosts[i % len(hosts)], False, 100 + i % 50, 200 + i % 70, False, None, duration, latency_bin(duration),
            500 if failed else 200, "upstream_error" if failed else None, False, 300, 800, "bench:1",
        )  # fmt: skip


_COLUMNS = (
    "ts_ms, request_id, key, surface, requested_model, model, host, substituted, tokens_in, tokens_out, estimated, "
    "ttft_ms, duration_ms, latency_bin, status, error, stream, bytes_in, bytes_out, replica"
)


async def seed(state_dir: Path, count: int) -> float:
    """The store's schema by its own migrations, ``count`` rows in one transaction, then their hourly
    sums; seconds taken."""
    from atmosphere.config import Settings
    from atmosphere.store.service import Store

    store = Store(Settings(state_dir=state_dir))
    await store.open()
    if not store.available:
        raise RuntimeError(f"could not create the usage history: {store.reason}")
    await store.close()
    started = time.perf_counter()
    connection = sqlite3.connect(state_dir / "atmosphere.db")
    try:
        marks = ", ".join("?" * len(_COLUMNS.split(", ")))
        with connection:
            connection.executemany(f"INSERT INTO usage ({_COLUMNS}) VALUES ({marks})", _seed_rows(count, int(time.time() * 1000)))
    finally:
        connection.close()
    await _backfill_sums(store)
    return time.perf_counter() - started


async def _backfill_sums(store: Any) -> None:
    """The hourly and daily sums of the seeded rows, by the store's own backfills (what migration
    steps 3 and 4 run over rows written before them), so the sums agree with the rows as the
    writer keeps them."""
    from atmosphere.store import rollup
    from atmosphere.store.engine import make_engine

    engine = make_engine(store.url)
    try:
        async with engine.begin() as connection:
            for statement in rollup.backfill():
                await connection.execute(statement)
            for statement in rollup.backfill_daily():  # from the hourly sums just filled
                await connection.execute(statement)
    finally:
        await engine.dispose()


async def day_view(children: Children, ollama: StandIn, repeats: int = 5, rows: int = DAY_VIEW_ROWS) -> DayView:
    gateway = Gateway(llamafarm_url=refused_url(), ollama_url=ollama.url)
    state = gateway.workdir / "state"
    state.mkdir(parents=True, exist_ok=True)
    seed_s = await seed(state, rows)
    await children.add(gateway)
    pool = await Pool(gateway.port).grow(1)
    request = build_request(gateway.port, "/v1/usage?bucket=day")
    times: list[float] = []
    statuses: list[int] = []
    counted = 0
    for _ in range(repeats + 1):
        answer = await pool.send(0, request, keep_body=True)
        times.append((answer.t_done - answer.t_sent) * 1000)
        statuses.append(answer.status)
        if answer.status == 200:
            import orjson

            counted = sum(point["requests"] for point in orjson.loads(answer.body)["series"])
    pool.close()
    gateway.stop()
    return DayView(rows, seed_s, times, statuses, counted)


# --- the section ---------------------------------------------------------------------------


async def section(children: Children, ollama: StandIn, plan: Plan, report: Report) -> None:
    """Issue 21: recording the usage history on against off (same stand-in, alternating blocks),
    and the day view over 1,000,000 rows."""
    section = report.section("11. usage recording: a gateway recording the usage history beside one with it off, and a control")
    cost = await recording_cost(children, ollama, plan)
    p50 = cost.c1_p50_ms
    added_us = statistics.median(cost.c1_block_deltas_us)  # the pairs' median: the machine's drift cancels
    quartiles = statistics.quantiles(cost.c1_block_deltas_us, n=4)
    spread = (
        f"{len(cost.c1_block_deltas_us)} block pairs, quartiles {quartiles[0]:+.0f} / {quartiles[2]:+.0f} µs; all samples: "
        f"p50 {(p50['on'] - p50['off']) * 1000:+.0f} µs, mean {(cost.c1_mean_ms['on'] - cost.c1_mean_ms['off']) * 1000:+.0f} µs"
    )
    errors = f"; errors on {cost.errors['on']}, off {cost.errors['off']}" if any(cost.errors.values()) else ""
    section.append(
        Row(
            "c=1 chat p50: off → on (median of block-pair differences)",
            ms(p50["off"]),
            ms(p50["on"]),
            f"{added_us:+.0f} µs ({spread}){errors}",
            "added ≤ 20 µs",
            added_us <= 20 and not any(cost.errors.values()),
        )
    )
    noise = statistics.median(cost.c1_control_deltas_us)
    section.append(Row("c=1 control: on vs a second recording gateway (the noise)", result=f"{noise:+.0f} µs median pair"))
    request_path = cost.middleware_us["on"] - cost.middleware_us["off"]
    section.append(
        Row(
            "request path in-process: the middleware's record call",
            f"{cost.middleware_us['off']:.2f} µs",
            f"{cost.middleware_us['on']:.2f} µs",
            f"{request_path:+.2f} µs per request",
            "≤ 20 µs",
            request_path <= 20,
        )
    )
    section.append(
        Row("writer, off the path: event-loop time per row written (in-process)", result=f"{cost.flush_us_per_row:.1f} µs")
    )
    cpu_added = cost.cpu_us["on"] - cost.cpu_us["off"]
    section.append(
        Row(
            "gateway CPU per request (writer included)",
            f"{cost.cpu_us['off']:.0f} µs",
            f"{cost.cpu_us['on']:.0f} µs",
            f"{cpu_added:+.0f} µs",
        )
    )
    ratio = statistics.median(cost.c32_block_ratios)  # the pairs' median, like c=1: one stalled block is not the gateway
    blocks = (
        f"{len(cost.c32_block_ratios)} block pairs, {min(cost.c32_block_ratios):.2f} … {max(cost.c32_block_ratios):.2f}; "
        + (f"all blocks: {cost.c32_rps['on'] / cost.c32_rps['off']:.1%}")
    )
    section.append(
        Row(
            "c=32 chat requests/s: off → on (median of block-pair ratios)",
            f"{cost.c32_rps['off']:,.0f}",
            f"{cost.c32_rps['on']:,.0f}",
            f"{ratio:.1%} of off ({blocks})",
            "≥ 95 % of off",
            ratio >= 0.95,
        )
    )
    control = statistics.median(cost.c32_control_ratios)
    section.append(Row("c=32 control: on vs a second recording gateway (the noise)", result=f"{control:.1%} median pair"))
    section.append(
        Row(
            "rows the recording gateway wrote",
            result=f"{cost.written:,} written, {cost.dropped:,} dropped",
            budget="0 dropped",
            ok=cost.dropped == 0,
        )
    )
    log(
        f"usage: c=1 {p50['off']:.3f} → {p50['on']:.3f} ms; middleware {cost.middleware_us}; "
        f"c=32 {cost.c32_rps}; cpu {cost.cpu_us}"
    )

    view = await day_view(children, ollama)
    statuses = "" if set(view.statuses) == {200} else f"; statuses {view.statuses}"
    times = ", ".join(f"{t:.0f}" for t in view.times_ms)
    section.append(
        Row(
            f"GET /v1/usage?bucket=day over {view.rows:,} rows (30 days, SQLite)",
            result=f"p50 {view.p50_ms:,.0f} ms (all, first cold: {times} ms); {view.counted:,} counted{statuses}",
            budget="≤ 200 ms",
            ok=view.p50_ms <= 200 and view.counted == view.rows,
        )
    )
    report.notes.append(
        f"section 11: the day view's {view.rows:,} rows were seeded through the store's migrations, one executemany "
        f"and the store's backfills of its hourly and daily sums "
        f"({view.seed_s:.1f} s); on/off blocks alternate: c=1 {_rounds(plan)} rounds of {C1_BLOCK} requests, "
        f"c=32 {C32_ROUNDS} rounds."
    )
    log(f"usage: day view over {view.rows:,} rows p50 {view.p50_ms:.0f} ms ({times})")
