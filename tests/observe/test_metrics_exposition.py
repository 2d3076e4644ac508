"""/metrics says, sample for sample, what prometheus-client's own Counter and Histogram would say
for the same requests: the recorder keeps plain numbers (observe/metrics.py), a scrape writes them."""

from __future__ import annotations

import re
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from atmosphere.observe.metrics import _ADDED_BUCKETS, _UPSTREAM_BUCKETS, Metrics
from atmosphere.observe.requestlog import RequestEntry

_CREATED = re.compile(r"^(\S+_created\{[^}]*\}) \S+$", re.MULTILINE)


def _entry(**fields: Any) -> RequestEntry:
    values: dict[str, Any] = {
        "id": "req_1",
        "time": 0.0,
        "surface": "openai.chat",
        "requested_model": "m",
        "backend": "ollama",
        "model": "qwen2.5:0.5b",
        "substituted": False,
        "attempts": [],
        "status": 200,
        "outcome": "ok",
        "added_ms": 0.7,
        "upstream_ms": 120.0,
        "ttft_ms": None,
        "tokens_in": 12,
        "tokens_out": 30,
        "stream": False,
        "client": "127.0.0.1",
    }
    return RequestEntry(**{**values, **fields})


# Every branch of observe: a plain answer, a stream with its first token, a fallback, a failure no
# host served, another key, values on bucket bounds and past the last one.
REQUESTS = [
    _entry(),
    _entry(added_ms=0.5, upstream_ms=250.0, ttft_ms=50.0, stream=True, key="alice", tokens_in=None),
    _entry(surface="anthropic.messages", attempts=[{"backend": "llamafarm", "reason": "x", "kind": "error"}], outcome="fallback"),
    _entry(attempts=[{"backend": "llamafarm", "reason": "off", "kind": "skipped"}], added_ms=2000.0, upstream_ms=999_000.0),
    _entry(backend=None, model=None, status=503, outcome="error", upstream_ms=None, tokens_in=None, tokens_out=None),
    _entry(key="alice", status=429, outcome="error", backend=None, model=None, added_ms=None, upstream_ms=None),
]


def _reference() -> bytes:
    """The same requests counted by prometheus-client's own metric types."""
    r = CollectorRegistry(auto_describe=True)
    requests = Counter("atmosphere_requests", "Requests served", ["surface", "backend", "model", "outcome"], registry=r)
    added = Histogram(
        "atmosphere_added_latency_seconds",
        "Time Atmosphere itself added to a request",
        ["surface"],
        buckets=_ADDED_BUCKETS,
        registry=r,
    )
    upstream = Histogram(
        "atmosphere_upstream_latency_seconds",
        "Time the integration took to answer",
        ["backend"],
        buckets=_UPSTREAM_BUCKETS,
        registry=r,
    )
    ttft = Histogram(
        "atmosphere_time_to_first_token_seconds",
        "Time to the first streamed token",
        ["backend"],
        buckets=_UPSTREAM_BUCKETS,
        registry=r,
    )
    tokens_in = Counter("atmosphere_tokens_in", "Prompt tokens", ["backend", "model"], registry=r)
    tokens_out = Counter("atmosphere_tokens_out", "Completion tokens", ["backend", "model"], registry=r)
    fallbacks = Counter(
        "atmosphere_fallbacks", "Times a request moved on from an integration that failed it", ["backend"], registry=r
    )
    trips = Counter("atmosphere_breaker_trips", "Times an integration's circuit breaker opened", ["backend"], registry=r)
    key_requests = Counter(
        "atmosphere_key_requests", "Requests per client key, by status class (2xx, 4xx, 5xx)", ["key", "status"], registry=r
    )
    key_tokens = Counter("atmosphere_key_tokens", "Prompt and completion tokens per client key", ["key"], registry=r)
    for e in REQUESTS:
        host, model = e.backend or "none", e.model or "none"
        requests.labels(e.surface, host, model, e.outcome).inc()
        if e.added_ms is not None:
            added.labels(e.surface).observe(e.added_ms / 1000)
        if e.backend is not None:
            upstream.labels(host)  # bound when a host served, observed when timed
            ttft.labels(host)
            tokens_in.labels(host, model)
            tokens_out.labels(host, model)
            if e.upstream_ms is not None:
                upstream.labels(host).observe(e.upstream_ms / 1000)
            if e.ttft_ms is not None:
                ttft.labels(host).observe(e.ttft_ms / 1000)
            if e.tokens_in:
                tokens_in.labels(host, model).inc(e.tokens_in)
            if e.tokens_out:
                tokens_out.labels(host, model).inc(e.tokens_out)
        key_requests.labels(e.key, f"{e.status // 100}xx").inc()
        if tokens := (e.tokens_in or 0) + (e.tokens_out or 0):
            key_tokens.labels(e.key).inc(tokens)
        for attempt in e.attempts:
            if attempt["kind"] != "skipped":
                fallbacks.labels(attempt["backend"]).inc()
    trips.labels("llamafarm").inc()
    return generate_latest(r)


def test_a_scrape_reads_what_prometheus_clients_own_counters_and_histograms_would():
    metrics = Metrics()
    for e in REQUESTS:
        metrics.observe(e)
    metrics.breaker_tripped("llamafarm")

    ours = metrics.render().decode()
    theirs = _reference().decode()

    assert _CREATED.findall(ours) == _CREATED.findall(theirs)  # the same series, each with its creation time
    without_times = _CREATED.sub(r"\1 <t>", ours)
    assert without_times.split("# HELP atmosphere_host_inflight")[0] == _CREATED.sub(r"\1 <t>", theirs)
    assert 'atmosphere_added_latency_seconds_bucket{le="0.0005",surface="openai.chat"} 1.0' in ours  # 0.5 ms: le, inclusive
    assert 'atmosphere_upstream_latency_seconds_bucket{backend="ollama",le="+Inf"} 4.0' in ours
