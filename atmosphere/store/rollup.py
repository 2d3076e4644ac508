"""The hourly sums of the usage history: what a batch adds, and the backfill from old rows.

``usage_hourly`` sums requests, errors and tokens per (hour, key, model, host);
``usage_latency`` counts requests per (hour, key, latency bin) for the percentiles. A batch of
rows becomes one upsert per group in the same transaction as the rows, so the sums never
disagree with the rows they sum (a ``kill -9`` loses both or neither).

``usage_daily`` and ``usage_latency_daily`` are the same sums per day, added in the same
transaction from the batch's hourly groups, so a day's sums are always its hours' sums.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from atmosphere.store.schema import usage, usage_daily, usage_hourly, usage_latency, usage_latency_daily

HOUR_MS = 3_600_000
HOURS_PER_DAY = 24
NONE = "(none)"
NO_BIN = -1


def _model(row: dict[str, Any]) -> str:
    return str(row["model"] or row["requested_model"] or NONE)


def sums(rows: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The hourly sums and the latency counts a batch of usage rows adds."""
    totals: dict[tuple[Any, ...], dict[str, Any]] = {}
    latency: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        hour = row["ts_ms"] // HOUR_MS
        error = int(row["status"] >= 400)
        group = (hour, row["key"], _model(row), row["host"] or NONE)
        total = totals.get(group)
        if total is None:
            total = totals[group] = {"hour": hour, "key": group[1], "model": group[2], "host": group[3]}
            total.update(requests=0, errors=0, tokens_in=0, tokens_out=0)
        total["requests"] += 1
        total["errors"] += error
        total["tokens_in"] += row["tokens_in"] or 0
        total["tokens_out"] += row["tokens_out"] or 0
        bin_ = row["latency_bin"] if row["latency_bin"] is not None else NO_BIN
        count = latency.get((hour, row["key"], bin_))
        if count is None:
            count = latency[(hour, row["key"], bin_)] = {"hour": hour, "key": row["key"], "latency_bin": bin_}
            count.update(requests=0, errors=0)
        count["requests"] += 1
        count["errors"] += error
    return list(totals.values()), list(latency.values())


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


def add(dialect: str, table: sa.Table) -> Any:
    """An upsert adding one group's sums to ``table`` (executed with many parameter sets)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    keys = list(table.primary_key.columns)
    return statement.on_conflict_do_update(
        index_elements=keys,
        set_={c.name: c + statement.excluded[c.name] for c in table.columns if c not in keys},
    )


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
