"""The usage report: requests and tokens per time bucket and group, latency and errors per
bucket, the top keys and models, all aggregated in SQL (``GROUP BY`` bucket, dimension).

Percentiles come from the ``latency_bin`` column: the database counts requests per bucket and
bin, and p50/p95 are read off those few counts here (exact to a bin, about 19 %), so no engine
needs a percentile function and no row leaves the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from atmosphere.store.schema import usage
from atmosphere.store.usage import bin_ms

Bucket = Literal["hour", "day"]
GroupBy = Literal["model", "key", "host"]
STEP_MS: dict[str, int] = {"hour": 3_600_000, "day": 86_400_000}
TOP = 10
NONE = "(none)"


@dataclass(frozen=True)
class UsageQuery:
    start_ms: int
    end_ms: int
    bucket: Bucket = "hour"
    group_by: GroupBy = "model"
    key: str | None = None  # only this key's requests


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dimension(group_by: str) -> sa.ColumnElement[Any]:
    if group_by == "key":
        return usage.c.key
    if group_by == "host":
        return sa.func.coalesce(usage.c.host, NONE)
    return sa.func.coalesce(usage.c.model, usage.c.requested_model, NONE)


def _in_range(query: UsageQuery) -> list[sa.ColumnElement[bool]]:
    conditions = [usage.c.ts_ms >= query.start_ms, usage.c.ts_ms < query.end_ms]
    if query.key is not None:
        conditions.append(usage.c.key == query.key)
    return conditions


_ERRORS = sa.func.sum(sa.case((usage.c.status >= 400, 1), else_=0))
_TOKENS_IN = sa.func.coalesce(sa.func.sum(usage.c.tokens_in), 0)
_TOKENS_OUT = sa.func.coalesce(sa.func.sum(usage.c.tokens_out), 0)


def _quantile(bins: list[tuple[int, int]], total: int, q: float) -> float | None:
    """The duration at quantile ``q`` of requests counted per latency bin (sorted by bin)."""
    if not total:
        return None
    wanted = q * total
    seen = 0
    for value, count in bins:
        seen += count
        if seen >= wanted:
            return round(bin_ms(value), 2)
    return round(bin_ms(bins[-1][0]), 2)


async def usage_report(engine: AsyncEngine, query: UsageQuery) -> dict[str, Any]:
    step = STEP_MS[query.bucket]
    bucket = (usage.c.ts_ms // step).label("bucket")
    group = _dimension(query.group_by).label("grp")
    where = _in_range(query)
    series_q = (
        sa.select(
            bucket,
            group,
            sa.func.count().label("requests"),
            _TOKENS_IN.label("tokens_in"),
            _TOKENS_OUT.label("tokens_out"),
            _ERRORS.label("errors"),
        )
        .where(*where)
        .group_by(bucket, group)
        .order_by(bucket, group)
    )
    latency_q = (
        sa.select(bucket, usage.c.latency_bin, sa.func.count().label("n"), _ERRORS.label("errors"))
        .where(*where)
        .group_by(bucket, usage.c.latency_bin)
        .order_by(bucket, usage.c.latency_bin)
    )
    async with engine.connect() as connection:
        series = (await connection.execute(series_q)).all()
        latency = (await connection.execute(latency_q)).all()
        top_keys = (await connection.execute(_top(usage.c.key, where))).all()
        top_models = (await connection.execute(_top(_dimension("model"), where))).all()
    return {
        "from": iso(query.start_ms),
        "to": iso(query.end_ms),
        "bucket": query.bucket,
        "group_by": query.group_by,
        "series": [
            {
                "t": iso(int(row.bucket) * step),
                "group": row.grp,
                "requests": int(row.requests),
                "tokens_in": int(row.tokens_in),
                "tokens_out": int(row.tokens_out),
                "errors": int(row.errors),
            }
            for row in series
        ],
        "latency": _latency_points(latency, step),
        "top": {"keys": [_top_entry(row) for row in top_keys], "models": [_top_entry(row) for row in top_models]},
    }


def _latency_points(rows: Sequence[Any], step: int) -> list[dict[str, Any]]:
    by_bucket: dict[int, tuple[list[tuple[int, int]], list[int]]] = {}
    for row in rows:
        bins, counts = by_bucket.setdefault(int(row.bucket), ([], [0, 0]))
        if row.latency_bin is not None:
            bins.append((int(row.latency_bin), int(row.n)))
        counts[0] += int(row.n)
        counts[1] += int(row.errors)
    points = []
    for start, (bins, (requests, errors)) in sorted(by_bucket.items()):
        timed = sum(count for _, count in bins)
        points.append(
            {
                "t": iso(start * step),
                "p50_ms": _quantile(bins, timed, 0.50),
                "p95_ms": _quantile(bins, timed, 0.95),
                "error_rate": round(errors / requests, 4) if requests else None,
                "requests": requests,
            }
        )
    return points


def _top(dimension: sa.ColumnElement[Any], where: list[sa.ColumnElement[bool]]) -> sa.Select[Any]:
    name = dimension.label("name")
    tokens = (_TOKENS_IN + _TOKENS_OUT).label("tokens")
    requests = sa.func.count().label("requests")
    return sa.select(name, requests, tokens).where(*where).group_by(name).order_by(tokens.desc(), requests.desc()).limit(TOP)


def _top_entry(row: Any) -> dict[str, Any]:
    return {"name": row.name, "requests": int(row.requests), "tokens": int(row.tokens)}
