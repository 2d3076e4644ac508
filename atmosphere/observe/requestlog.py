"""The recent-requests log (last 500, in memory) and per-host statistics over 15 minutes.

An entry says what happened to one request: who served it, every attempt before, timings
and token counts. It never holds the prompt or the answer unless the operator set
``ATMOSPHERE_LOG_PROMPTS=true``. Memory is bounded: the ring holds ``size`` entries and each
host keeps at most 15 one-minute buckets with a capped sample of latencies.

An entry is bounded too, since a client chooses what most of its fields say (the model it
asked for, the surface's path, and the text with prompt logging on): every string field is
cut at ``FIELD_CHARS`` characters (the prompt and answer at ``TEXT_CHARS``), ending in
``TRUNCATED``, and at most ``MAX_ATTEMPTS`` attempts are kept. On top of the count, the
ring holds at most ``max_bytes`` (about, in characters) and drops its oldest entries past it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Outcome = Literal["ok", "fallback", "error"]
WINDOW_MINUTES = 15
_SAMPLES_PER_MINUTE = 512  # latencies kept per host-minute for p50/p95 (a fair sample beyond)
FIELD_CHARS = 256  # any string field of an entry (model names, ids, reasons), marker included
REASON_CHARS = 200  # an entry's ``reason``: one line an operator reads
TEXT_CHARS = 4096  # the prompt and the answer (ATMOSPHERE_LOG_PROMPTS=true only)
MAX_ATTEMPTS = 16  # attempts kept per entry (hosts tried before the one that served)
MAX_DROPPED_TOOLS = 32  # names of dropped tools kept per entry
MAX_LOG_BYTES = 4 * 1024 * 1024  # the whole ring, in characters of its strings plus a fixed cost per entry
TRUNCATED = "…[truncated]"
_ENTRY_OVERHEAD = 400  # the JSON of an entry's numbers, flags and keys


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
    queued_ms: float | None = None  # time spent waiting for a host at its concurrency limit
    dropped_tools: list[str] | None = None  # tools offered that no local backend can run, left out
    reason: str | None = None  # why it failed or was refused, in a line (the error's message, cut)
    agent: str | None = None  # the caller's User-Agent: which tool sent it
    key: str = "local"  # the client key's name, "admin" or "local"
    estimated: bool = False  # token counts made by the gateway, not reported by the backend
    error: str | None = None  # the error's code or type, when it failed

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["prompt"] is None and data["answer"] is None:
            del data["prompt"], data["answer"]
        if data["dropped_tools"] is None:
            del data["dropped_tools"]
        if data["reason"] is None:  # only a failed or refused request has one
            del data["reason"]
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


def clip(value: str, limit: int = FIELD_CHARS) -> str:
    """``value`` at most ``limit`` characters, the cut marked with ``TRUNCATED``."""
    return value if len(value) <= limit else value[: limit - len(TRUNCATED)] + TRUNCATED


def bound(entry: RequestEntry) -> int:
    """Cut ``entry``'s strings to their bounds, in place; returns what it counts in the ring's total.

    Cheap for the usual entry: each field is one length check unless it is over."""
    size = _ENTRY_OVERHEAD
    for name in ("id", "surface", "requested_model", "backend", "model", "client", "agent", "key", "error"):
        value = getattr(entry, name)
        if value is not None:
            if len(value) > FIELD_CHARS:
                value = clip(value)
                setattr(entry, name, value)
            size += len(value)
    if entry.reason is not None:
        if len(entry.reason) > REASON_CHARS or "\n" in entry.reason or "\r" in entry.reason:
            entry.reason = clip(" ".join(entry.reason.split()), REASON_CHARS)
        size += len(entry.reason)
    for name in ("prompt", "answer"):
        value = getattr(entry, name)
        if value is not None:
            if len(value) > TEXT_CHARS:
                value = clip(value, TEXT_CHARS)
                setattr(entry, name, value)
            size += len(value)
    if entry.dropped_tools:
        entry.dropped_tools = [clip(name) for name in entry.dropped_tools[:MAX_DROPPED_TOOLS]]
        size += sum(len(name) + 4 for name in entry.dropped_tools)
    if entry.attempts:
        if len(entry.attempts) > MAX_ATTEMPTS:
            entry.attempts = entry.attempts[:MAX_ATTEMPTS]
        for attempt in entry.attempts:
            for key, value in attempt.items():
                if len(value) > FIELD_CHARS:
                    attempt[key] = value = clip(value)
                size += len(value) + 20
    return size


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


EMPTY_STATS: dict[str, Any] = HostStats().summary(0.0)


class RequestLog:
    """The ring of recent entries, the per-host statistics, and who hears of a new entry."""

    def __init__(self, size: int = 500, *, clock: Callable[[], float] = time.time, max_bytes: int = MAX_LOG_BYTES):
        self._entries: deque[RequestEntry] = deque(maxlen=size)
        self._sizes: deque[int] = deque(maxlen=size)  # what each entry counts against max_bytes
        self._bytes = 0
        self._max_bytes = max_bytes
        self._hosts: dict[str, HostStats] = {}
        self._clock = clock
        self._listeners: list[Callable[[RequestEntry], None]] = []

    def add_listener(self, listener: Callable[[RequestEntry], None]) -> None:
        self._listeners.append(listener)

    def add(self, entry: RequestEntry) -> None:
        size = bound(entry)
        if len(self._entries) == self._entries.maxlen:
            self._bytes -= self._sizes[0]  # the append below drops the oldest
        self._entries.append(entry)
        self._sizes.append(size)
        self._bytes += size
        while self._bytes > self._max_bytes and len(self._entries) > 1:
            self._entries.popleft()
            self._bytes -= self._sizes.popleft()
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
