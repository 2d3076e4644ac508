"""The store as the app holds it: the engine, the migrations at start, the usage writer, the
client keys and their counters.

Opening never fails the service. A database that cannot be opened or migrated (a read-only
state directory, a full disk, Postgres down) leaves the store ``available = False`` with a
reason: one warning line in the log, ``/v1/usage`` answers 503, ``/health`` says so, and
requests are served as ever (their records are dropped and counted).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from atmosphere.config import Settings
from atmosphere.store.engine import database_url, describe, is_sqlite, make_engine
from atmosphere.store.keys import KeyStore, file_secret, shared_secret
from atmosphere.store.limits import Limiter
from atmosphere.store.migrations import migrate
from atmosphere.store.usage import UsageWriter, failure_reason

log = logging.getLogger("atmosphere.store")


class Store:
    def __init__(self, settings: Settings):
        self.url = database_url(settings)
        self.usage = UsageWriter(
            capacity=settings.usage_queue, retention_days=settings.usage_retention_days, max_rows=settings.usage_max_rows
        )
        self.engine: AsyncEngine | None = None
        self._write_engine: AsyncEngine | None = None
        self.keys: KeyStore | None = None
        self.limiter: Limiter | None = None
        self._state_dir = settings.state_dir
        self._record = settings.record_usage
        self._lease_seconds = settings.key_lease_seconds
        self.available = False
        self.reason: str | None = "the database is not open yet"

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    async def open(self) -> None:
        try:
            engine = make_engine(self.url)
        except (OSError, SQLAlchemyError, ValueError) as exc:
            self._unavailable(exc)
            return
        try:
            version = await migrate(engine)
            # One gateway keeps the hashing secret beside its database; replicas share it in theirs.
            secret = file_secret(self._state_dir) if self.is_sqlite else await shared_secret(engine)
            keys = KeyStore(engine, secret)
            await keys.reload()
            limiter = Limiter(engine, shared=not self.is_sqlite, lease_seconds=self._lease_seconds)
            await limiter.flush()
        except (OSError, SQLAlchemyError, ValueError) as exc:
            await engine.dispose()
            self._unavailable(exc)
            return
        self.engine, self.available, self.reason = engine, True, None
        self.keys, self.limiter = keys, limiter
        if not self._record:
            self.usage.refuse("recording is off (ATMOSPHERE_RECORD_USAGE=false)")
        # The writer's own pool: a read connection opened while the disk refused writes (SQLite
        # then opens read-only) is never the one a batch is written on.
        self._write_engine = make_engine(self.url, pool_size=1)
        self.usage.start(self._write_engine)
        keys.start()
        limiter.start()
        log.info("usage history and keys in %s (schema version %d)", describe(self.url), version)

    def _unavailable(self, exc: BaseException) -> None:
        self.reason = failure_reason(exc)
        self.usage.refuse(self.reason)
        log.warning("usage not recorded: %s (%s); requests are still served", self.reason, describe(self.url))

    async def close(self) -> None:
        if self.engine is not None:
            if self.keys is not None and self.limiter is not None:
                await self.keys.close()
                await self.limiter.close()
            await self.usage.close()
            if self._write_engine is not None:
                await self._write_engine.dispose()
            await self.engine.dispose()
            self.engine = None

    def recording(self) -> dict[str, Any]:
        """What ``/v1/usage`` and ``/health`` say about the history."""
        if not self.available:
            return {"ok": False, "dropped": self.usage.dropped, "reason": self.reason}
        return self.usage.status()
