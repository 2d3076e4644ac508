"""The usage writer on ``/metrics``: rows written and the writes they took, rows dropped (a full queue, a failed write, no
database), rows waiting, and whether recording works now. Read from the writer at scrape time,
so a request pays nothing for them; no labels, so nothing to bound.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from atmosphere.store.service import Store

if TYPE_CHECKING:
    from prometheus_client.core import Metric


class UsageCollector:
    """A collector by prometheus-client's protocol (``collect``): it loads at the first scrape."""

    def __init__(self, store: Store):
        self._store = store

    def collect(self) -> Iterable[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        writer = self._store.usage
        recording = self._store.recording()
        return [
            CounterMetricFamily("atmosphere_usage_rows_written", "Usage rows written to the history", value=writer.written),
            CounterMetricFamily(
                "atmosphere_usage_writes",
                "Transactions that wrote usage rows (rows per write: the batching)",
                value=writer.writes,
            ),
            CounterMetricFamily(
                "atmosphere_usage_rows_dropped",
                "Finished requests that never reached the usage history (queue full, write failed, no database)",
                value=writer.dropped,
            ),
            GaugeMetricFamily("atmosphere_usage_queue_depth", "Finished requests waiting to be written", value=writer.queued),
            GaugeMetricFamily("atmosphere_usage_recording", "1 while usage rows are being written", value=int(recording["ok"])),
        ]
