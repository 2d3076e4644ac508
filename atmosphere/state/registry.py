"""The registry owns what is known about each host: its probe, enabled, and its place in
the order (which is its priority), and tells listeners when any of it changes.

The executor reads it; the router's integration view (``router.integrations``) listens and
adds what changes with load. Nobody else probes or polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Protocol

from atmosphere import jsonfast
from atmosphere.domain import ProbeResult
from atmosphere.errors import StateNotSaved
from atmosphere.ports import Backend
from atmosphere.state import files
from atmosphere.state.hostlist import check_id
from atmosphere.tasks import cancel_and_wait
from atmosphere.timing import ms_since

log = logging.getLogger("atmosphere.registry")


class RegistryListener(Protocol):
    """What the registry tells. Called on the event loop; a listener must not block."""

    def host_changed(self, host_id: str) -> None:
        """A probe, an enable/disable or a refresh may have changed what is known about one host."""
        ...

    def hosts_changed(self) -> None:
        """Hosts were added, removed or reordered."""
        ...


class Registry:
    """What each host's last probe found, and the operator's choices, in routing priority order."""

    def __init__(self, backends: list[Backend], *, state_dir: Path, probe_timeout: float, health_interval: float):
        self.backends = backends
        self._by_id = {b.id: b for b in backends}
        self._state_file = state_dir / "integrations.json"
        self._probe_timeout = probe_timeout
        self._interval = health_interval
        self._results: dict[str, ProbeResult] = {}
        self._checked: dict[str, float] = {}
        self._disabled: frozenset[str] = frozenset(self._load_disabled())
        self._save_lock = asyncio.Lock()
        self._listeners: list[RegistryListener] = []
        self._scan_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._monitor: asyncio.Task[None] | None = None
        self._priorities: dict[str, int] = _tiers(backends)

    # --- reading ---------------------------------------------------------------------

    def get(self, backend_id: str) -> Backend | None:
        return self._by_id.get(backend_id)

    def priority(self, backend_id: str) -> int:
        """Lower first. Consecutive hosts of one kind share a priority, so the balancer
        spreads work among them; the order itself is the operator's (``reorder``)."""
        return self._priorities.get(backend_id, 0)

    def is_enabled(self, backend_id: str) -> bool:
        return backend_id not in self._disabled

    def result(self, backend_id: str) -> ProbeResult | None:
        return self._results.get(backend_id)

    def last_checked(self, backend_id: str) -> float | None:
        return self._checked.get(backend_id)

    # --- listening -------------------------------------------------------------------

    def add_listener(self, listener: RegistryListener) -> None:
        self._listeners.append(listener)

    def _tell(self, host_id: str | None = None) -> None:
        """``host_changed(host_id)``, or ``hosts_changed()`` without one, to every listener."""
        for listener in list(self._listeners):
            try:
                if host_id is None:
                    listener.hosts_changed()
                else:
                    listener.host_changed(host_id)
            except Exception:  # noqa: BLE001 - one bad listener must not stop the others
                log.exception("registry listener failed")

    # --- scanning --------------------------------------------------------------------

    async def scan(self, *, fresh: bool = False) -> None:
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

    async def _scan_all(self) -> None:
        backends = list(self.backends)  # hosts may be added or removed while probes run
        results = await asyncio.gather(*(self._probe(b) for b in backends))
        checked = time.time()
        for backend, result in zip(backends, results, strict=True):
            if self._by_id.get(backend.id) is not backend:
                continue  # removed meanwhile
            before = self._results.get(backend.id)
            self._results[backend.id] = result
            self._checked[backend.id] = checked
            if before is not None and before.status != result.status:
                log.info("%s is now %s%s", backend.id, result.status, f" ({result.error})" if result.error else "")
            self._tell(backend.id)

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

    # --- hosts come and go, and their order is their priority -------------------------

    def add(self, backend: Backend) -> None:
        """A new host, after the last host of its kind; probed by the next scan (asked for now)."""
        after = max((i for i, b in enumerate(self.backends) if b.type == backend.type), default=len(self.backends) - 1)
        self.backends.insert(after + 1, backend)
        self._by_id[backend.id] = backend
        self._reprioritise()
        self.request_scan()

    def remove(self, backend_id: str) -> Backend:
        backend = self._by_id.pop(backend_id)
        self.backends.remove(backend)
        for table in (self._results, self._checked):
            table.pop(backend_id, None)
        self._reprioritise()
        return backend

    def reordered(self, ids: list[str]) -> list[str]:
        """The order ``reorder(ids)`` would make: the named hosts first, in that order, then
        the others in their order."""
        named = [i for i in ids if i in self._by_id]
        return named + [b.id for b in self.backends if b.id not in named]

    def reorder(self, ids: list[str]) -> None:
        self.backends[:] = [self._by_id[i] for i in self.reordered(ids)]
        self._reprioritise()

    def _reprioritise(self) -> None:
        self._priorities = _tiers(self.backends)
        self._tell()

    def refresh(self, backend_id: str) -> None:
        """Tell listeners a host changed between probes (a model failed and is not ready until
        the next probe, a circuit breaker opened)."""
        if backend_id in self._by_id:
            self._tell(backend_id)

    def request_scan(self) -> None:
        """Ask the monitor for a scan now (e.g. a client pressed Rescan, or a request failed)."""
        self._wake.set()

    # --- enable / disable ------------------------------------------------------------

    async def set_enabled(self, backend_id: str, enabled: bool) -> None:
        """Switch a backend on or off, on disk first: routing changes only once the choice is saved.

        Saves are serialised, so concurrent switches never race on the file and the last
        one saved is the one in memory. A save that fails raises StateNotSaved and
        leaves everything as it was.
        """
        # Shielded: a client that leaves mid-save must not leave the file saved and memory not.
        commit = asyncio.ensure_future(self._commit_enabled(backend_id, enabled))
        commit.add_done_callback(_retrieve_exception)
        await asyncio.shield(commit)
        self._tell(backend_id)

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
            log.warning("could not forget the choice for removed integration %s: %s", backend_id, exc)

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
        await cancel_and_wait(self._monitor)
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
