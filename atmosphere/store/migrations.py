"""Versioned migrations, run by the service at start, the same for SQLite and PostgreSQL.

``schema_version`` holds one row per step applied. A step is Core DDL on a connection, so no
engine gets its own SQL. Replicas starting together on PostgreSQL take an advisory lock for the
duration, so exactly one applies each step; the others find it done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from atmosphere.store import rollup, schema

log = logging.getLogger("atmosphere.store")

_LOCK_ID = 0x41544D53  # "ATMS": the advisory lock migrating replicas share on PostgreSQL


@dataclass(frozen=True)
class Step:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _create(*tables: sa.Table) -> Callable[[Connection], None]:
    def apply(connection: Connection) -> None:
        for table in tables:
            table.create(connection)  # with its indexes

    return apply


def _index(index: sa.Index) -> Callable[[Connection], None]:
    """An index on a table made by an earlier step. Step 1 on a new database creates its table as
    it is now, index included, so the step finds it there; an older database gets it here."""

    def apply(connection: Connection) -> None:
        index.create(connection, checkfirst=True)

    return apply


def _hourly(connection: Connection) -> None:
    """The hourly sums, filled from the rows already written."""
    schema.usage_hourly.create(connection)
    schema.usage_latency.create(connection)
    for statement in rollup.backfill():
        connection.execute(statement)


def _daily(connection: Connection) -> None:
    """The daily sums, filled from the hourly ones."""
    schema.usage_daily.create(connection)
    schema.usage_latency_daily.create(connection)
    for statement in rollup.backfill_daily():
        connection.execute(statement)


STEPS: tuple[Step, ...] = (
    Step(1, "usage history", _create(schema.usage)),
    Step(2, "client keys", _create(schema.client_keys, schema.server_secrets, schema.key_counters)),
    Step(3, "hourly usage sums", _hourly),
    Step(4, "daily usage sums", _daily),
    Step(5, "usage by key and time", _index(schema.ix_usage_key_ts)),
    Step(6, "requests in flight per key", _create(schema.key_leases)),
)


def current_version(connection: Connection) -> int:
    version = connection.execute(sa.select(sa.func.max(schema.schema_version.c.version))).scalar()
    return int(version or 0)


def _migrate(connection: Connection) -> list[Step]:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_ID)))
    schema.schema_version.create(connection, checkfirst=True)
    done = current_version(connection)
    applied = []
    for step in STEPS:
        if step.version <= done:
            continue
        step.apply(connection)
        connection.execute(sa.insert(schema.schema_version).values(version=step.version, name=step.name, applied_at=time.time()))
        applied.append(step)
    return applied


async def migrate(engine: AsyncEngine) -> int:
    """Bring the database to the newest schema, in one transaction; returns its version."""
    async with engine.begin() as connection:
        applied = await connection.run_sync(_migrate)
    for step in applied:
        log.info("database schema: applied step %d (%s)", step.version, step.name)
    return STEPS[-1].version
