"""The recent-requests log (last 500, in memory) and per-host statistics over 15 minutes.

An entry says what happened to one request: who served it, every attempt before, timings
and token counts. It never holds the prompt or the answer unless the operator set
``ATMOSPHERE_LOG_PROMPTS=true``. Memory is bounded: the ring holds ``size`` entries and each
host keeps at most 15 one-minute buckets with a capped sample of latencies.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Outcome = Literal["ok", "fallback", "error"]
WINDOW_MINUTES = 15
_SAMPLES_PER_MINUTE = 512  # latencies kept per host-minute for p50/p95 (a fair sample beyond)


@dataclass(slots=True)
class RequestEntry:
    id: str
    time: float  # epoch seconds when the request arrived
    surface: str
    requested_model: str | None
    backend: str | None
    model: str | None
    substituted: bool
    attempts: list[dict[str, str]]
    status: int
    outcome: Outcome
    added_ms: float | None
    upstream_ms: float | None
    ttft_ms: float | None
    tokens_in: int | None
    tokens_out: int | None
    stream: bool
    client: str | None
    prompt: str | None = None  # only with ATMOSPHERE_LOG_PROMPTS=true
    answer: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["prompt"] is None and data["answer"] is None:
            del data["prompt"], data["answer"]
        return data


@dataclass(slots=True)
class _Minute:
    minute: int
    count: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)


class HostStats:
    """Request counts, errors and latencies of one host, per minute, for the last 15 minutes."""

    def __init__(self) -> None:
        self._minutes: deque[_Minute] = deque(maxlen=WINDOW_MINUTES)

    def add(self, now: float, latency_ms: float | None, error: bool) -> None:
        minute = int(now // 60)
        if not self._minutes or self._minutes[-1].minute != minute:
            self._minutes.append(_Minute(minute))
        bucket = self._minutes[-1]
        bucket.count += 1
        bucket.errors += error
        if latency_ms is not None:
            if len(bucket.latencies) < _SAMPLES_PER_MINUTE:
                bucket.latencies.append(latency_ms)
            else:  # keep a spread of the minute, not only its first seconds
                bucket.latencies[bucket.count % _SAMPLES_PER_MINUTE] = latency_ms

    def summary(self, now: float) -> dict[str, Any]:
        current = int(now // 60)
        recent = {b.minute: b for b in self._minutes if current - b.minute < WINDOW_MINUTES}
        sparkline = [recent[m].count if m in recent else 0 for m in range(current - WINDOW_MINUTES + 1, current + 1)]
        total = sum(sparkline)
        errors = sum(b.errors for b in recent.values())
        latencies = sorted(x for b in recent.values() for x in b.latencies)
        # Minutes since the first request in the window (at least one): a fresh host's rate is not diluted.
        first = min(recent) if recent else current
        span = max(1.0, min(WINDOW_MINUTES, (now - first * 60) / 60))
        return {
            "p50_ms": _quantile(latencies, 0.50),
            "p95_ms": _quantile(latencies, 0.95),
            "requests_per_minute": round(total / span, 2),
            "error_rate": round(errors / total, 4) if total else 0.0,
            "sparkline": sparkline,
        }


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


EMPTY_STATS: dict[str, Any] = HostStats().summary(0.0)


class RequestLog:
    """The ring of recent entries, the per-host statistics, and who hears of a new entry."""

    def __init__(self, size: int = 500, *, clock: Callable[[], float] = time.time):
        self._entries: deque[RequestEntry] = deque(maxlen=size)
        self._hosts: dict[str, HostStats] = {}
        self._ids = itertools.count(1)
        self._clock = clock
        self._listeners: list[Callable[[RequestEntry], None]] = []

    def next_id(self) -> str:
        return f"req-{next(self._ids)}"

    def add_listener(self, listener: Callable[[RequestEntry], None]) -> None:
        self._listeners.append(listener)

    def add(self, entry: RequestEntry) -> None:
        self._entries.append(entry)
        if entry.backend is not None:
            stats = self._hosts.get(entry.backend)
            if stats is None:
                stats = self._hosts[entry.backend] = HostStats()
            stats.add(entry.time, entry.upstream_ms, entry.outcome == "error")
        for attempt in entry.attempts:  # a host that failed a request counts that error too
            if attempt.get("kind") != "skipped":
                self._hosts.setdefault(attempt["backend"], HostStats()).add(entry.time, None, True)
        for listener in list(self._listeners):
            listener(entry)

    def query(
        self, *, backend: str | None = None, model: str | None = None, outcome: str | None = None, limit: int = 100
    ) -> list[RequestEntry]:
        """Newest first, filtered; ``model`` matches the requested or the native model."""
        found: list[RequestEntry] = []
        for entry in reversed(self._entries):
            if backend and entry.backend != backend and not any(a["backend"] == backend for a in entry.attempts):
                continue
            if model and model not in (entry.model, entry.requested_model):
                continue
            if outcome and entry.outcome != outcome:
                continue
            found.append(entry)
            if len(found) >= limit:
                break
        return found

    def stats(self, host: str) -> dict[str, Any]:
        stats = self._hosts.get(host)
        return stats.summary(self._clock()) if stats else dict(EMPTY_STATS, sparkline=[0] * WINDOW_MINUTES)

    def forget(self, host: str) -> None:
        self._hosts.pop(host, None)
