"""The database engine from the settings: SQLite in the state directory unless told otherwise.

SQLite runs in WAL mode (readers never wait for the writer, a crash loses at most the last
transaction, never the file) with ``synchronous=NORMAL`` (a commit is durable once the WAL is
checkpointed; an OS crash may lose the last batch, which the writer already counts as droppable).
``postgresql://`` URLs are served by asyncpg.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from atmosphere.config import Settings

DEFAULT_FILE = "atmosphere.db"
_BUSY_MS = 5000  # another process (a second gateway on the same file) holding the write lock


def database_url(settings: Settings) -> URL:
    """The SQLAlchemy URL with its async driver: ``ATMOSPHERE_DATABASE_URL`` or the state directory's file."""
    given = settings.database_url.get_secret_value() if settings.database_url is not None else None
    if not given:
        return URL.create("sqlite+aiosqlite", database=str(Path(settings.state_dir).expanduser() / DEFAULT_FILE))
    url = make_url(given)
    if url.get_backend_name() in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+asyncpg")
    return url.set(drivername="sqlite+aiosqlite")


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def describe(url: URL) -> str:
    """The database for a log line, without its password."""
    return url.database or "" if is_sqlite(url) else url.render_as_string(hide_password=True)


def upsert_insert(dialect: str) -> Any:
    """The dialect's ``insert`` (the one with ``on_conflict_do_update``), imported when first asked
    for: a gateway on SQLite never loads the PostgreSQL dialect (~2 MB of resident memory)."""
    name = "postgresql" if dialect == "postgresql" else "sqlite"
    return importlib.import_module(f"sqlalchemy.dialects.{name}").insert


def make_engine(url: URL, *, pool_size: int = 5) -> AsyncEngine:
    """An engine for ``url``; a SQLite file's directory is created, its connections set to WAL.

    SQLite opens a file it may not write read-only, and a pooled connection stays so after the
    disk recovers: whoever sees a write fail disposes of the engine's pool (fresh connections)."""
    if is_sqlite(url):
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": _BUSY_MS / 1000}, pool_size=pool_size)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling would run DDL outside any transaction (a migration
    # half done); SQLAlchemy's recipe: no implicit transactions, an explicit BEGIN on each begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")
