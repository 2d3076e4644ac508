"""The PostgreSQL the tests start is a real server reached the way the gateway's store reaches it:
SQLAlchemy Core's async engine over asyncpg. Two engines on one database stand for two gateway
replicas sharing one usage history: each sees what the other committed, nothing it has not."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import sqlalchemy as sa
from postgres_support import PostgresServer
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

pytestmark = pytest.mark.postgres

metadata = sa.MetaData()
requests = sa.Table(
    "requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("model", sa.String(100), nullable=False),
    sa.Column("tokens", sa.Integer, nullable=False),
)


def asyncpg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture
async def engines(postgres_database: str) -> AsyncIterator[Callable[[], AsyncEngine]]:
    """Make engines on this test's own database, the `requests` table created; disposed after."""
    made: list[AsyncEngine] = []

    def make() -> AsyncEngine:
        made.append(create_async_engine(asyncpg_url(postgres_database)))
        return made[-1]

    async with make().begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield make
    for engine in made:
        await engine.dispose()


async def test_a_row_written_through_sqlalchemy_reads_back(engines: Callable[[], AsyncEngine]) -> None:
    engine = engines()
    async with engine.begin() as connection:
        await connection.execute(sa.insert(requests), [{"model": "llama3.2", "tokens": 42}, {"model": "qwen3", "tokens": 7}])
    async with engine.connect() as connection:
        rows = (await connection.execute(sa.select(requests.c.model, requests.c.tokens).order_by(requests.c.id))).all()
        version = (await connection.execute(sa.text("SHOW server_version"))).scalar_one()
    assert [tuple(row) for row in rows] == [("llama3.2", 42), ("qwen3", 7)]
    assert int(version.split(".")[0]) >= 13  # a real server, new enough for DROP DATABASE ... WITH (FORCE)


async def test_two_replicas_see_each_others_committed_rows_and_never_uncommitted_ones(
    engines: Callable[[], AsyncEngine],
) -> None:
    first, second = engines(), engines()
    count = sa.select(sa.func.count()).select_from(requests)

    async with first.connect() as writer:
        await writer.execute(sa.insert(requests).values(model="llama3.2", tokens=1))
        async with second.connect() as reader:
            assert (await reader.execute(count)).scalar_one() == 0, "an uncommitted row leaked to the other replica"
        await writer.commit()

    async with second.begin() as connection:
        assert (await connection.execute(count)).scalar_one() == 1
        await connection.execute(sa.insert(requests).values(model="qwen3", tokens=2))
    async with first.connect() as connection:
        models = (await connection.execute(sa.select(requests.c.model).order_by(requests.c.id))).scalars().all()
    assert models == ["llama3.2", "qwen3"]


async def test_each_test_gets_an_empty_database_of_its_own(postgres_server: PostgresServer) -> None:
    with postgres_server.fresh_database() as first_url, postgres_server.fresh_database() as second_url:
        first, second = create_async_engine(asyncpg_url(first_url)), create_async_engine(asyncpg_url(second_url))
        try:
            async with first.begin() as connection:
                await connection.run_sync(metadata.create_all)
            async with second.connect() as connection:
                tables = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
        finally:
            await first.dispose()
            await second.dispose()
    assert first_url != second_url
    assert tables == [], "a fresh database saw another test's table"


async def test_a_test_database_is_dropped_after_it_even_with_a_session_left_open(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    with postgres_server.fresh_database() as url:
        forgotten = create_async_engine(asyncpg_url(url))
        left_open = await forgotten.connect()  # a test that never closed its connection
    shared = create_async_engine(asyncpg_url(postgres_url))
    try:
        async with shared.connect() as connection:
            databases = (await connection.execute(sa.text("SELECT datname FROM pg_database"))).scalars().all()
    finally:
        await shared.dispose()
        await left_open.invalidate()
        await forgotten.dispose()
    assert url.rsplit("/", 1)[1] not in databases, "a test database outlived its test"
