"""The usage writer: finished requests in, rows in the database, in batches, off the request path.

The request path calls ``record``: the request's row, a tuple of its values, appended to a bounded
list (constant time, no I/O, never waits). The row is built there rather than at the write so the
request's context and what hangs off it are freed when the request ends: holding half a second of
requests' contexts until the write cost the event loop more than building the rows does
(bench/NOTES.md). A background task takes what has gathered every ``interval`` seconds, or as soon as a
batch is full, and writes it in one ``INSERT`` (aiosqlite runs it on its own thread, asyncpg on
the socket: the event loop never blocks). When the disk stalls and the list is full, further
records are dropped and counted (``dropped``); when a write fails (read-only, full disk) the
batch is dropped and counted too, and ``ok``/``reason`` say so until a write succeeds again.
A ``kill -9`` loses at most what was gathered since the last write.

Each batch also adds to the hourly and daily sums (``rollup.py``), in the same transaction. Retention
runs in the same task: rows and sums older than ``retention_days`` go, and past ``max_rows``
the oldest rows go too (their hours keep their sums until they age out).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from atmosphere.observe.context import RequestContext
from atmosphere.store import rollup
from atmosphere.store.batch import Statement, compile_insert, upsert
from atmosphere.store.schema import USAGE_ROW, usage, usage_daily, usage_hourly, usage_latency, usage_latency_daily

log = logging.getLogger("atmosphere.store")

BATCH = 2000  # rows per write at most: a write has a fixed cost on both threads whatever its size (bench/NOTES.md)
INTERVAL = 0.5  # seconds between writes while requests come in
RETENTION_EVERY = 600.0  # seconds between retention passes
_BINS_PER_DOUBLING = 4  # latency_bin: a quarter of a doubling (about 19 %) per bin
MAX_BIN = 127
REPLICA = f"{socket.gethostname()[:40]}:{os.getpid()}"

# What ``record`` is given per request, and turns into a row.
Pending = tuple[RequestContext, int, int | None, int, float]
Row = tuple[Any, ...]  # a usage row's values, in COLUMNS order


def latency_bin(ms: float | None) -> int | None:
    """``ms`` on a log scale: bin b holds durations around 2 ** (b / 4) ms."""
    if ms is None:
        return None
    if ms <= 1.0:
        return 0
    return min(MAX_BIN, round(math.log2(ms) * _BINS_PER_DOUBLING))


def bin_ms(value: int) -> float:
    """The duration a latency bin stands for."""
    return 2 ** (value / _BINS_PER_DOUBLING)


def failure_reason(exc: BaseException) -> str:
    """A short, secret-free reason for the card and the log."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    if "readonly" in text or "read-only" in text or "read only" in text:
        return "the database is read-only"
    if "full" in text or "no space" in text:
        return "the disk is full"
    if "unable to open" in text or "permission" in text or "not permitted" in text:
        return "the database file cannot be opened"
    if "disk i/o error" in text:
        return "the database cannot be written (disk I/O error)"
    return type(getattr(exc, "orig", None) or exc).__name__


# The values of a row, in USAGE_ROW's order; _row builds them in that order, and this says so.
COLUMNS = USAGE_ROW
if COLUMNS != (
    "ts_ms", "request_id", "key", "surface", "requested_model", "model", "host", "substituted", "tokens_in",
    "tokens_out", "estimated", "ttft_ms", "duration_ms", "latency_bin", "status", "error", "stream", "bytes_in",
    "bytes_out", "replica",
):  # fmt: skip
    raise RuntimeError(f"usage columns changed: {COLUMNS!r}; update _row to build them in this order")


def _row(item: Pending) -> Row:
    """One request's row: a tuple in COLUMNS order (building 20-key dicts was most of the writer's
    time per request on the event loop)."""
    context, status, bytes_in, bytes_out, duration_ms = item
    error = context.error
    error = error[:64] if error and status >= 400 else None
    wall, entry = int(context.wall * 1000), context.entry
    if entry is None:
        return (
            wall, context.id, context.key, context.surface[:64], None, None, None, False, None, None, False, None,
            round(duration_ms, 3), latency_bin(duration_ms), status, error, False, bytes_in, bytes_out, REPLICA,
        )  # fmt: skip
    if entry.status >= 400:  # a stream that failed after its 200 went out
        status = entry.status
    return (
        wall, context.id, context.key, context.surface[:64], entry.requested_model, entry.model, entry.backend,
        entry.substituted, entry.tokens_in, entry.tokens_out, entry.estimated, entry.ttft_ms, round(duration_ms, 3),
        latency_bin(duration_ms), status, error, entry.stream, bytes_in, bytes_out, REPLICA,
    )  # fmt: skip


_SUMS = (usage_hourly, usage_latency, usage_daily, usage_latency_daily)  # in the order _write adds to them


class UsageWriter:
    """Bounded, batched, counted: see the module's docstring."""

    _compiled: tuple[Statement, ...] | None

    def _statements(self) -> tuple[Statement, ...]:
        """The batch's INSERT and the four upserts of its sums, compiled once for this engine."""
        if self._compiled is None:
            assert self._engine is not None
            dialect = self._engine.dialect
            insert = compile_insert(sa.insert(usage), dialect, COLUMNS)
            if insert.names != COLUMNS:
                raise ValueError(f"the usage INSERT's parameters are not in column order: {insert.names!r}")
            self._compiled = (insert, *(upsert(dialect, table) for table in _SUMS))
        return self._compiled

    def __init__(self, *, capacity: int, retention_days: int, max_rows: int, batch: int = BATCH, interval: float = INTERVAL):
        self._pending: list[Row] = []
        self._capacity = capacity
        self._batch = batch
        self._interval = interval
        self._retention_ms = retention_days * 86_400_000
        self._max_rows = max_rows
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._engine: AsyncEngine | None = None
        self._accepting = True
        self._stopping = False
        self._flushing = asyncio.Lock()
        self._catching_up: asyncio.Task[None] | None = None
        self._compiled: tuple[Statement, ...] | None = None
        self._unmade = False
        self.dropped = 0  # records that never reached the database
        self.written = 0
        self.writes = 0  # transactions committed: rows per write says whether batching works
        self.ok = True
        self.reason: str | None = None

    # --- the request path ---------------------------------------------------------------

    def record(self, context: RequestContext, status: int, bytes_in: int | None, bytes_out: int, duration_ms: float) -> None:
        """Queue one finished request's row; O(1), never blocks, never raises."""
        pending = self._pending
        if not self._accepting or len(pending) >= self._capacity:
            self.dropped += 1
            return
        try:
            row = _row((context, status, bytes_in, bytes_out, duration_ms))
        except Exception:  # a context the row cannot be made of is a dropped record, never a failed request
            if not self._unmade:
                log.exception("a usage row could not be made (dropped and counted; logged once)")
            self._unmade = True
            self.dropped += 1
            return
        pending.append(row)
        if len(pending) == self._batch and self._wake is not None:
            self._wake.set()

    # --- the background task ------------------------------------------------------------

    def start(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="usage-writer")

    def refuse(self, reason: str) -> None:
        """No database: every record from now on is dropped and counted."""
        self._accepting = False
        self.ok = False
        self.reason = reason
        self.dropped += len(self._pending)
        self._pending = []

    async def _run(self) -> None:
        assert self._wake is not None
        next_retention = 0.0
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self.flush()
            if time.monotonic() >= next_retention and not self._stopping:
                next_retention = time.monotonic() + RETENTION_EVERY
                await self.apply_retention()

    async def flush(self) -> None:
        """Write what has gathered until now, in batches; a failure drops it, counted. What arrives
        meanwhile waits for the next flush: one that took that too would, under steady load, never
        end, and write a transaction for every few requests (on SQLite, each a dozen hand-offs to
        aiosqlite's thread: that was most of what recording cost a request, bench/NOTES.md)."""
        async with self._flushing:  # one writer at a time, so rows go in in the order they came
            if self._engine is None:
                return
            taken, self._pending = self._pending, []
            for start in range(0, len(taken), self._batch):
                await self._write(taken[start : start + self._batch])

    async def catch_up(self, timeout: float) -> None:
        """Write what is waiting now, for at most ``timeout`` seconds, so a report read right after
        a request includes it; a stalled disk delays the report by no more than that (the write
        goes on in the background, holding its rows). With nothing waiting it still waits for a
        write in progress: the background task may have taken the rows a moment ago."""
        if self._engine is None:
            return
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = asyncio.ensure_future(self.flush())
        await asyncio.wait({self._catching_up}, timeout=timeout)

    async def _write(self, rows: Sequence[Row]) -> None:
        assert self._engine is not None
        try:
            insert, hourly, latency, daily, latency_daily = self._statements()
            totals, bins = rollup.sums(rows)
            sums = (
                (hourly, totals),
                (latency, bins),
                (daily, rollup.by_day(totals, rollup.DAILY_TOTALS)),
                (latency_daily, rollup.by_day(bins, rollup.DAILY_LATENCY)),
            )
            async with self._engine.begin() as connection:  # the rows and their sums, or neither
                await insert.run(connection, rows)
                for statement, groups in sums:
                    await statement.run(connection, statement.tuples(groups))
        except (SQLAlchemyError, OSError) as exc:
            self.dropped += len(rows)
            reason = failure_reason(exc)
            # A connection that saw an I/O error may keep failing after the disk recovers: the next
            # write opens fresh ones.
            with contextlib.suppress(SQLAlchemyError, OSError):
                await self._engine.dispose()
            if self.ok or reason != self.reason:
                log.warning("usage not recorded: %s (requests are still served; %d dropped so far)", reason, self.dropped)
            self.ok, self.reason = False, reason
            return
        self.written += len(rows)
        self.writes += 1
        if not self.ok:
            log.warning("usage recorded again (%d requests were dropped meanwhile)", self.dropped)
            self.ok, self.reason = True, None

    async def apply_retention(self, now_ms: int | None = None) -> None:
        """Rows past the retention age go; past ``max_rows``, the oldest go too."""
        if self._engine is None:
            return
        cutoff = (now_ms if now_ms is not None else int(time.time() * 1000)) - self._retention_ms
        try:
            async with self._engine.begin() as connection:
                await connection.execute(sa.delete(usage).where(usage.c.ts_ms < cutoff))
                cutoff_hour = cutoff // rollup.HOUR_MS
                for sums in (usage_hourly, usage_latency):
                    await connection.execute(sa.delete(sums).where(sums.c.hour < cutoff_hour))
                cutoff_day = cutoff_hour // rollup.HOURS_PER_DAY
                for sums in (usage_daily, usage_latency_daily):
                    await connection.execute(sa.delete(sums).where(sums.c.day < cutoff_day))
                for statement in rollup.redo_day(cutoff_day):  # the day the cutoff falls in lost some hours
                    await connection.execute(statement)
                newest_gone = sa.select(usage.c.id).order_by(usage.c.id.desc()).offset(self._max_rows).limit(1).scalar_subquery()
                await connection.execute(sa.delete(usage).where(usage.c.id <= newest_gone))
        except (SQLAlchemyError, OSError) as exc:
            log.warning("usage retention did not run: %s", failure_reason(exc))

    async def close(self) -> None:
        """Stop the task once its write in progress is done, then write what is left."""
        self._stopping = True
        if self._task is not None:
            assert self._wake is not None
            self._wake.set()
            await self._task
            self._task = None
        await self.flush()

    @property
    def queued(self) -> int:
        """Finished requests waiting for the next write."""
        return len(self._pending)

    def status(self) -> dict[str, Any]:
        return {"ok": self.ok, "dropped": self.dropped, "reason": self.reason}
