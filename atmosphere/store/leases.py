"""Requests at once per client key across replicas (PostgreSQL): one lease row per request in flight.

A request of a key with a concurrency limit is admitted in one transaction that first takes the
key's advisory lock (replicas admitting the same key take turns; a key without that limit never
takes it, and pays no extra round trip), then inserts its lease only if fewer than the limit of the
key's leases are live. The lock makes count-then-insert safe at READ COMMITTED: the count runs in a
statement after the lock is held, so it sees every lease committed before.

A lease is live until ``expires_at`` (epoch seconds by the database's clock, so the replicas' clocks
need not agree). Its replica renews the leases it holds every third of the lease time while their
requests run, and deletes one when a request ends: before the answer's last byte goes out, so a
client that sends its next request at once, to any replica, finds its slot free. A replica killed
with ``kill -9`` renews nothing; its leases lapse within the lease time and free their slots. The
cost: a replica whose event loop stalls for longer than that lets its leases lapse meanwhile.

Within one replica the leases of a key are interchangeable, so the request path keeps no lease per
request: a request that ends takes any of its key's leases with it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import zlib

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from atmosphere.store.schema import key_leases
from atmosphere.store.usage import REPLICA

log = logging.getLogger("atmosphere.store")

_LOCK_CLASS = 0x4B455953  # "KEYS": the first half of each key's advisory lock (two-int4 locks are their own space)
_NOW = sa.extract("epoch", sa.func.now())


def _lock_id(key_id: str) -> int:
    """The key's half of its advisory lock: a signed 32-bit hash (a collision only makes two keys take turns)."""
    return zlib.crc32(key_id.encode()) - 2**31


class Leases:
    def __init__(self, engine: AsyncEngine, *, seconds: float):
        self._engine = engine
        self.seconds = seconds
        self._held: dict[str, list[str]] = {}  # key id -> leases of requests in flight here
        self._ended: dict[str, int] = {}  # key id -> leases ended before their request's release
        self._ending: dict[str, str] = {}  # lease -> key id: ended here, not deleted yet
        self._renewed = time.monotonic()
        self._tasks: set[asyncio.Task[None]] = set()

    # --- admission, inside the limiter's transaction --------------------------------------

    async def take(self, connection: AsyncConnection, key_id: str, limit: int) -> str | None:
        """Lock the key, then a new lease if fewer than ``limit`` are live (None: the key is full).
        The caller registers it with ``hold`` once its transaction has committed."""
        await connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_CLASS, _lock_id(key_id))))
        live = (
            sa.select(sa.func.count())
            .select_from(key_leases)
            .where(key_leases.c.key_id == key_id, key_leases.c.expires_at > _NOW)
        )
        ending = [lease for lease, owner in self._ending.items() if owner == key_id]
        if ending:  # ended here already; their deletion is on its way
            live = live.where(key_leases.c.id.not_in(ending))
        lease = "lease_" + secrets.token_hex(8)
        values = sa.select(sa.literal(lease), sa.literal(key_id), sa.literal(REPLICA), _NOW + self.seconds)
        insert = sa.insert(key_leases).from_select(
            ["id", "key_id", "replica", "expires_at"], values.where(live.scalar_subquery() < limit)
        )
        taken = (await connection.execute(insert.returning(key_leases.c.id))).scalar()
        return str(taken) if taken is not None else None

    def hold(self, key_id: str, lease: str) -> None:
        self._held.setdefault(key_id, []).append(lease)

    def holds(self, key_id: str) -> bool:
        return bool(self._held.get(key_id))

    # --- a request's end --------------------------------------------------------------------

    def _pop(self, key_id: str) -> str | None:
        held = self._held.get(key_id)
        if not held:
            return None
        lease = held.pop()
        if not held:
            del self._held[key_id]
        self._ending[lease] = key_id
        return lease

    async def end(self, key_id: str) -> None:
        """A request of this key is about to send its last byte: one of the key's leases goes now."""
        lease = self._pop(key_id)
        if lease is None:
            return
        self._ended[key_id] = self._ended.get(key_id, 0) + 1
        await self._delete([lease])

    def release(self, key_id: str) -> None:
        """A request of this key is over: one lease goes, unless one went at its answer's end."""
        ended = self._ended.get(key_id, 0)
        if ended:
            if ended > 1:
                self._ended[key_id] = ended - 1
            else:
                del self._ended[key_id]
            return
        lease = self._pop(key_id)
        if lease is not None:  # a request that sent no last byte (cancelled, failed): deleted in the background
            task = asyncio.create_task(self._delete([lease]), name="key-lease-release")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _delete(self, leases: list[str]) -> None:
        """Delete ``leases``; on failure they stay in ``_ending`` (uncounted here) for ``maintain`` to retry."""
        try:
            async with self._engine.begin() as connection:
                await connection.execute(sa.delete(key_leases).where(key_leases.c.id.in_(leases)))
        except (SQLAlchemyError, OSError) as exc:
            log.warning("key leases not deleted (retried each second; they lapse anyway): %s", type(exc).__name__)
            return
        for lease in leases:
            self._ending.pop(lease, None)

    # --- the limiter's background task ----------------------------------------------------

    async def maintain(self, *, prune: bool) -> None:
        """Renew the leases held here when a third of their time has passed; retry failed deletions;
        with ``prune``, delete every replica's lapsed leases (a killed replica's)."""
        if self._ending:
            await self._delete(list(self._ending))
        held = [lease for leases in self._held.values() for lease in leases]
        renew = bool(held) and time.monotonic() - self._renewed >= self.seconds / 3
        if not (renew or prune):
            return
        async with self._engine.begin() as connection:
            if renew:
                renewed = sa.update(key_leases).where(key_leases.c.id.in_(held)).values(expires_at=_NOW + self.seconds)
                await connection.execute(renewed)
                self._renewed = time.monotonic()
            if prune:
                await connection.execute(sa.delete(key_leases).where(key_leases.c.expires_at < _NOW))

    async def close(self) -> None:
        """At shutdown (requests drained): every lease still here goes."""
        if self._tasks:
            await asyncio.wait(set(self._tasks))
        for key_id in list(self._held):
            while self._pop(key_id) is not None:
                pass
        self._ended.clear()
        if self._ending:
            await self._delete(list(self._ending))
