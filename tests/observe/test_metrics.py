"""The Prometheus metrics (observe/metrics.py) on their own: what a scrape says after requests the
test makes up, bounded labels, and the per-host gauges read at scrape time. (Through the running
gateway: test_fleet_observability.py.)"""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from atmosphere.observe.metrics import LABEL_CHARS, MAX_MODEL_LABELS, OTHER, BoundedLabels, HostGauge, Metrics
from atmosphere.observe.requestlog import RequestEntry


def entry(**fields: Any) -> RequestEntry:
    values: dict[str, Any] = {
        "id": "req_1",
        "time": 0.0,
        "surface": "openai.chat",
        "requested_model": "llama3.2",
        "backend": "ollama",
        "model": "llama3.2:latest",
        "substituted": False,
        "attempts": [],
        "status": 200,
        "outcome": "ok",
        "added_ms": 2.0,
        "upstream_ms": 300.0,
        "ttft_ms": None,
        "tokens_in": 5,
        "tokens_out": 7,
        "stream": False,
        "client": "127.0.0.1",
    }
    values.update(fields)
    return RequestEntry(**values)


def scrape(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and sorted labels."""
    text = metrics.render().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_served_request_counts_once_with_its_tokens_and_latencies() -> None:
    metrics = Metrics()
    metrics.observe(entry())
    metrics.observe(entry(tokens_in=1, tokens_out=2))
    samples = scrape(metrics)
    labels = (("backend", "ollama"), ("model", "llama3.2:latest"), ("outcome", "ok"), ("surface", "openai.chat"))
    assert samples[("atmosphere_requests_total", labels)] == 2
    tokens = (("backend", "ollama"), ("model", "llama3.2:latest"))
    assert samples[("atmosphere_tokens_in_total", tokens)] == 6 and samples[("atmosphere_tokens_out_total", tokens)] == 9
    assert samples[("atmosphere_upstream_latency_seconds_sum", (("backend", "ollama"),))] == 0.6
    assert samples[("atmosphere_added_latency_seconds_count", (("surface", "openai.chat"),))] == 2
    assert samples[("atmosphere_key_requests_total", (("key", "local"), ("status", "2xx")))] == 2
    assert samples[("atmosphere_key_tokens_total", (("key", "local"),))] == 15


def test_a_refused_request_counts_under_no_backend_and_touches_no_backend_series() -> None:
    metrics = Metrics()
    metrics.observe(
        entry(
            backend=None,
            model=None,
            status=401,
            outcome="refused",
            upstream_ms=None,
            tokens_in=None,
            tokens_out=None,
            key="admin",
        )
    )
    samples = scrape(metrics)
    labels = (("backend", "none"), ("model", "none"), ("outcome", "refused"), ("surface", "openai.chat"))
    assert samples[("atmosphere_requests_total", labels)] == 1
    assert samples[("atmosphere_key_requests_total", (("key", "admin"), ("status", "4xx")))] == 1
    assert not [name for name, _ in samples if name.startswith(("atmosphere_upstream_latency", "atmosphere_tokens_"))]


def test_each_backend_a_request_moved_on_from_is_a_fallback_and_a_skip_is_not() -> None:
    metrics = Metrics()
    attempts = [
        {"backend": "llamafarm", "reason": "HTTP 500", "kind": "error"},
        {"backend": "gpu", "reason": "not ready", "kind": "skipped"},
    ]
    metrics.observe(entry(attempts=attempts))
    metrics.breaker_tripped("llamafarm")
    samples = scrape(metrics)
    assert samples[("atmosphere_fallbacks_total", (("backend", "llamafarm"),))] == 1
    assert ("atmosphere_fallbacks_total", (("backend", "gpu"),)) not in samples
    assert samples[("atmosphere_breaker_trips_total", (("backend", "llamafarm"),))] == 1


def test_labels_are_bounded_a_later_value_is_other_and_a_long_one_is_cut() -> None:
    labels = BoundedLabels(2)
    assert (labels("a"), labels("b"), labels("c"), labels("a")) == ("a", "b", OTHER, "a")
    long = BoundedLabels(1)("m" * 1000)
    assert len(long) == LABEL_CHARS and long.startswith("m") and long.endswith("…[truncated]")
    metrics = Metrics()
    for n in range(MAX_MODEL_LABELS + 5):
        metrics.observe(entry(model=f"model-{n}"))
    models = {dict(labels)["model"] for name, labels in scrape(metrics) if name == "atmosphere_requests_total"}
    assert len(models) == MAX_MODEL_LABELS + 1 and OTHER in models


def test_host_gauges_are_read_at_scrape_time() -> None:
    hosts = [HostGauge("ollama", inflight=1, queue_depth=0, max_inflight=None, probe_latency_ms=None, status="healthy")]
    metrics = Metrics(lambda: hosts)
    assert scrape(metrics)[("atmosphere_host_inflight", (("backend", "ollama"),))] == 1
    hosts[0] = HostGauge("ollama", inflight=3, queue_depth=2, max_inflight=4, probe_latency_ms=25.0, status="degraded")
    samples = scrape(metrics)
    one = (("backend", "ollama"),)
    assert (samples[("atmosphere_host_inflight", one)], samples[("atmosphere_host_queue_depth", one)]) == (3, 2)
    assert samples[("atmosphere_host_max_inflight", one)] == 4 and samples[("atmosphere_probe_latency_seconds", one)] == 0.025
    assert samples[("atmosphere_host_status", (("backend", "ollama"), ("status", "degraded")))] == 1


def test_another_collector_is_read_by_the_scrape_whether_added_before_or_after_the_first() -> None:
    from prometheus_client.core import GaugeMetricFamily

    class Written:
        def __init__(self, name: str):
            self.name = name

        def collect(self) -> list[Any]:
            return [GaugeMetricFamily(self.name, "rows written", value=9)]

    metrics = Metrics()
    metrics.collect_also(Written("early_rows"))
    metrics.observe(entry())
    metrics.collect_also(Written("late_rows"))
    samples = scrape(metrics)
    assert samples[("early_rows", ())] == 9 and samples[("late_rows", ())] == 9


def test_two_apps_in_one_process_never_share_counters() -> None:
    one, two = Metrics(), Metrics()
    one.observe(entry())
    assert [name for name, _ in scrape(one) if name == "atmosphere_requests_total"] == ["atmosphere_requests_total"]
    assert not [name for name, _ in scrape(two) if name == "atmosphere_requests_total"]
