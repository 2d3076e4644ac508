"""The tables, in SQLAlchemy Core: one definition for SQLite and PostgreSQL.

The shapes here are the current schema; ``migrations.py`` is how a database gets there, one
numbered step at a time. A change to a table is a new step there as well as an edit here.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# SQLite's rowid alias must be INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("applied_at", sa.Float, nullable=False),  # epoch seconds
)

# One row per request, refused ones included. Never the prompt or the answer.
usage = sa.Table(
    "usage",
    metadata,
    sa.Column("id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("ts_ms", sa.BigInteger, nullable=False),  # when the request arrived, epoch milliseconds
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),  # the client key's name, "admin" or "local"
    sa.Column("surface", sa.String(64), nullable=False),
    sa.Column("requested_model", sa.String(256)),
    sa.Column("model", sa.String(256)),  # what served it, in the host's own name
    sa.Column("host", sa.String(128)),
    sa.Column("substituted", sa.Boolean, nullable=False, default=False),
    sa.Column("tokens_in", sa.Integer),
    sa.Column("tokens_out", sa.Integer),
    sa.Column("estimated", sa.Boolean, nullable=False, default=False),  # counted by the gateway, not reported
    sa.Column("ttft_ms", sa.Float),
    sa.Column("duration_ms", sa.Float),
    sa.Column("latency_bin", sa.SmallInteger),  # duration on a log scale (usage.latency_bin), for percentiles in SQL
    sa.Column("status", sa.SmallInteger, nullable=False),
    sa.Column("error", sa.String(64)),  # the error's code or type, for a status >= 400
    sa.Column("stream", sa.Boolean, nullable=False, default=False),
    sa.Column("bytes_in", sa.BigInteger),
    sa.Column("bytes_out", sa.BigInteger),
    sa.Column("replica", sa.String(64)),  # which gateway process wrote it
)
# A usage row as the writer builds it (a tuple, not a dict: store/usage.py): every column but the
# id, in the table's order.
USAGE_ROW = tuple(column.name for column in usage.columns if column.name != "id")

# Retention deletes by time, and the Keys page counts each key's refusals of the last hour.
sa.Index("ix_usage_ts", usage.c.ts_ms)
# One key's requests newest first (``GET /v1/requests?key=``, a key's own reports): the rows of
# that key in the history's order, so a page reads its rows and no other key's. ``id`` last, so
# PostgreSQL needs no sort for the rows sharing a millisecond (SQLite's index ends in the rowid).
ix_usage_key_ts = sa.Index("ix_usage_key_ts", usage.c.key, usage.c.ts_ms, usage.c.id)


def _sums(name: str, period: str) -> sa.Table:
    """Requests, errors and tokens per (period, key, model, host): the totals every report reads.
    ``model`` is the served name, else the requested one, else "(none)"; ``host`` is "(none)" for
    a request no host served. Clustered on their keys on SQLite (no rowid), so a range of periods
    is read in order from one b-tree."""
    return sa.Table(
        name,
        metadata,
        sa.Column(period, sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("model", sa.String(256), primary_key=True),
        sa.Column("host", sa.String(128), primary_key=True),
        *_counts(),
        sa.Column("tokens_in", sa.BigInteger, nullable=False),
        sa.Column("tokens_out", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )


def _latency(name: str, period: str) -> sa.Table:
    """Requests per (period, key, latency bin): the percentiles' histogram (bin -1: no duration)."""
    return sa.Table(
        name,
        metadata,
        sa.Column(period, sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("latency_bin", sa.SmallInteger, primary_key=True, autoincrement=False),
        *_counts(),
        sqlite_with_rowid=False,
    )


def _counts() -> list[sa.Column[int]]:
    """A column belongs to one table: new ones for each."""
    return [sa.Column("requests", sa.BigInteger, nullable=False), sa.Column("errors", sa.BigInteger, nullable=False)]


# The history summed per hour (epoch hours), kept by the writer in the transaction that writes
# the rows: every report reads these, never every request.
usage_hourly = _sums("usage_hourly", "hour")
usage_latency = _latency("usage_latency", "hour")
# The same sums per day (epoch days, UTC), kept beside the hourly ones in the same transaction:
# a day view over a month reads 30 days of these instead of 720 hours of the others. A report
# reads whole days here and the partial days at its edges from the hourly tables.
usage_daily = _sums("usage_daily", "day")
usage_latency_daily = _latency("usage_latency_daily", "day")


# Client keys: the secret is never stored, only its keyed hash.
client_keys = sa.Table(
    "client_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),  # the secret's first characters, to tell keys apart
    sa.Column("secret_hash", sa.String(128), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("last_used_at", sa.Float),
    sa.Column("expires_at", sa.Float),
    sa.Column("revoked_at", sa.Float),
    sa.Column("surfaces", sa.JSON),  # null: every surface
    sa.Column("models", sa.JSON),  # fnmatch patterns; null: every model
    sa.Column("rpm", sa.Integer),
    sa.Column("tpm", sa.Integer),
    sa.Column("concurrent", sa.Integer),
    sa.Column("monthly_token_budget", sa.BigInteger),
    sa.Column("log_prompts", sa.Boolean, nullable=False, default=False),
)

# What the replicas share: the secret that keys the hashes (PostgreSQL; SQLite keeps it in a 0600 file).
server_secrets = sa.Table(
    "server_secrets",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

# Per key and window (a minute, a month): requests and tokens counted by every replica.
key_counters = sa.Table(
    "key_counters",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("window", sa.String(16), primary_key=True),  # "m:<epoch minute>" or "M:<yyyy-mm>"
    sa.Column("requests", sa.BigInteger, nullable=False, default=0),
    sa.Column("tokens", sa.BigInteger, nullable=False, default=0),
)

# Requests in flight per key with a concurrency limit, across replicas (PostgreSQL; leases.py):
# one row per request, until it ends or ``expires_at`` passes unrenewed (a killed replica's).
key_leases = sa.Table(
    "key_leases",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("replica", sa.String(64), nullable=False),  # which gateway process holds it
    sa.Column("expires_at", sa.Float, nullable=False),  # epoch seconds, by the database's clock
)
sa.Index("ix_key_leases_key", key_leases.c.key_id, key_leases.c.expires_at)
