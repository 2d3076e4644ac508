"""The daily sums: a day view read from them says what the rows say, on both engines, after the
writer, the migration that fills them and retention."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from test_usage_history import _context, _store

from atmosphere.config import Settings
from atmosphere.store import migrations, rollup
from atmosphere.store.batch import upsert
from atmosphere.store.engine import make_engine
from atmosphere.store.migrations import STEPS
from atmosphere.store.report import UsageQuery, _quantile, iso, usage_report
from atmosphere.store.schema import USAGE_ROW, schema_version, usage_daily, usage_hourly, usage_latency, usage_latency_daily
from atmosphere.store.schema import usage as usage_table
from atmosphere.store.service import Store
from atmosphere.store.usage import _row as usage_row

HOUR = 3_600_000
DAY = 86_400_000


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {"database_url": request.getfixturevalue("postgres_database")} if request.param == "postgres" else {}


def _record_days(record: Callable[..., None], today: int, days: int, n: int) -> None:
    """``n`` requests spread over the last ``days`` days: four keys, three models, two hosts, some errors."""
    rng = random.Random(21)
    for i in range(n):
        wall = (today - days * DAY + rng.randrange(days * DAY + DAY // 2)) / 1000
        model = rng.choice(["llama", "qwen", "phi"])
        context = _context(
            id=f"r{i}",
            wall=wall,
            key=rng.choice("abcd"),
            model=model,
            host=rng.choice(["h1", "h2"]),
            tokens_in=rng.randrange(100),
            tokens_out=rng.randrange(50),
        )
        status = rng.choice([200] * 9 + [500])
        record(context, status, 10, 20, rng.choice([None, 5.0, 50.0, 500.0, 5000.0]) or 0.0)


async def _rows(store: Store) -> list[Any]:
    assert store.engine is not None
    async with store.engine.connect() as connection:
        return list((await connection.execute(sa.select(usage_table))).all())


def _expected(rows: list[Any], query: UsageQuery) -> dict[str, Any]:
    """The day view computed from the rows themselves, in Python."""
    first, last = query.start_ms // HOUR, -(-query.end_ms // HOUR)
    series: dict[tuple[int, str], list[int]] = {}
    bins: dict[int, dict[int, int]] = {}
    totals: dict[int, list[int]] = {}
    top: dict[str, dict[str, list[int]]] = {"keys": {}, "models": {}}
    for row in rows:
        hour = row.ts_ms // HOUR
        if not first <= hour < last:
            continue
        day, model, error = hour // 24, row.model or row.requested_model or "(none)", int(row.status >= 400)
        group = {"key": row.key, "model": model, "host": row.host or "(none)"}[query.group_by]
        point = series.setdefault((day, group), [0, 0, 0, 0])
        for index, value in enumerate((1, row.tokens_in or 0, row.tokens_out or 0, error)):
            point[index] += value
        if row.latency_bin is not None:
            bins.setdefault(day, {}).setdefault(row.latency_bin, 0)
            bins[day][row.latency_bin] += 1
        total = totals.setdefault(day, [0, 0])
        total[0], total[1] = total[0] + 1, total[1] + error
        for kind, name in (("keys", row.key), ("models", model)):
            entry = top[kind].setdefault(name, [0, 0])
            entry[0], entry[1] = entry[0] + 1, entry[1] + (row.tokens_in or 0) + (row.tokens_out or 0)
    latency = []
    for day, (requests, errors) in sorted(totals.items()):
        counted = sorted(bins.get(day, {}).items())
        timed = sum(c for _, c in counted)
        latency.append(
            {
                "t": iso(day * DAY),
                "p50_ms": _quantile(counted, timed, 0.5),
                "p95_ms": _quantile(counted, timed, 0.95),
                "error_rate": round(errors / requests, 4),
                "requests": requests,
            }
        )
    return {
        "series": [
            {"t": iso(day * DAY), "group": group, "requests": p[0], "tokens_in": p[1], "tokens_out": p[2], "errors": p[3]}
            for (day, group), p in sorted(series.items())
        ],
        "latency": latency,
        "top": {kind: {name: (r, t) for name, (r, t) in names.items()} for kind, names in top.items()},
    }


def _top(report: dict[str, Any]) -> dict[str, dict[str, tuple[int, int]]]:
    for entries in report["top"].values():  # ordered by tokens, then requests
        assert [(e["tokens"], e["requests"]) for e in entries] == sorted(
            ((e["tokens"], e["requests"]) for e in entries), reverse=True
        )
    return {kind: {e["name"]: (e["requests"], e["tokens"]) for e in entries} for kind, entries in report["top"].items()}


async def test_a_day_view_from_the_daily_sums_says_what_the_rows_say_for_any_range(tmp_path, engine):
    store = await _store(tmp_path, **engine)
    today = int(time.time() * 1000) // DAY * DAY
    _record_days(store.usage.record, today, days=4, n=600)
    await store.usage.flush()
    rows = await _rows(store)
    assert store.engine is not None
    queries = [
        UsageQuery(today - 5 * DAY, today + DAY, "day", "model"),  # whole days only
        UsageQuery(today - 3 * DAY - 5 * HOUR - 1234, today - 7 * HOUR + 17, "day", "key"),  # partial days at both ends
        UsageQuery(today - 2 * DAY + 3 * HOUR, today - 2 * DAY + 9 * HOUR, "day", "host"),  # inside one day
        UsageQuery(today - 4 * DAY + HOUR, today, "day", "model", key="b"),
    ]
    for query in queries:
        report = await usage_report(store.engine, query)
        wanted = _expected([r for r in rows if query.key is None or r.key == query.key], query)
        assert report["series"] == wanted["series"], query
        assert report["latency"] == wanted["latency"], query
        assert _top(report) == wanted["top"], query
        by_hour = await usage_report(store.engine, UsageQuery(query.start_ms, query.end_ms, "hour", query.group_by, query.key))
        assert _top(by_hour) == wanted["top"], query
    await store.close()


async def _daily_is_hourly_summed(store: Store) -> tuple[dict[Any, tuple[int, ...]], dict[Any, tuple[int, ...]]]:
    """The daily tables as they are, and as the hourly tables sum per day."""
    assert store.engine is not None
    async with store.engine.connect() as connection:
        daily = {tuple(r[:4]): tuple(int(v) for v in r[4:]) for r in (await connection.execute(sa.select(usage_daily))).all()}
        daily.update(
            {tuple(r[:3]): tuple(int(v) for v in r[3:]) for r in (await connection.execute(sa.select(usage_latency_daily))).all()}
        )
        summed: dict[Any, tuple[int, ...]] = {}
        for r in (await connection.execute(sa.select(usage_hourly))).all():
            name = (r.hour // 24, r.key, r.model, r.host)
            summed[name] = tuple(a + int(b) for a, b in zip(summed.get(name, (0, 0, 0, 0)), r[4:], strict=True))
        for r in (await connection.execute(sa.select(usage_latency))).all():
            name = (r.hour // 24, r.key, r.latency_bin)
            summed[name] = tuple(a + int(b) for a, b in zip(summed.get(name, (0, 0)), r[3:], strict=True))
    return daily, summed


async def test_retention_takes_the_hours_it_removes_out_of_their_days_sums(tmp_path, engine):
    store = await _store(tmp_path, usage_retention_days=2, **engine)
    today = int(time.time() * 1000) // DAY * DAY
    _record_days(store.usage.record, today, days=4, n=400)
    await store.usage.flush()
    await store.usage.apply_retention(today + 13 * HOUR)  # the cutoff falls at 13:00 two days ago
    daily, summed = await _daily_is_hourly_summed(store)
    rows = await _rows(store)
    await store.close()
    assert daily == summed and daily
    assert min(day for day, *_ in daily) == (today - 2 * DAY) // DAY
    kept = sum(v[0] for name, v in daily.items() if len(name) == 4)
    assert kept == len(rows) and 0 < kept < 400


async def test_a_database_from_before_the_daily_sums_gets_them_filled_from_its_hourly_sums(tmp_path, caplog):
    daily = next(step for step in STEPS if step.name == "daily usage sums")
    engine = make_engine(Store(Settings(state_dir=tmp_path)).url)
    pending: list[tuple[Any, ...]] = []
    _record_days(lambda *item: pending.append(item), int(time.time() * 1000) // DAY * DAY, days=3, n=300)
    rows = [usage_row(item) for item in pending]
    async with engine.begin() as connection:  # the schema the steps before the daily sums made, and what was written then
        await connection.run_sync(lambda c: schema_version.create(c))
        for step in STEPS:
            if step.version < daily.version:
                await connection.run_sync(step.apply)
                await connection.execute(sa.insert(schema_version).values(version=step.version, name=step.name, applied_at=0.0))
        await connection.execute(sa.insert(usage_table), [dict(zip(USAGE_ROW, row, strict=True)) for row in rows])
        totals, latency = rollup.sums(rows)  # the hourly sums, as the writer kept them
        for table, groups in ((usage_hourly, totals), (usage_latency, latency)):
            statement = upsert(engine.dialect, table)
            await statement.run(connection, statement.tuples(groups))
    with caplog.at_level(logging.INFO, logger="atmosphere.store"):
        assert await migrations.migrate(engine) == STEPS[-1].version
    async with engine.connect() as connection:
        recorded = (await connection.execute(sa.select(schema_version).order_by(schema_version.c.version))).all()
    await engine.dispose()
    applied = [record.args[0] for record in caplog.records if record.msg == "database schema: applied step %d (%s)"]
    # Every step from the daily sums on, in order, and the schema says it is at the newest one.
    assert applied == [step.version for step in STEPS if step.version >= daily.version]
    assert [r.version for r in recorded] == [step.version for step in STEPS] == sorted({step.version for step in STEPS})
    assert [r.applied_at for r in recorded] == sorted(r.applied_at for r in recorded)
    reopened = await _store(tmp_path)
    daily_sums, summed = await _daily_is_hourly_summed(reopened)
    await reopened.close()
    assert daily_sums == summed and sum(v[0] for name, v in daily_sums.items() if len(name) == 4) == 300
