"""The recent-requests ring and per-host statistics, on their own."""

from __future__ import annotations

from atmosphere.observe.context import new_id
from atmosphere.observe.requestlog import RequestEntry, RequestLog


def entry(
    log: RequestLog, when: float, backend: str | None, outcome: str = "ok", upstream: float = 100.0, id: str | None = None
) -> RequestEntry:
    return RequestEntry(
        id=id or new_id(),
        time=when,
        surface="openai.chat",
        requested_model="m",
        backend=backend,
        model="m",
        substituted=False,
        attempts=[],
        status=200 if outcome != "error" else 503,
        outcome=outcome,  # type: ignore[arg-type]
        added_ms=1.0,
        upstream_ms=upstream,
        ttft_ms=None,
        tokens_in=1,
        tokens_out=2,
        stream=False,
        client="127.0.0.1",
    )


def test_the_log_keeps_only_the_last_entries_newest_first() -> None:
    log = RequestLog(size=3)
    added = [entry(log, 1000.0 + i, "ollama") for i in range(5)]
    for item in added:
        log.add(item)
    assert [e.id for e in log.query()] == [added[4].id, added[3].id, added[2].id]
    assert "prompt" not in log.query()[0].to_dict()


def test_a_host_card_shows_percentiles_rate_errors_and_a_fifteen_minute_sparkline() -> None:
    now = 60 * 1000 + 30.0
    log = RequestLog(clock=lambda: now)
    for ms in range(1, 101):
        log.add(entry(log, now - 60, "gpu", upstream=float(ms)))
    log.add(entry(log, now, "gpu", outcome="error"))
    stats = log.stats("gpu")
    assert stats["p50_ms"] == 51.0 and stats["p95_ms"] == 96.0
    assert stats["sparkline"][-2:] == [100, 1] and len(stats["sparkline"]) == 15
    assert 0 < stats["error_rate"] < 0.02 and stats["requests_per_minute"] > 0
    assert log.stats("idle")["sparkline"] == [0] * 15
    old = RequestLog(clock=lambda: now + 16 * 60)
    old.add(entry(old, now, "gpu"))
    assert old.stats("gpu")["sparkline"] == [0] * 15


def test_filters_find_requests_by_backend_model_and_outcome() -> None:
    log = RequestLog()
    log.add(entry(log, 1.0, "ollama", id="req-1"))
    log.add(entry(log, 2.0, None, outcome="error", id="req-2"))
    assert [e.id for e in log.query(outcome="error")] == ["req-2"]
    assert [e.id for e in log.query(backend="ollama")] == ["req-1"]
    assert log.query(model="other") == []
