"""How one batch of usage rows and its sums is written: statements compiled once per engine by
SQLAlchemy, run as plain driver calls with tuples.

Per batch, the event loop builds no statement and compiles none (SQLAlchemy compiled the four
upserts of the sums afresh for every batch: their ``ON CONFLICT`` clause is not in its statement
cache), and every value goes in a tuple in the compiled statement's own parameter order.

On SQLite a batch's rows go in one multi-row ``INSERT … VALUES (…), (…), …`` (and each sum table's
groups in one multi-row upsert) instead of an ``executemany``. aiosqlite runs statements on its own
thread, and ``executemany`` binds each row holding the GIL, then steps it releasing the GIL:
two GIL handoffs per row, and each one that finds the event loop's thread busy waits for it to be
forced off (the interpreter's 5 ms switch interval). That convoy, hundreds of handoffs per
batch, is what made requests slower while a batch was written (bench/NOTES.md, issue 21). One
statement binds all its parameters at once and steps once. PostgreSQL's driver (asyncpg) runs on
the event loop itself, with no thread and no GIL to hand over, and pipelines an ``executemany``.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from atmosphere.store.engine import upsert_insert

# Bound parameters per SQLite statement at most (SQLITE_MAX_VARIABLE_NUMBER: 32766 since 3.32, 999 before).
_SQLITE_PARAMETERS = 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999


@dataclass(frozen=True)
class Statement:
    """One compiled statement: its SQL for one row, and the names of its parameters in order."""

    sql: str
    names: tuple[str, ...]
    multirow: tuple[str, str, str] | None  # SQLite: (head, one row's "(?, …)", tail), repeated for n rows

    def tuples(self, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [tuple(row[name] for name in self.names) for row in rows]

    async def run(self, connection: AsyncConnection, values: Sequence[tuple[Any, ...]]) -> None:
        """Run for ``values`` (one tuple per row, in ``names`` order)."""
        if not values:
            return
        if self.multirow is None:
            await connection.exec_driver_sql(self.sql, list(values))
            return
        head, group, tail = self.multirow
        per_statement = max(1, _SQLITE_PARAMETERS // len(self.names))
        for start in range(0, len(values), per_statement):
            chunk = values[start : start + per_statement]
            sql = f"{head}{', '.join(itertools.repeat(group, len(chunk)))}{tail}"
            await connection.exec_driver_sql(sql, tuple(itertools.chain.from_iterable(chunk)))


def compile_insert(statement: sa.Insert, dialect: Dialect, columns: Sequence[str]) -> Statement:
    """``statement`` (an INSERT of ``columns``, perhaps an upsert) compiled for ``dialect``."""
    compiled = statement.compile(dialect=dialect, column_keys=list(columns))
    sql = str(compiled)
    names = tuple(compiled.positiontup or ())
    if len(names) != len(columns):
        raise ValueError(f"expected {len(columns)} positional parameters, got {names!r}")
    return Statement(sql, names, _split(sql, len(names)) if dialect.name == "sqlite" else None)


def _split(sql: str, count: int) -> tuple[str, str, str] | None:
    """SQLite's one-row ``INSERT … VALUES (?, …) …`` as the parts around its row of placeholders."""
    group = "(" + ", ".join(["?"] * count) + ")"
    head, found, tail = sql.partition(" VALUES " + group)
    if not found or group in tail:
        return None  # not the shape expected: one row at a time, by executemany
    return head + " VALUES ", group, tail


def upsert(dialect: Dialect, table: sa.Table) -> Statement:
    """The statement adding one group's sums to ``table``: every column not in the key is added to."""
    insert = upsert_insert(dialect.name)(table)
    keys = list(table.primary_key.columns)
    statement = insert.on_conflict_do_update(
        index_elements=keys,
        set_={c.name: c + insert.excluded[c.name] for c in table.columns if c not in keys},
    )
    return compile_insert(statement, dialect, [c.name for c in table.columns])
