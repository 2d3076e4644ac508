"""Section 11's day view (bench/usage.py): 1,000,000 rows seeded straight into the store's own
schema (migrations, one ``executemany``, then the store's backfills of its hourly and daily sums), a
gateway started on that state directory, ``GET /v1/usage?bucket=day`` (the last 30 days, every row
in range) asked a few times.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.loadgen import Pool, build_request
from bench.procs import Children, Gateway, StandIn, refused_url

DAY_VIEW_ROWS = 1_000_000
DAY_MS = 86_400_000


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
