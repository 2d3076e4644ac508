"""The usage report: requests and tokens per time bucket and group, latency and errors per
bucket, the top keys and models, all aggregated in SQL (``GROUP BY`` bucket, dimension).

It reads the hourly and daily sums the writer keeps (``rollup.py``), never every request: the
whole days of a range from the daily sums (for the day buckets and the top lists), its other
hours from the hourly ones, so a month by the day is about 30 sums per key, model and host
however busy the gateway. A bucket is its whole hour or day (the range is widened to whole
hours, so the first and last day buckets may hold only part of their day, as the hours say).

Percentiles come from the latency bins: the database counts requests per bucket and bin, and
p50/p95 are read off those few counts here (exact to a bin, about 19 %), so no engine needs a
percentile function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from atmosphere.store.rollup import HOUR_MS, HOURS_PER_DAY
from atmosphere.store.schema import usage_daily, usage_hourly, usage_latency, usage_latency_daily
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


@dataclass(frozen=True)
class _Span:
    """The query's range in whole hours, split into the whole days in it and the hours around them."""

    first_hour: int
    last_hour: int  # exclusive

    @property
    def days(self) -> tuple[int, int]:
        return -(-self.first_hour // HOURS_PER_DAY), self.last_hour // HOURS_PER_DAY

    def edges(self) -> list[tuple[int, int]]:
        """The hours not in a whole day of the range (all of them when it holds no whole day)."""
        first_day, last_day = self.days
        if first_day >= last_day:
            return [(self.first_hour, self.last_hour)]
        edges = [(self.first_hour, first_day * HOURS_PER_DAY), (last_day * HOURS_PER_DAY, self.last_hour)]
        return [(start, end) for start, end in edges if start < end]


def _span(query: UsageQuery) -> _Span:
    return _Span(query.start_ms // HOUR_MS, -(-query.end_ms // HOUR_MS))


def _sums(hourly: sa.Table, daily: sa.Table, query: UsageQuery, columns: Sequence[str], per_day: bool) -> sa.Subquery:
    """The range's sums as ``(bucket, *columns)`` rows: whole days from ``daily`` (when the buckets
    are days or none are asked), the hours around them from ``hourly``; ``bucket`` is the hour, or
    the day with ``per_day``. Reading a month by the day this way reads ~30 rows per group, not ~720."""
    span = _span(query)

    def keyed(table: sa.Table) -> list[sa.ColumnElement[bool]]:
        return [table.c.key == query.key] if query.key is not None else []

    if not per_day:
        where = [hourly.c.hour >= span.first_hour, hourly.c.hour < span.last_hour, *keyed(hourly)]
        return sa.select(hourly.c.hour.label("bucket"), *(hourly.c[c] for c in columns)).where(*where).subquery()
    first_day, last_day = span.days
    parts = []
    if first_day < last_day:
        where = [daily.c.day >= first_day, daily.c.day < last_day, *keyed(daily)]
        parts.append(sa.select(daily.c.day.label("bucket"), *(daily.c[c] for c in columns)).where(*where))
    for start, end in span.edges():
        where = [hourly.c.hour >= start, hourly.c.hour < end, *keyed(hourly)]
        bucket = (hourly.c.hour // HOURS_PER_DAY).label("bucket")
        parts.append(sa.select(bucket, *(hourly.c[c] for c in columns)).where(*where))
    return (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery()


_TOTALS = ("key", "model", "host", "requests", "errors", "tokens_in", "tokens_out")
_LATENCY = ("latency_bin", "requests", "errors")


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
    per_day = query.bucket == "day"
    sums = _sums(usage_hourly, usage_daily, query, _TOTALS, per_day)
    series_q = (
        sa.select(
            sums.c.bucket,
            sums.c[query.group_by].label("grp"),
            sa.func.sum(sums.c.requests).label("requests"),
            sa.func.sum(sums.c.tokens_in).label("tokens_in"),
            sa.func.sum(sums.c.tokens_out).label("tokens_out"),
            sa.func.sum(sums.c.errors).label("errors"),
        )
        .group_by(sums.c.bucket, sums.c[query.group_by])
        .order_by(sums.c.bucket, sums.c[query.group_by])
    )
    counts = _sums(usage_latency, usage_latency_daily, query, _LATENCY, per_day)
    latency_q = (
        sa.select(
            counts.c.bucket,
            counts.c.latency_bin,
            sa.func.sum(counts.c.requests).label("n"),
            sa.func.sum(counts.c.errors).label("errors"),
        )
        .group_by(counts.c.bucket, counts.c.latency_bin)
        .order_by(counts.c.bucket, counts.c.latency_bin)
    )
    # The top lists do not depend on the buckets: always whole days from the daily sums.
    whole = sums if per_day else _sums(usage_hourly, usage_daily, query, _TOTALS, True)
    async with engine.connect() as connection:
        series = (await connection.execute(series_q)).all()
        latency = (await connection.execute(latency_q)).all()
        top_keys = (await connection.execute(_top(whole, "key"))).all()
        top_models = (await connection.execute(_top(whole, "model"))).all()
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


def _top(sums: sa.Subquery, dimension: str) -> sa.Select[Any]:
    name = sums.c[dimension].label("name")
    tokens = (sa.func.sum(sums.c.tokens_in) + sa.func.sum(sums.c.tokens_out)).label("tokens")
    requests = sa.func.sum(sums.c.requests).label("requests")
    return sa.select(name, requests, tokens).group_by(name).order_by(tokens.desc(), requests.desc()).limit(TOP)


def _top_entry(row: Any) -> dict[str, Any]:
    return {"name": row.name, "requests": int(row.requests), "tokens": int(row.tokens)}
