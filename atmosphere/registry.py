"""The registry owns backend state: health, models and enabled, and publishes changes.

Everything that changes about a backend changes here; the WebSocket layer listens,
the executor reads. Nobody else probes or polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from atmosphere import jsonfast
from atmosphere.domain import ProbeResult
from atmosphere.errors import StateNotSaved
from atmosphere.hosts import check_id
from atmosphere.ports import Backend
from atmosphere.state import files
from atmosphere.timing import ms_since

log = logging.getLogger("atmosphere.registry")

Listener = Callable[[dict[str, Any]], None]
# Fields that change on every probe; a change in only these is not news.
_VOLATILE = ("latency_ms", "last_checked")


class Registry:
    """Holds one snapshot per backend, in routing priority order."""

    def __init__(self, backends: list[Backend], *, state_dir: Path, probe_timeout: float, health_interval: float):
        self.backends = backends
        self._by_id = {b.id: b for b in backends}
        self._state_file = state_dir / "integrations.json"
        self._probe_timeout = probe_timeout
        self._interval = health_interval
        self._results: dict[str, ProbeResult] = {}
        self._checked: dict[str, float] = {}
        self._snapshots: dict[str, dict[str, Any]] = {}
        self._disabled: frozenset[str] = frozenset(self._load_disabled())
        self._save_lock = asyncio.Lock()
        self._listeners: list[Listener] = []
        self._scan_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._monitor: asyncio.Task[None] | None = None
        # Fields that change with load, not probes (in flight, queue, stats; set by the fleet).
        self.live_fields: Callable[[str], dict[str, Any]] = lambda _id: {}
        self.after_probe: Callable[[Backend], None] = lambda _backend: None  # e.g. apply a reported limit
        self._priorities: dict[str, int] = _tiers(backends)
        for backend in backends:
            self._snapshots[backend.id] = self._snapshot(backend, None)

    # --- reading ---------------------------------------------------------------------

    def get(self, backend_id: str) -> Backend | None:
        return self._by_id.get(backend_id)

    def integrations(self) -> list[dict[str, Any]]:
        return [{**self._snapshots[b.id], **self.live_fields(b.id)} for b in self.backends]

    def integration(self, backend_id: str) -> dict[str, Any]:
        return {**self._snapshots[backend_id], **self.live_fields(backend_id)}

    def priority(self, backend_id: str) -> int:
        """Lower first. Consecutive hosts of one kind share a priority, so the balancer
        spreads work among them; the order itself is the operator's (``reorder``)."""
        return self._priorities.get(backend_id, 0)

    def is_enabled(self, backend_id: str) -> bool:
        return backend_id not in self._disabled

    def result(self, backend_id: str) -> ProbeResult | None:
        return self._results.get(backend_id)

    # --- listening -------------------------------------------------------------------

    def publish(self, backend_id: str) -> None:
        """Tell listeners about a change in a live field (e.g. a circuit breaker opened)."""
        if backend_id in self._snapshots:
            self._publish(self.integration(backend_id))

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _publish(self, snapshot: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            try:
                listener(snapshot)
            except Exception:  # noqa: BLE001 - one bad listener must not stop the others
                log.exception("registry listener failed")

    # --- scanning --------------------------------------------------------------------

    async def scan(self, *, fresh: bool = False) -> list[dict[str, Any]]:
        """Probe every backend concurrently; concurrent callers share one scan.

        ``fresh``: the answer comes from a scan that began after this call. A scan already
        running may predate a change the caller just made (a host added, a backend back),
        so it is waited out and a new one shared instead.
        """
        running = self._scan_task
        if fresh and running is not None and not running.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(running)
        if self._scan_task is None or self._scan_task.done():
            self._scan_task = asyncio.create_task(self._scan_all())
        await asyncio.shield(self._scan_task)
        return self.integrations()

    async def _scan_all(self) -> None:
        backends = list(self.backends)  # hosts may be added or removed while probes run
        results = await asyncio.gather(*(self._probe(b) for b in backends))
        checked = time.time()
        for backend, result in zip(backends, results, strict=True):
            if self._by_id.get(backend.id) is not backend:
                continue  # removed meanwhile
            self.after_probe(backend)
            self._results[backend.id] = result
            self._checked[backend.id] = checked
            self._update(backend, result)

    async def _probe(self, backend: Backend) -> ProbeResult:
        """One probe, bounded: whatever the backend does, this returns in about a probe timeout."""
        started = time.perf_counter()
        try:
            return await asyncio.wait_for(backend.probe(), self._probe_timeout + 0.05)
        except TimeoutError:
            return ProbeResult(
                status="offline",
                error=f"no answer within {self._probe_timeout:g}s",
                latency_ms=ms_since(started),
            )
        except Exception as exc:  # noqa: BLE001 - a probe bug must read as an error, not crash the monitor
            log.exception("probe of %s failed", backend.id)
            return ProbeResult(status="error", error=f"probe failed: {exc}")

    def _update(self, backend: Backend, result: ProbeResult | None) -> None:
        old = self._snapshots.get(backend.id)
        new = self._snapshot(backend, result)
        self._snapshots[backend.id] = new
        if old is None or _essential(old) != _essential(new):
            if old is not None and old["last_checked"] is not None and old["status"] != new["status"]:
                log.info("%s is now %s%s", backend.id, new["status"], f" ({new['error']})" if new["error"] else "")
            self._publish(new)

    def _snapshot(self, backend: Backend, result: ProbeResult | None) -> dict[str, Any]:
        # degraded: some models are not ready, the others serve
        healthy = result if result is not None and result.status in ("healthy", "degraded") else None
        snapshot: dict[str, Any] = {
            "id": backend.id,
            "name": backend.name,
            "type": backend.type,
            "url": backend.url,
            "status": result.status if result else "offline",
            "error": (result.error if result else "not probed yet"),
            "version": result.version if result else None,
            "models": [m.to_dict() for m in healthy.models] if healthy else [],
            "model_count": len(healthy.models) if healthy else 0,
            "capabilities": healthy.capabilities if healthy else [],
            "default_model": healthy.default_model if healthy else None,
            "latency_ms": result.latency_ms if result else None,
            "last_checked": self._checked.get(backend.id),
            "enabled": self.is_enabled(backend.id),
            "priority": self.priority(backend.id),
        }
        snapshot.update(backend.describe(result if healthy else None))
        snapshot.update(self.live_fields(backend.id))
        return snapshot

    # --- the fleet: hosts come and go, and their order is their priority --------------

    def add(self, backend: Backend) -> None:
        """A new host, after the last host of its kind; probed by the next scan (asked for now)."""
        after = max((i for i, b in enumerate(self.backends) if b.type == backend.type), default=len(self.backends) - 1)
        self.backends.insert(after + 1, backend)
        self._by_id[backend.id] = backend
        self._reprioritise()
        self._snapshots[backend.id] = self._snapshot(backend, None)
        self.request_scan()

    def remove(self, backend_id: str) -> Backend:
        backend = self._by_id.pop(backend_id)
        self.backends.remove(backend)
        for table in (self._results, self._checked, self._snapshots):
            table.pop(backend_id, None)
        self._reprioritise()
        return backend

    def reorder(self, ids: list[str]) -> None:
        """Put the named hosts first, in that order; hosts not named keep their order after them."""
        named = [self._by_id[i] for i in ids if i in self._by_id]
        self.backends[:] = named + [b for b in self.backends if b not in named]
        self._reprioritise()

    def _reprioritise(self) -> None:
        self._priorities = _tiers(self.backends)
        for backend in self.backends:
            self._snapshots[backend.id] = self._snapshot(backend, self._results.get(backend.id))

    def refresh(self, backend_id: str) -> None:
        """Re-describe a backend whose models changed between probes (e.g. one failed and is
        not ready until the next probe), publishing only if that changed its snapshot."""
        backend = self._by_id.get(backend_id)
        if backend is not None:
            self._update(backend, self._results.get(backend_id))

    def request_scan(self) -> None:
        """Ask the monitor for a scan now (e.g. a client pressed Rescan, or a request failed)."""
        self._wake.set()

    # --- enable / disable ------------------------------------------------------------

    async def set_enabled(self, backend_id: str, enabled: bool) -> dict[str, Any]:
        """Switch a backend on or off, on disk first: routing changes only once the choice is saved.

        Saves are serialised, so concurrent switches never race on the file and the last
        one saved is the one in memory. A save that fails raises StateNotSaved and
        leaves everything as it was.
        """
        # Shielded: a client that leaves mid-save must not leave the file saved and memory not.
        commit = asyncio.ensure_future(self._commit_enabled(backend_id, enabled))
        commit.add_done_callback(_retrieve_exception)
        await asyncio.shield(commit)
        self._update(self._by_id[backend_id], self._results.get(backend_id))
        return self._snapshots[backend_id]

    async def _commit_enabled(self, backend_id: str, enabled: bool) -> None:
        async with self._save_lock:
            disabled = self._disabled - {backend_id} if enabled else self._disabled | {backend_id}
            if disabled != self._disabled:
                await self._save_disabled(sorted(disabled))
                self._disabled = disabled

    async def forget(self, backend_id: str) -> None:
        """Drop the saved choice of a host that was removed, so adding it again starts enabled."""
        if backend_id not in self._disabled:
            return
        commit = asyncio.ensure_future(self._commit_enabled(backend_id, True))
        commit.add_done_callback(_retrieve_exception)
        try:
            await asyncio.shield(commit)
        except StateNotSaved as exc:  # the host is gone either way; only a re-add would notice
            log.warning("could not forget the choice for removed host %s: %s", backend_id, exc)

    def _load_disabled(self) -> set[str]:
        """The saved choices; an unreadable file or a malformed entry is a warning, not a crash."""
        document = files.read_document(self._state_file, jsonfast.loads)
        disabled = files.list_field(self._state_file, document, "disabled")
        entries = ((f"disabled entry {files.shown(d)}", d) for d in disabled)
        return {d for d in files.valid_entries(self._state_file, entries, check_id) if d in self._by_id}

    async def _save_disabled(self, disabled: list[str]) -> None:
        try:
            await files.save(self._state_file, jsonfast.dumps({"disabled": disabled}))
        except OSError as exc:
            log.error("could not save %s: %s", self._state_file, exc.strerror or exc)
            raise StateNotSaved(
                f"Could not save the integration state to {self._state_file}: {exc.strerror or exc}. Nothing was changed."
            ) from None

    # --- background monitor ----------------------------------------------------------

    def start(self) -> None:
        if self._monitor is None:
            self._monitor = asyncio.create_task(self._run_monitor(), name="atmosphere-monitor")

    async def _run_monitor(self) -> None:
        """Rescan every interval, or sooner when asked. The first scan is the caller's."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self.scan()  # each scan also publishes changed load and statistics
            except Exception:  # noqa: BLE001 - the monitor must outlive any one bad scan
                log.exception("scan failed")

    async def aclose(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        await asyncio.gather(*(b.aclose() for b in self.backends), return_exceptions=True)


def _tiers(backends: list[Backend]) -> dict[str, int]:
    """Priority per host: it grows by one wherever the kind changes along the order."""
    tiers: dict[str, int] = {}
    tier, kind = -1, None
    for backend in backends:
        if backend.type != kind:
            tier, kind = tier + 1, backend.type
        tiers[backend.id] = tier
    return tiers


def _retrieve_exception(task: asyncio.Future[None]) -> None:
    """Mark a shielded task's error as seen when its caller has already gone."""
    if not task.cancelled():
        task.exception()


def _essential(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snapshot.items() if k not in _VOLATILE}
