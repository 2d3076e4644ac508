"""The usage history row by row: ``GET /v1/requests`` with filters, read from ``usage``.

Newest first, paged by keyset on ``(ts_ms, id)``: a cursor names the last row a page showed,
and the next page starts strictly below it, so rows written meanwhile never shift a page (no
row shown twice, none skipped). The time index (``ix_usage_ts``) serves the order and the
range; the other filters are checked along it. One SQLAlchemy Core query for SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from atmosphere.store.schema import usage

# The columns of a row as the API shows them, in CSV order. Never the prompt or the answer:
# the table does not hold them.
COLUMNS: tuple[str, ...] = (
    "time",
    "request_id",
    "key",
    "surface",
    "requested_model",
    "model",
    "host",
    "substituted",
    "status",
    "error",
    "tokens_in",
    "tokens_out",
    "estimated",
    "ttft_ms",
    "duration_ms",
    "stream",
    "bytes_in",
    "bytes_out",
    "replica",
)
_STORED = [usage.c[name] for name in COLUMNS if name != "time"]

Position = tuple[int, int]  # (ts_ms, id) of the last row shown


@dataclass(frozen=True)
class HistoryQuery:
    key: str | None = None
    model: str | None = None  # asked for or served: a user filters by the name they know
    host: str | None = None
    surface: str | None = None
    status: tuple[int, int] | None = None  # inclusive range: (404, 404) or (400, 499)
    since_ms: int | None = None  # inclusive
    until_ms: int | None = None  # exclusive
    limit: int = 100
    after: Position | None = None  # start strictly below this row


class BadCursor(ValueError):
    pass


def encode_cursor(position: Position) -> str:
    return base64.urlsafe_b64encode(f"{position[0]}:{position[1]}".encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Position:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
        ts, _, row = raw.partition(":")
        return int(ts), int(row)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor(text) from None


def _select(query: HistoryQuery) -> sa.Select[Any]:
    statement = sa.select(usage.c.id, usage.c.ts_ms, *_STORED)
    conditions: list[sa.ColumnElement[bool]] = []
    for column, value in ((usage.c.key, query.key), (usage.c.host, query.host), (usage.c.surface, query.surface)):
        if value is not None:
            conditions.append(column == value)
    if query.model is not None:
        conditions.append(sa.or_(usage.c.requested_model == query.model, usage.c.model == query.model))
    if query.status is not None:
        low, high = query.status
        conditions.append(usage.c.status == low if low == high else usage.c.status.between(low, high))
    if query.since_ms is not None:
        conditions.append(usage.c.ts_ms >= query.since_ms)
    if query.until_ms is not None:
        conditions.append(usage.c.ts_ms < query.until_ms)
    if query.after is not None:
        ts, row = query.after
        # The plain bound lets both engines walk the time index down from the cursor; the
        # disjunction then settles the rows sharing its millisecond.
        conditions.append(usage.c.ts_ms <= ts)
        conditions.append(sa.or_(usage.c.ts_ms < ts, usage.c.id < row))
    return statement.where(*conditions).order_by(usage.c.ts_ms.desc(), usage.c.id.desc()).limit(query.limit + 1)


def rfc3339(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _shown(row: sa.Row[Any]) -> dict[str, Any]:
    values = row._mapping
    shown: dict[str, Any] = {"time": rfc3339(values["ts_ms"])}
    for name in COLUMNS[1:]:
        shown[name] = values[name]
    return shown


async def history_page(engine: AsyncEngine, query: HistoryQuery) -> tuple[list[dict[str, Any]], str | None]:
    """One page of rows, newest first, and the cursor of the next page (None after the last)."""
    async with engine.connect() as connection:
        rows = list((await connection.execute(_select(query))).all())
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    cursor = encode_cursor((rows[-1].ts_ms, rows[-1].id)) if more and rows else None
    return [_shown(row) for row in rows], cursor


async def history_pages(engine: AsyncEngine, query: HistoryQuery) -> AsyncIterator[list[dict[str, Any]]]:
    """Every matching row, a page at a time (an export never holds the table in memory)."""
    while True:
        rows, cursor = await history_page(engine, query)
        if rows:
            yield rows
        if cursor is None:
            return
        query = replace(query, after=decode_cursor(cursor))
