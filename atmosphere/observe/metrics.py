"""Prometheus metrics (``GET /metrics``), built with prometheus-client.

One ``CollectorRegistry`` per app, so tests and several apps in one process never share
counters. Counters and histograms are updated once per request by the recorder, as plain
numbers (``_Tallies``) that a scrape turns into the samples prometheus-client's own Counter
and Histogram would give (tests/observe/test_metrics_exposition.py); per-host gauges (in flight,
queue depth, probe latency and status) are read from the balancer and the registry at scrape
time, so a request pays nothing for them.

Labels take only bounded values: the surface, the integration id, the *native* model that
served (what the backends list, never what a client typed) and the outcome. A backend
chooses what it lists, so that is bounded here too: the first ``MAX_MODEL_LABELS`` models
seen keep their names (each cut at ``LABEL_CHARS``), any later one counts as ``other``;
surfaces likewise past ``MAX_SURFACE_LABELS`` (one is a path when the origin middleware
does not know it), and client keys past ``MAX_KEY_LABELS`` (``local`` and ``admin`` among them).

prometheus-client (and the HTTP-server, WSGI and gzip modules its exposition imports, ~1 MB
of an idle gateway's RSS) loads at the first scrape, not at start-up nor for a request.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from atmosphere.observe.requestlog import RequestEntry, clip

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_ADDED_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_UPSTREAM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
MAX_MODEL_LABELS = 100  # distinct model label values; later ones are "other"
MAX_SURFACE_LABELS = 32
MAX_KEY_LABELS = 64  # client keys by name (an admin makes them, but there is no cap on how many)
LABEL_CHARS = 128
OTHER = "other"


class BoundedLabels:
    """The first ``limit`` distinct values keep their (clipped) names; later ones are ``other``."""

    def __init__(self, limit: int):
        self._limit = limit
        self._labels: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        label = self._labels.get(value)
        if label is None:
            if len(self._labels) >= self._limit:
                return OTHER
            label = self._labels[value] = clip(value, LABEL_CHARS)
        return label


_MAX_SERIES = 4096  # kinds of request (surface, host, model, outcome) with their children bound


class _Count:
    """One counter's value, a plain number until a scrape reads it."""

    __slots__ = ("value", "created")

    def __init__(self) -> None:
        self.value: float = 0
        self.created = time.time()

    def inc(self, amount: float = 1) -> None:
        self.value += amount


class _Observed:
    """One histogram's bucket counts (not cumulative: each value counts once) and sum."""

    __slots__ = ("bounds", "counts", "sum", "created")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds  # the buckets' upper bounds, +Inf last
        self.counts = [0] * len(bounds)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # the first bucket whose bound is >= value: "le"
        self.sum += value


class _Family:
    """A metric's children by label values; ``kind`` is "counter" or "histogram"."""

    __slots__ = ("name", "doc", "labels", "kind", "bounds", "children")

    def __init__(self, name: str, doc: str, labels: tuple[str, ...], bounds: tuple[float, ...] | None = None) -> None:
        self.name, self.doc, self.labels = name, doc, labels
        self.kind = "counter" if bounds is None else "histogram"
        self.bounds = (*bounds, math.inf) if bounds is not None else ()
        self.children: dict[tuple[str, ...], Any] = {}

    def child(self, *values: str) -> Any:
        child = self.children.get(values)
        if child is None:
            child = self.children[values] = _Count() if self.kind == "counter" else _Observed(self.bounds)
        return child

    def family(self) -> Metric:
        """The family as prometheus-client's exposition takes it: the samples its own Counter or
        Histogram would give for these counts (``_total`` / buckets, ``_count``, ``_sum``, ``_created``)."""
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
        from prometheus_client.samples import Sample
        from prometheus_client.utils import floatToGoString

        if self.kind == "counter":
            counters = CounterMetricFamily(self.name, self.doc, labels=self.labels)
            for values, count in self.children.items():
                counters.add_metric(values, count.value, created=count.created)
            return counters
        histograms = HistogramMetricFamily(self.name, self.doc, labels=self.labels)
        bounds = [floatToGoString(b) for b in self.bounds]  # type: ignore[no-untyped-call]
        for values, observed in self.children.items():
            cumulative = list(accumulate(observed.counts))
            histograms.add_metric(values, list(zip(bounds, cumulative, strict=True)), observed.sum)
            histograms.samples.append(
                Sample(self.name + "_created", dict(zip(self.labels, values, strict=True)), observed.created)
            )
        return histograms


class _Tallies:
    """The per-request counters and histograms, updated as plain numbers on the event loop and
    turned into metric families only when scraped: prometheus-client's own ``inc`` and
    ``observe`` take a lock each (nine a request) and were most of ``Metrics.observe``."""

    def __init__(self) -> None:
        f = _Family
        self.requests = f("atmosphere_requests", "Requests served", ("surface", "backend", "model", "outcome"))
        self.added = f(
            "atmosphere_added_latency_seconds", "Time Atmosphere itself added to a request", ("surface",), _ADDED_BUCKETS
        )
        self.upstream = f(
            "atmosphere_upstream_latency_seconds", "Time the integration took to answer", ("backend",), _UPSTREAM_BUCKETS
        )
        self.ttft = f(
            "atmosphere_time_to_first_token_seconds", "Time to the first streamed token", ("backend",), _UPSTREAM_BUCKETS
        )
        self.tokens_in = f("atmosphere_tokens_in", "Prompt tokens", ("backend", "model"))
        self.tokens_out = f("atmosphere_tokens_out", "Completion tokens", ("backend", "model"))
        self.fallbacks = f("atmosphere_fallbacks", "Times a request moved on from an integration that failed it", ("backend",))
        self.breaker_trips = f("atmosphere_breaker_trips", "Times an integration's circuit breaker opened", ("backend",))
        self.key_requests = f(
            "atmosphere_key_requests", "Requests per client key, by status class (2xx, 4xx, 5xx)", ("key", "status")
        )
        self.key_tokens = f("atmosphere_key_tokens", "Prompt and completion tokens per client key", ("key",))

    def collect(self) -> Iterable[Metric]:
        families = (self.requests, self.added, self.upstream, self.ttft, self.tokens_in, self.tokens_out)
        return [family.family() for family in (*families, self.fallbacks, self.breaker_trips, self.key_requests, self.key_tokens)]


@dataclass(slots=True)
class _Series:
    """The metric children one kind of request updates; the per-host ones only when a host served."""

    requests: _Count
    added: _Observed
    upstream: _Observed | None
    ttft: _Observed | None
    tokens_in: _Count | None
    tokens_out: _Count | None


@dataclass(slots=True)
class HostGauge:
    """What a scrape reads about one host."""

    host: str
    inflight: int
    queue_depth: int
    max_inflight: int | None  # None: no limit
    probe_latency_ms: float | None
    status: str


if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import Metric


class _Hosts:
    """A collector (prometheus-client's protocol: ``collect``) of the per-host gauges."""

    def __init__(self, read: Callable[[], Iterable[HostGauge]]):
        self._read = read

    def collect(self) -> Iterable[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        inflight = GaugeMetricFamily("atmosphere_host_inflight", "Requests in flight on an integration", labels=["backend"])
        queued = GaugeMetricFamily("atmosphere_host_queue_depth", "Requests waiting for an integration", labels=["backend"])
        limit = GaugeMetricFamily("atmosphere_host_max_inflight", "Concurrency limit of an integration", labels=["backend"])
        probe = GaugeMetricFamily("atmosphere_probe_latency_seconds", "Latency of the last probe", labels=["backend"])
        status = GaugeMetricFamily(
            "atmosphere_host_status", "1 for the integration's current status", labels=["backend", "status"]
        )
        for host in self._read():
            inflight.add_metric([host.host], host.inflight)
            queued.add_metric([host.host], host.queue_depth)
            if host.max_inflight is not None:
                limit.add_metric([host.host], host.max_inflight)
            if host.probe_latency_ms is not None:
                probe.add_metric([host.host], host.probe_latency_ms / 1000)
            status.add_metric([host.host, host.status], 1)
        return [inflight, queued, limit, probe, status]


def _registry(collectors: Iterable[Any]) -> CollectorRegistry:
    """prometheus-client's registry of ``collectors``, made at the first scrape."""
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=True)
    for collector in collectors:
        registry.register(collector)  # a Collector by its protocol (collect)
    return registry


class Metrics:
    def __init__(self, hosts: Callable[[], Iterable[HostGauge]] = list):
        self._tallies = _Tallies()
        self._collectors: list[Any] = [self._tallies, _Hosts(hosts)]
        self._registry: CollectorRegistry | None = None
        self._series: dict[tuple[str, str | None, str | None, str], _Series] = {}
        self._model_label = BoundedLabels(MAX_MODEL_LABELS)
        self._surface_label = BoundedLabels(MAX_SURFACE_LABELS)
        self._key_label = BoundedLabels(MAX_KEY_LABELS)

    def collect_also(self, collector: Any) -> None:
        """Have a scrape read ``collector`` too (an object with prometheus-client's ``collect``),
        without loading prometheus-client now."""
        if self._registry is None:
            self._collectors.append(collector)
        else:
            self._registry.register(collector)

    @property
    def registry(self) -> CollectorRegistry:
        if self._registry is None:
            self._registry = _registry(self._collectors)
        return self._registry

    def observe(self, entry: RequestEntry) -> None:
        series = self._series.get((entry.surface, entry.backend, entry.model, entry.outcome))
        if series is None:
            series = self._bind(entry.surface, entry.backend, entry.model, entry.outcome)
        series.requests.value += 1
        if entry.added_ms is not None:
            series.added.observe(entry.added_ms / 1000)
        if series.upstream is not None:  # a backend served
            if entry.upstream_ms is not None:
                series.upstream.observe(entry.upstream_ms / 1000)
            if entry.ttft_ms is not None and series.ttft is not None:
                series.ttft.observe(entry.ttft_ms / 1000)
            if entry.tokens_in and series.tokens_in is not None:
                series.tokens_in.value += entry.tokens_in
            if entry.tokens_out and series.tokens_out is not None:
                series.tokens_out.value += entry.tokens_out
        key = self._key_label(entry.key)
        tallies = self._tallies
        tallies.key_requests.child(key, f"{entry.status // 100}xx").value += 1
        tokens = (entry.tokens_in or 0) + (entry.tokens_out or 0)
        if tokens:
            tallies.key_tokens.child(key).value += tokens
        for attempt in entry.attempts:
            if attempt.get("kind") != "skipped":
                tallies.fallbacks.child(attempt["backend"]).value += 1

    def _bind(self, surface: str, backend: str | None, model: str | None, outcome: str) -> _Series:
        """The children one kind of request updates, looked up once per kind. Remembered up to
        ``_MAX_SERIES`` kinds (the labels themselves are bounded, so that is every kind in practice)."""
        host = backend or "none"
        model_label = self._model_label(model or "none")
        surface_label = self._surface_label(surface)
        served = backend is not None
        t = self._tallies
        series = _Series(
            t.requests.child(surface_label, host, model_label, outcome),
            t.added.child(surface_label),
            t.upstream.child(host) if served else None,
            t.ttft.child(host) if served else None,
            t.tokens_in.child(host, model_label) if served else None,
            t.tokens_out.child(host, model_label) if served else None,
        )
        if len(self._series) < _MAX_SERIES:
            self._series[(surface, backend, model, outcome)] = series
        return series

    def breaker_tripped(self, backend: str) -> None:
        self._tallies.breaker_trips.child(backend).inc()

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)
