"""A client key's limits: requests and tokens per minute, requests at once, tokens per month.

Per minute is a fixed window (the clock's minute). With one gateway (SQLite) the counts live in
memory. On PostgreSQL the request count is shared: each admission is one
``INSERT … ON CONFLICT DO UPDATE … RETURNING`` on the key's row for the minute, so two replicas
behind one load balancer hold the key to one limit together. Tokens are known only when an answer
ends: they are added in memory and written every second (to the minute's row on PostgreSQL, and
to the month's row everywhere), so a budget or a token limit may be passed by what is in flight.
Requests at once are counted in memory with one gateway; on PostgreSQL a key with that limit is
also counted and leased in the same transaction (``leases.py``: a lease row per request in flight,
under the key's advisory lock), so the limit holds across replicas; keys without it pay nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from atmosphere.store.engine import upsert_insert
from atmosphere.store.keys import ClientKey
from atmosphere.store.leases import Leases
from atmosphere.store.schema import key_counters
from atmosphere.tasks import cancel_and_wait

log = logging.getLogger("atmosphere.store")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a key may not send this request now, and when to try again (seconds)."""

    message: str
    retry_after: int


def month_window(now: float) -> str:
    return "M:" + datetime.fromtimestamp(now, UTC).strftime("%Y-%m")


def _seconds_to_next_month(now: float) -> int:
    moment = datetime.fromtimestamp(now, UTC)
    following = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
    return max(1, int(following.timestamp() - now))


def _upsert(dialect: str, key_id: str, window: str, requests: int, tokens: int) -> Any:
    """Add to a key's counter row, made when missing; the row's new counts come back."""
    insert = upsert_insert(dialect)
    statement = insert(key_counters).values(key_id=key_id, window=window, requests=requests, tokens=tokens)
    return statement.on_conflict_do_update(
        index_elements=[key_counters.c.key_id, key_counters.c.window],
        set_={
            "requests": key_counters.c.requests + statement.excluded.requests,
            "tokens": key_counters.c.tokens + statement.excluded.tokens,
        },
    ).returning(key_counters.c.requests, key_counters.c.tokens)


def _too_many(key: ClientKey) -> Refusal:
    return Refusal(f"Key '{key.name}' already has {key.concurrent} requests in flight, its limit.", 1)


def _over_minute(key: ClientKey, requests: int, tokens: int, retry: int) -> Refusal | None:
    if key.rpm is not None and requests > key.rpm:
        return Refusal(f"Key '{key.name}' is over its limit of {key.rpm} requests per minute.", retry)
    if key.tpm is not None and tokens >= key.tpm:
        return Refusal(f"Key '{key.name}' is over its limit of {key.tpm} tokens per minute.", retry)
    return None


class Limiter:
    def __init__(self, engine: AsyncEngine, *, shared: bool, flush_every: float = 1.0, lease_seconds: float = 30.0):
        self._engine = engine
        self._dialect = engine.dialect.name
        self.shared = shared
        self.leases = Leases(engine, seconds=lease_seconds)
        self._flush_every = flush_every
        self._inflight: dict[str, int] = {}
        self._minutes: dict[str, list[int]] = {}  # key id -> [minute, requests, tokens], this replica's
        self._month: dict[str, int] = {}  # key id -> tokens this month, as the database last said
        self._pruned = 0  # the minute old per-minute rows were last deleted
        self._failing = False
        self._pending: dict[str, int] = {}  # key id -> tokens not yet written
        self._task: asyncio.Task[None] | None = None

    def tokens_this_month(self, key_id: str) -> int:
        return self._month.get(key_id, 0) + self._pending.get(key_id, 0)

    async def admit(self, key: ClientKey, now: float | None = None) -> Refusal | None:
        """Count one request of ``key``, or say why it may not go now."""
        now = time.time() if now is None else now
        if key.concurrent is not None and self._inflight.get(key.id, 0) >= key.concurrent:
            return _too_many(key)  # this replica alone holds the limit: no need to ask the others
        if key.monthly_token_budget is not None and self.tokens_this_month(key.id) >= key.monthly_token_budget:
            return Refusal(
                f"Key '{key.name}' has used its monthly budget of {key.monthly_token_budget} tokens.",
                _seconds_to_next_month(now),
            )
        minute = int(now // 60)
        retry = max(1, 60 - int(now % 60))
        if self.shared and key.concurrent is not None:
            refused = await self._admit_leased(key, key.concurrent, minute, retry)
        else:
            requests, tokens = await self._count(key.id, minute)
            refused = _over_minute(key, requests, tokens, retry)
        if refused is not None:
            return refused
        self._inflight[key.id] = self._inflight.get(key.id, 0) + 1
        return None

    def _local_minute(self, key_id: str, minute: int) -> list[int]:
        local = self._minutes.get(key_id)
        if local is None or local[0] != minute:
            local = self._minutes[key_id] = [minute, 0, 0]
        local[1] += 1
        return local

    async def _count(self, key_id: str, minute: int) -> tuple[int, int]:
        local = self._local_minute(key_id, minute)
        if not self.shared:
            return local[1], local[2]
        async with self._engine.begin() as connection:
            row = (await connection.execute(_upsert(self._dialect, key_id, f"m:{minute}", 1, 0))).one()
        return int(row.requests), int(row.tokens) + local[2]

    async def _admit_leased(self, key: ClientKey, limit: int, minute: int, retry: int) -> Refusal | None:
        """PostgreSQL, a key with a concurrency limit: its minute's count and a lease, in one transaction."""
        local = self._local_minute(key.id, minute)
        async with self._engine.connect() as connection:
            # The lease's count-then-insert relies on each statement seeing what committed before it.
            connection = await connection.execution_options(isolation_level="READ COMMITTED")
            async with connection.begin() as transaction:
                lease = None
                row = (await connection.execute(_upsert(self._dialect, key.id, f"m:{minute}", 1, 0))).one()
                refused = _over_minute(key, int(row.requests), int(row.tokens) + local[2], retry)
                if refused is not None:
                    return refused  # committed: a refused request counts, as for a key without this limit
                lease = await self.leases.take(connection, key.id, limit)
                if lease is None:
                    await transaction.rollback()  # not counted, as when this replica alone is full
                    return _too_many(key)
        self.leases.hold(key.id, lease)
        return None

    def release(self, key: ClientKey, tokens: int) -> None:
        """The request admitted for ``key`` is over, having used ``tokens``."""
        left = self._inflight.get(key.id, 1) - 1
        if left > 0:
            self._inflight[key.id] = left
        else:
            self._inflight.pop(key.id, None)
        if self.shared:
            self.leases.release(key.id)
        if tokens > 0:
            local = self._minutes.get(key.id)
            if local is not None:
                local[2] += tokens
            self._pending[key.id] = self._pending.get(key.id, 0) + tokens

    # --- the background task ------------------------------------------------------------

    async def flush(self, now: float | None = None) -> None:
        """Write the tokens counted here; read back every key's month so far (a read when idle);
        keep this replica's leases (PostgreSQL)."""
        now = time.time() if now is None else now
        pending, self._pending = self._pending, {}
        month = month_window(now)
        minute = int(now // 60)
        try:
            if pending:
                async with self._engine.begin() as connection:
                    for key_id, tokens in pending.items():
                        await connection.execute(_upsert(self._dialect, key_id, month, 0, tokens))
                        if self.shared:
                            await connection.execute(_upsert(self._dialect, key_id, f"m:{minute}", 0, tokens))
                for key_id, tokens in pending.items():
                    local = self._minutes.get(key_id)
                    if self.shared and local is not None and local[0] == minute:
                        local[2] = max(0, local[2] - tokens)  # now in the shared row
                pending = {}  # written: a failure below must not count them twice
            if self.shared:
                await self.leases.maintain(prune=minute != self._pruned)
            if self.shared and minute != self._pruned:
                async with self._engine.begin() as connection:
                    old = sa.and_(key_counters.c.window.like("m:%"), key_counters.c.window < f"m:{minute - 2}")
                    await connection.execute(sa.delete(key_counters).where(old))
                self._pruned = minute
            async with self._engine.connect() as connection:
                this_month = sa.select(key_counters.c.key_id, key_counters.c.tokens).where(key_counters.c.window == month)
                rows = (await connection.execute(this_month)).all()
        except (SQLAlchemyError, OSError) as exc:
            for key_id, tokens in pending.items():  # kept for the next try
                self._pending[key_id] = self._pending.get(key_id, 0) + tokens
            if not self._failing:
                log.warning("key token counts not written (kept for the next try): %s", type(exc).__name__)
            self._failing = True
            with contextlib.suppress(SQLAlchemyError, OSError):
                await self._engine.dispose()  # fresh connections once the database recovers
            return
        self._failing = False
        self._month = {row.key_id: int(row.tokens) for row in rows}

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="key-counters")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_every)
            await self.flush()

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        await self.flush()
        if self.shared:
            await self.leases.close()
