"""One key's history is read from its own index: ``GET /v1/requests?key=alice`` over a history
that is mostly an indexer's requests walks alice's rows newest first (not the indexer's, no sort),
on SQLite and on a real PostgreSQL server, as each engine's own EXPLAIN says; and a database made
before the index gets it when the service starts."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from atmosphere.store import migrations
from atmosphere.store.engine import make_engine
from atmosphere.store.history import HistoryQuery, _select
from atmosphere.store.schema import ix_usage_key_ts, schema_version
from atmosphere.store.schema import usage as usage_table

ROWS = 20_000
EVERY = 100  # one request in a hundred is alice's; the rest are the indexer's
NOW_MS = int(time.time() * 1000)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Any) -> URL:
    if request.param == "sqlite":
        return URL.create("sqlite+aiosqlite", database=str(tmp_path / "atmosphere.db"))
    return make_url(request.getfixturevalue("postgres_database")).set(drivername="postgresql+asyncpg")


def _rows() -> list[dict[str, Any]]:
    """A request every 10 ms, alice's now and then among the indexer's."""
    return [
        {"ts_ms": NOW_MS - (ROWS - i) * 10, "request_id": f"r{i}", "key": "indexer" if i % EVERY else "alice",
         "surface": "openai.chat", "status": 200}
        for i in range(ROWS)
    ]  # fmt: skip


async def _plan(connection: AsyncConnection, statement: sa.Select[Any]) -> str:
    """The engine's own plan for ``statement``, as one text."""
    compiled = str(statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    if connection.dialect.name == "sqlite":
        rows = (await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")).all()
        return "\n".join(row[-1] for row in rows)
    return "\n".join(row[0] for row in (await connection.exec_driver_sql(f"EXPLAIN {compiled}")).all())


async def _seeded(url: URL) -> AsyncEngine:
    engine = make_engine(url)
    await migrations.migrate(engine)
    async with engine.begin() as connection:
        await connection.execute(sa.insert(usage_table), _rows())
        await connection.exec_driver_sql("ANALYZE")  # the planners choose with the table's statistics
    return engine


async def test_one_keys_history_walks_that_keys_rows_newest_first_from_its_index(url):
    engine = await _seeded(url)
    try:
        async with engine.connect() as connection:
            first = _select(HistoryQuery(key="alice", limit=100))  # walking the time index would read 10,000 rows
            # A later page: below a cursor, as the API's next_cursor asks.
            later = _select(HistoryQuery(key="alice", limit=100, after=(NOW_MS - ROWS * 5, 10**9)))
            plans = [await _plan(connection, statement) for statement in (first, later)]
            rows = (await connection.execute(first)).all()
    finally:
        await engine.dispose()
    for plan in plans:
        assert "ix_usage_key_ts" in plan, plan
        if url.get_backend_name() == "sqlite":
            assert "USE TEMP B-TREE" not in plan, plan  # the index gives the order
        else:
            assert "Index Scan Backward using ix_usage_key_ts" in plan and "Sort" not in plan, plan
    assert len(rows) == 101 and {row.key for row in rows} == {"alice"}
    assert [(row.ts_ms, row.id) for row in rows] == sorted(((row.ts_ms, row.id) for row in rows), reverse=True)


async def test_a_database_from_before_the_key_index_gets_it_and_records_the_newest_version(tmp_path):
    url = URL.create("sqlite+aiosqlite", database=str(tmp_path / "atmosphere.db"))
    engine = make_engine(url)
    step = next(s for s in migrations.STEPS if s.name == "usage by key and time")
    async with engine.begin() as connection:  # the schema as the steps before the index left it
        await connection.run_sync(lambda c: schema_version.create(c))
        for earlier in migrations.STEPS:
            if earlier.version < step.version:
                await connection.run_sync(earlier.apply)
                await connection.execute(
                    sa.insert(schema_version).values(version=earlier.version, name=earlier.name, applied_at=0.0)
                )
        await connection.run_sync(lambda c: ix_usage_key_ts.drop(c))  # step 1 made the table as it is now

    def indexes(connection: Any) -> set[str]:
        return {index["name"] for index in sa.inspect(connection).get_indexes("usage")}

    async with engine.connect() as connection:
        assert "ix_usage_key_ts" not in await connection.run_sync(indexes)
    assert await migrations.migrate(engine) == migrations.STEPS[-1].version
    async with engine.connect() as connection:
        assert "ix_usage_key_ts" in await connection.run_sync(indexes)
        versions = list((await connection.execute(sa.select(schema_version.c.version).order_by("version"))).scalars())
    await engine.dispose()
    assert versions == [s.version for s in migrations.STEPS]
