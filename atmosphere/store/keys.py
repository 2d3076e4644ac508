"""Client keys: stored as a keyed hash, checked from memory, shared through the database.

A secret is ``atm_`` and 43 random URL-safe characters, shown once when the key is made. The
database holds only HMAC-SHA256(server secret, key secret): the server secret is a 0600 file in
the state directory (SQLite), or a row of ``server_secrets`` that every replica reads (PostgreSQL),
so the database alone is not enough to test guesses. The secrets are random, so a fast keyed hash
is as strong here as a slow KDF would be, and costs the request path a microsecond.

The request path never reads the database: ``find`` is a dict lookup by hash. The cache is
reloaded every ``refresh`` seconds (a revocation elsewhere lands within that), changed at once by
this replica's own create / update / revoke, and a secret that is not in it is looked up once in
the database (a key just made on another replica works at once), misses remembered briefly.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import hashlib
import hmac
import logging
import os
import secrets
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from atmosphere.store.schema import client_keys, server_secrets
from atmosphere.tasks import cancel_and_wait

log = logging.getLogger("atmosphere.store")

SECRET_PREFIX = "atm_"
SECRET_FILE = "key-secret"
SURFACE_FAMILIES = ("openai", "anthropic", "ollama")
_MISS_TTL = 2.0  # seconds an unknown secret is not looked up again
_MAX_MISSES = 4096


@dataclass(frozen=True, slots=True)
class ClientKey:
    id: str
    name: str
    prefix: str
    secret_hash: str
    created_at: float
    updated_at: float
    last_used_at: float | None = None
    expires_at: float | None = None
    revoked_at: float | None = None
    surfaces: tuple[str, ...] | None = None  # None: every surface
    models: tuple[str, ...] | None = None  # fnmatch patterns; None: every model
    rpm: int | None = None
    tpm: int | None = None
    concurrent: int | None = None
    monthly_token_budget: int | None = None
    log_prompts: bool = False

    def allows_model(self, model: str | None) -> bool:
        if self.models is None:
            return True
        name = model or ""
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.models)

    def allows_surface(self, family: str) -> bool:
        return self.surfaces is None or family in self.surfaces

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


class KeyNotFound(LookupError):
    pass


class DuplicateName(ValueError):
    pass


def _record(row: Any) -> ClientKey:
    return ClientKey(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        secret_hash=row.secret_hash,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        surfaces=tuple(row.surfaces) if row.surfaces is not None else None,
        models=tuple(row.models) if row.models is not None else None,
        rpm=row.rpm,
        tpm=row.tpm,
        concurrent=row.concurrent,
        monthly_token_budget=row.monthly_token_budget,
        log_prompts=bool(row.log_prompts),
    )


def _columns(key: ClientKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "secret_hash": key.secret_hash,
        "created_at": key.created_at,
        "updated_at": key.updated_at,
        "last_used_at": key.last_used_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "surfaces": list(key.surfaces) if key.surfaces is not None else None,
        "models": list(key.models) if key.models is not None else None,
        "rpm": key.rpm,
        "tpm": key.tpm,
        "concurrent": key.concurrent,
        "monthly_token_budget": key.monthly_token_budget,
        "log_prompts": key.log_prompts,
    }


def file_secret(state_dir: Path) -> bytes:
    """The hashing secret of a single gateway: made once, kept 0600 in the state directory."""
    path = Path(state_dir).expanduser() / SECRET_FILE
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    value = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(value.hex())
    return value


_HASH_SECRET = sa.select(server_secrets.c.value).where(server_secrets.c.name == "key_hash")


async def shared_secret(engine: AsyncEngine) -> bytes:
    """The hashing secret every replica of one database uses: the first one to start makes it."""
    async with engine.connect() as connection:
        found = (await connection.execute(_HASH_SECRET)).scalar()
    if found is not None:
        return bytes.fromhex(found)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.insert(server_secrets).values(name="key_hash", value=secrets.token_bytes(32).hex()))
    except IntegrityError:
        pass  # another replica made it first; theirs is the one
    async with engine.connect() as connection:
        value = (await connection.execute(_HASH_SECRET)).scalar_one()
    return bytes.fromhex(value)


class KeyStore:
    def __init__(self, engine: AsyncEngine, secret: bytes, *, refresh: float = 1.0):
        self._engine = engine
        self._secret = secret
        self._refresh = refresh
        self._by_hash: dict[str, ClientKey] = {}
        self._misses: dict[str, float] = {}
        self._used: dict[str, float] = {}  # key id -> last use not yet written
        self._task: asyncio.Task[None] | None = None

    # --- the request path ---------------------------------------------------------------

    def hash(self, secret: bytes) -> str:
        return hmac.new(self._secret, secret, hashlib.sha256).hexdigest()

    def find(self, secret: bytes) -> ClientKey | None:
        """The key whose secret this is, from memory (None when not known here yet)."""
        digest = self.hash(secret)
        key = self._by_hash.get(digest)
        return key if key is not None and hmac.compare_digest(key.secret_hash, digest) else None

    async def find_fresh(self, secret: bytes) -> ClientKey | None:
        """``find``, then the database for a key made on another replica since the last reload."""
        key = self.find(secret)
        if key is not None:
            return key
        digest = self.hash(secret)
        now = time.monotonic()
        if self._misses.get(digest, 0.0) > now:
            return None
        async with self._engine.connect() as connection:
            row = (await connection.execute(sa.select(client_keys).where(client_keys.c.secret_hash == digest))).first()
        if row is None:
            if len(self._misses) >= _MAX_MISSES:
                self._misses.clear()
            self._misses[digest] = now + _MISS_TTL
            return None
        key = _record(row)
        self._by_hash[key.secret_hash] = key
        return key

    def used(self, key: ClientKey) -> None:
        self._used[key.id] = time.time()

    # --- management ---------------------------------------------------------------------

    async def create(self, **fields: Any) -> tuple[ClientKey, str]:
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        key = ClientKey(
            id="key_" + secrets.token_hex(8),
            prefix=secret[:8],
            secret_hash=self.hash(secret.encode()),
            created_at=now,
            updated_at=now,
            **fields,
        )
        await self._check_name(key)
        async with self._engine.begin() as connection:
            await connection.execute(sa.insert(client_keys).values(**_columns(key)))
        self._by_hash[key.secret_hash] = key
        return key, secret

    async def update(self, key_id: str, **change: Any) -> ClientKey:
        current = await self.get(key_id)
        key = replace(current, **change, updated_at=time.time())
        if key.name != current.name:
            await self._check_name(key)
        values = {name: value for name, value in _columns(key).items() if name in change or name == "updated_at"}
        async with self._engine.begin() as connection:
            await connection.execute(sa.update(client_keys).where(client_keys.c.id == key_id).values(**values))
        self._by_hash[key.secret_hash] = key
        return key

    async def revoke(self, key_id: str) -> ClientKey:
        current = await self.get(key_id)
        if current.revoked_at is not None:
            return current
        return await self.update(key_id, revoked_at=time.time())

    async def get(self, key_id: str) -> ClientKey:
        async with self._engine.connect() as connection:
            row = (await connection.execute(sa.select(client_keys).where(client_keys.c.id == key_id))).first()
        if row is None:
            raise KeyNotFound(key_id)
        return self._with_use(_record(row))

    async def all(self) -> list[ClientKey]:
        async with self._engine.connect() as connection:
            rows = (await connection.execute(sa.select(client_keys).order_by(client_keys.c.created_at))).all()
        return [self._with_use(_record(row)) for row in rows]

    def _with_use(self, key: ClientKey) -> ClientKey:
        pending = self._used.get(key.id)
        return replace(key, last_used_at=pending) if pending and (key.last_used_at or 0) < pending else key

    async def _check_name(self, key: ClientKey) -> None:
        """Names tell keys apart in the history, so two live keys may not share one."""
        query = sa.select(client_keys.c.id).where(
            client_keys.c.name == key.name, client_keys.c.revoked_at.is_(None), client_keys.c.id != key.id
        )
        async with self._engine.connect() as connection:
            if (await connection.execute(query)).first() is not None:
                raise DuplicateName(key.name)

    # --- the background task ------------------------------------------------------------

    async def reload(self) -> None:
        async with self._engine.connect() as connection:
            rows = (await connection.execute(sa.select(client_keys))).all()
        self._by_hash = {row.secret_hash: _record(row) for row in rows}
        self._misses.clear()

    async def _write_use(self) -> None:
        used, self._used = self._used, {}
        if not used:
            return
        async with self._engine.begin() as connection:
            for key_id, moment in used.items():
                older = sa.or_(client_keys.c.last_used_at.is_(None), client_keys.c.last_used_at < moment)
                await connection.execute(
                    sa.update(client_keys).where(client_keys.c.id == key_id, older).values(last_used_at=moment)
                )

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="key-refresh")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._refresh)
            try:
                await self._write_use()
                await self.reload()
            except (SQLAlchemyError, OSError) as exc:
                log.warning("client keys not refreshed (the cached ones stay in use): %s", type(exc).__name__)
                with contextlib.suppress(SQLAlchemyError, OSError):
                    await self._engine.dispose()  # fresh connections once the database recovers

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        with contextlib.suppress(SQLAlchemyError, OSError):
            await self._write_use()
