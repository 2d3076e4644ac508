"""The usage report: requests and tokens per time bucket and group, latency and errors per
bucket, the top keys and models, all aggregated in SQL (``GROUP BY`` bucket, dimension).

It reads the hourly sums the writer keeps (``rollup.py``), never every request, so a month
of a busy gateway is a few thousand sums; a bucket is its whole hour or day (the range is
widened to whole hours). Percentiles come from the latency bins: the database counts requests
per bucket and bin, and p50/p95 are read off those few counts here (exact to a bin, about
19 %), so no engine needs a percentile function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from atmosphere.store.rollup import HOUR_MS
from atmosphere.store.schema import usage_hourly, usage_latency
from atmosphere.store.usage import bin_ms

Bucket = Literal["hour", "day"]
GroupBy = Literal["model", "key", "host"]
STEP_MS: dict[str, int] = {"hour": 3_600_000, "day": 86_400_000}
TOP = 10


@dataclass(frozen=True)
class UsageQuery:
    start_ms: int
    end_ms: int
    bucket: Bucket = "hour"
    group_by: GroupBy = "model"
    key: str | None = None  # only this key's requests


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _hours(table: sa.Table, query: UsageQuery) -> list[sa.ColumnElement[bool]]:
    """The range in whole hours (a bucket is its whole hour or day), and the key if one is asked."""
    first, last = query.start_ms // HOUR_MS, -(-query.end_ms // HOUR_MS)
    conditions = [table.c.hour >= first, table.c.hour < last]
    if query.key is not None:
        conditions.append(table.c.key == query.key)
    return conditions


_REQUESTS = sa.func.sum(usage_hourly.c.requests)
_TOKENS = sa.func.sum(usage_hourly.c.tokens_in) + sa.func.sum(usage_hourly.c.tokens_out)


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
    hours_per_bucket = STEP_MS[query.bucket] // HOUR_MS
    step = STEP_MS[query.bucket]
    sums, counts = usage_hourly, usage_latency
    bucket = (sums.c.hour // hours_per_bucket).label("bucket")
    group = sums.c[query.group_by].label("grp")
    where = _hours(sums, query)
    series_q = (
        sa.select(
            bucket,
            group,
            _REQUESTS.label("requests"),
            sa.func.sum(sums.c.tokens_in).label("tokens_in"),
            sa.func.sum(sums.c.tokens_out).label("tokens_out"),
            sa.func.sum(sums.c.errors).label("errors"),
        )
        .where(*where)
        .group_by(bucket, group)
        .order_by(bucket, group)
    )
    latency_bucket = (counts.c.hour // hours_per_bucket).label("bucket")
    latency_q = (
        sa.select(
            latency_bucket,
            counts.c.latency_bin,
            sa.func.sum(counts.c.requests).label("n"),
            sa.func.sum(counts.c.errors).label("errors"),
        )
        .where(*_hours(counts, query))
        .group_by(latency_bucket, counts.c.latency_bin)
        .order_by(latency_bucket, counts.c.latency_bin)
    )
    async with engine.connect() as connection:
        series = (await connection.execute(series_q)).all()
        latency = (await connection.execute(latency_q)).all()
        top_keys = (await connection.execute(_top(sums.c.key, where))).all()
        top_models = (await connection.execute(_top(sums.c.model, where))).all()
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
        if row.latency_bin is not None and row.latency_bin >= 0:
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
    tokens = _TOKENS.label("tokens")
    requests = _REQUESTS.label("requests")
    return sa.select(name, requests, tokens).where(*where).group_by(name).order_by(tokens.desc(), requests.desc()).limit(TOP)


def _top_entry(row: Any) -> dict[str, Any]:
    return {"name": row.name, "requests": int(row.requests), "tokens": int(row.tokens)}
