"""The hourly sums of the usage history: what a batch adds, and the backfill from old rows.

``usage_hourly`` sums requests, errors and tokens per (hour, key, model, host);
``usage_latency`` counts requests per (hour, key, latency bin) for the percentiles. A batch of
rows becomes one upsert per group (``batch.upsert``) in the same transaction as the rows, so the sums never
disagree with the rows they sum (a ``kill -9`` loses both or neither).

``usage_daily`` and ``usage_latency_daily`` are the same sums per day, added in the same
transaction from the batch's hourly groups, so a day's sums are always its hours' sums.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from atmosphere.store.schema import USAGE_ROW, usage, usage_daily, usage_hourly, usage_latency, usage_latency_daily

HOUR_MS = 3_600_000
HOURS_PER_DAY = 24
NONE = "(none)"
NO_BIN = -1


# Where sums finds what it adds up in a usage row (a tuple in USAGE_ROW's order).
_TS, _KEY, _REQUESTED, _MODEL, _HOST, _IN, _OUT, _BIN, _STATUS = (
    USAGE_ROW.index(name)
    for name in ("ts_ms", "key", "requested_model", "model", "host", "tokens_in", "tokens_out", "latency_bin", "status")
)


def sums(rows: Iterable[Sequence[Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The hourly sums and the latency counts a batch of usage rows adds."""
    totals: dict[tuple[Any, ...], list[Any]] = {}
    latency: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        hour, key = row[_TS] // HOUR_MS, row[_KEY]
        error = 1 if row[_STATUS] >= 400 else 0
        group = (hour, key, row[_MODEL] or row[_REQUESTED] or NONE, row[_HOST] or NONE)
        total = totals.get(group)
        if total is None:
            total = totals[group] = [0, 0, 0, 0]
        total[0] += 1
        total[1] += error
        total[2] += row[_IN] or 0
        total[3] += row[_OUT] or 0
        bin_ = row[_BIN]
        counted = (hour, key, NO_BIN if bin_ is None else bin_)
        count = latency.get(counted)
        if count is None:
            count = latency[counted] = [0, 0]
        count[0] += 1
        count[1] += error
    return (
        [dict(zip(_TOTAL_COLUMNS, (*group, *values), strict=True)) for group, values in totals.items()],
        [dict(zip(_LATENCY_COLUMNS, (*group, *values), strict=True)) for group, values in latency.items()],
    )


_TOTAL_COLUMNS = ("hour", "key", "model", "host", "requests", "errors", "tokens_in", "tokens_out")
_LATENCY_COLUMNS = ("hour", "key", "latency_bin", "requests", "errors")


def by_day(groups: Iterable[dict[str, Any]], dimensions: tuple[str, ...]) -> list[dict[str, Any]]:
    """Hourly groups (from ``sums``) summed per day and ``dimensions``: the daily tables' rows."""
    days: dict[tuple[Any, ...], dict[str, Any]] = {}
    for group in groups:
        day = group["hour"] // HOURS_PER_DAY
        name = (day, *(group[d] for d in dimensions))
        total = days.get(name)
        if total is None:
            total = days[name] = {"day": day, **{d: group[d] for d in dimensions}}
            total.update((column, 0) for column in group if column != "hour" and column not in dimensions)
        for column, value in group.items():
            if column != "hour" and column not in dimensions:
                total[column] += value
    return list(days.values())


DAILY_TOTALS = ("key", "model", "host")
DAILY_LATENCY = ("key", "latency_bin")


def backfill() -> list[Any]:
    """``INSERT … SELECT``s: the sums of every row already in ``usage``."""
    hour = (usage.c.ts_ms // HOUR_MS).label("hour")
    model = sa.func.coalesce(usage.c.model, usage.c.requested_model, NONE).label("model")
    host = sa.func.coalesce(usage.c.host, NONE).label("host")
    bin_ = sa.func.coalesce(usage.c.latency_bin, NO_BIN).label("latency_bin")
    errors = sa.func.sum(sa.case((usage.c.status >= 400, 1), else_=0))
    totals = sa.select(
        hour,
        usage.c.key,
        model,
        host,
        sa.func.count(),
        errors,
        sa.func.coalesce(sa.func.sum(usage.c.tokens_in), 0),
        sa.func.coalesce(sa.func.sum(usage.c.tokens_out), 0),
    ).group_by(hour, usage.c.key, model, host)
    latency = sa.select(hour, usage.c.key, bin_, sa.func.count(), errors).group_by(hour, usage.c.key, bin_)
    return [
        sa.insert(usage_hourly).from_select(
            ["hour", "key", "model", "host", "requests", "errors", "tokens_in", "tokens_out"], totals
        ),
        sa.insert(usage_latency).from_select(["hour", "key", "latency_bin", "requests", "errors"], latency),
    ]


def _daily_from_hourly(first_day: int | None = None, last_day: int | None = None) -> list[Any]:
    """``INSERT … SELECT``s: the daily sums of the hourly ones (of days ``[first_day, last_day)``)."""
    statements = []
    for hourly, daily, dimensions, summed in (
        (usage_hourly, usage_daily, DAILY_TOTALS, ("requests", "errors", "tokens_in", "tokens_out")),
        (usage_latency, usage_latency_daily, DAILY_LATENCY, ("requests", "errors")),
    ):
        day = (hourly.c.hour // HOURS_PER_DAY).label("day")
        select = sa.select(day, *(hourly.c[d] for d in dimensions), *(sa.func.sum(hourly.c[c]) for c in summed))
        if first_day is not None:
            select = select.where(hourly.c.hour >= first_day * HOURS_PER_DAY)
        if last_day is not None:
            select = select.where(hourly.c.hour < last_day * HOURS_PER_DAY)
        select = select.group_by(day, *(hourly.c[d] for d in dimensions))
        statements.append(sa.insert(daily).from_select(["day", *dimensions, *summed], select))
    return statements


def backfill_daily() -> list[Any]:
    """The daily sums of every hourly sum already kept (migration step 4)."""
    return _daily_from_hourly()


def redo_day(day: int) -> list[Any]:
    """Statements that make ``day``'s daily sums its hours' again (after retention removed some of
    its hours, the day's sums must lose them too)."""
    delete = [sa.delete(table).where(table.c.day == day) for table in (usage_daily, usage_latency_daily)]
    return [*delete, *_daily_from_hourly(day, day + 1)]
