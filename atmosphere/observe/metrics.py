"""Prometheus metrics (``GET /metrics``), built with prometheus-client.

One ``CollectorRegistry`` per app, so tests and several apps in one process never share
counters. Counters and histograms are updated once per request by the recorder; per-host
gauges (in flight, queue depth, probe latency and status) are read from the balancer and
the registry at scrape time, so a request pays nothing for them.

Labels take only bounded values: the surface, the integration id, the *native* model that
served (what the backends list, never what a client typed) and the outcome. A backend
chooses what it lists, so that is bounded here too: the first ``MAX_MODEL_LABELS`` models
seen keep their names (each cut at ``LABEL_CHARS``), any later one counts as ``other``;
surfaces likewise past ``MAX_SURFACE_LABELS`` (one is a path when the origin middleware
does not know it), and client keys past ``MAX_KEY_LABELS`` (``local`` and ``admin`` among them).

prometheus-client (and the HTTP-server, WSGI and gzip modules its exposition imports, ~1 MB
of an idle gateway's RSS) loads at the first request recorded or the first scrape, not at
start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
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


@dataclass(slots=True)
class _Series:
    """The metric children one kind of request updates; the per-host ones only when a host served."""

    requests: Any
    added: Any
    upstream: Any
    ttft: Any
    tokens_in: Any
    tokens_out: Any


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


class _Families:
    """The registry and its metric families, made at first use (``Metrics._families``)."""

    def __init__(self, hosts: Callable[[], Iterable[HostGauge]], collectors: Iterable[Any]):
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry: CollectorRegistry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("atmosphere_requests", "Requests served", ["surface", "backend", "model", "outcome"], registry=r)
        self.added = Histogram(
            "atmosphere_added_latency_seconds",
            "Time Atmosphere itself added to a request",
            ["surface"],
            buckets=_ADDED_BUCKETS,
            registry=r,
        )
        self.upstream = Histogram(
            "atmosphere_upstream_latency_seconds",
            "Time the integration took to answer",
            ["backend"],
            buckets=_UPSTREAM_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "atmosphere_time_to_first_token_seconds",
            "Time to the first streamed token",
            ["backend"],
            buckets=_UPSTREAM_BUCKETS,
            registry=r,
        )
        self.tokens_in = Counter("atmosphere_tokens_in", "Prompt tokens", ["backend", "model"], registry=r)
        self.tokens_out = Counter("atmosphere_tokens_out", "Completion tokens", ["backend", "model"], registry=r)
        self.fallbacks = Counter(
            "atmosphere_fallbacks", "Times a request moved on from an integration that failed it", ["backend"], registry=r
        )
        self.breaker_trips = Counter(
            "atmosphere_breaker_trips", "Times an integration's circuit breaker opened", ["backend"], registry=r
        )
        self.key_requests = Counter(
            "atmosphere_key_requests", "Requests per client key, by status class (2xx, 4xx, 5xx)", ["key", "status"], registry=r
        )
        self.key_tokens = Counter("atmosphere_key_tokens", "Prompt and completion tokens per client key", ["key"], registry=r)
        self.registry.register(_Hosts(hosts))  # a Collector by its protocol (collect)
        for collector in collectors:
            self.registry.register(collector)


class Metrics:
    def __init__(self, hosts: Callable[[], Iterable[HostGauge]] = list):
        self._hosts = hosts
        self._made: _Families | None = None
        self._collectors: list[Any] = []
        self._children: dict[tuple[Any, ...], Any] = {}
        self._series: dict[tuple[str, str | None, str | None, str], _Series] = {}
        self._model_label = BoundedLabels(MAX_MODEL_LABELS)
        self._surface_label = BoundedLabels(MAX_SURFACE_LABELS)
        self._key_label = BoundedLabels(MAX_KEY_LABELS)

    @property
    def _families(self) -> _Families:
        made = self._made
        if made is None:
            made = self._made = _Families(self._hosts, self._collectors)
        return made

    def collect_also(self, collector: Any) -> None:
        """Have a scrape read ``collector`` too (an object with prometheus-client's ``collect``),
        without loading prometheus-client now."""
        if self._made is None:
            self._collectors.append(collector)
        else:
            self._made.registry.register(collector)

    @property
    def registry(self) -> CollectorRegistry:
        return self._families.registry

    def observe(self, entry: RequestEntry) -> None:
        series = self._series.get((entry.surface, entry.backend, entry.model, entry.outcome))
        if series is None:
            series = self._bind(entry.surface, entry.backend, entry.model, entry.outcome)
        series.requests.inc()
        if entry.added_ms is not None:
            series.added.observe(entry.added_ms / 1000)
        if series.upstream is not None:  # a backend served
            if entry.upstream_ms is not None:
                series.upstream.observe(entry.upstream_ms / 1000)
            if entry.ttft_ms is not None:
                series.ttft.observe(entry.ttft_ms / 1000)
            if entry.tokens_in:
                series.tokens_in.inc(entry.tokens_in)
            if entry.tokens_out:
                series.tokens_out.inc(entry.tokens_out)
        key = self._key_label(entry.key)
        families = self._families
        self._child(families.key_requests, key, f"{entry.status // 100}xx").inc()
        tokens = (entry.tokens_in or 0) + (entry.tokens_out or 0)
        if tokens:
            self._child(families.key_tokens, key).inc(tokens)
        for attempt in entry.attempts:
            if attempt.get("kind") != "skipped":
                self._child(families.fallbacks, attempt["backend"]).inc()

    def _bind(self, surface: str, backend: str | None, model: str | None, outcome: str) -> _Series:
        """The children one kind of request updates, bound once: ``labels()`` was most of a
        request's cost here. Remembered up to ``_MAX_SERIES`` kinds (the labels themselves are
        bounded, so that is every kind in practice)."""
        host = backend or "none"
        model_label = self._model_label(model or "none")
        surface_label = self._surface_label(surface)
        served = backend is not None
        f = self._families
        series = _Series(
            f.requests.labels(surface_label, host, model_label, outcome),
            f.added.labels(surface_label),
            f.upstream.labels(host) if served else None,
            f.ttft.labels(host) if served else None,
            f.tokens_in.labels(host, model_label) if served else None,
            f.tokens_out.labels(host, model_label) if served else None,
        )
        if len(self._series) < _MAX_SERIES:
            self._series[(surface, backend, model, outcome)] = series
        return series

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, remembered (bounded like the labels themselves)."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def breaker_tripped(self, backend: str) -> None:
        self._families.breaker_trips.labels(backend).inc()

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)
