"""Which hosts exist, where each came from, and the operator's changes to the set.

Hosts come from the settings (``ATMOSPHERE_OLLAMA_URL`` / ``ATMOSPHERE_LLAMAFARM_URL``) and
from the dashboard (``POST /v1/integrations``). Those added, and the order the operator
chose, persist in ``<state_dir>/hosts.json``; enable/disable stays in the registry's own
file. Only URLs the operator entered are ever contacted: nothing here discovers hosts.

The order itself lives in the registry (it is the routing priority); this module only
saves it once the operator has chosen one. Arguments arrive typed: the face checks the
HTTP input, this module checks what it means (a free id, a known host).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from atmosphere import jsonfast
from atmosphere.errors import InvalidRequest, NotFound, StateNotSaved
from atmosphere.host_policy import HostRules, Network, network_of
from atmosphere.ports import Backend
from atmosphere.state import files
from atmosphere.state.hostlist import HostSpec, check_id, new_host
from atmosphere.state.registry import Registry

log = logging.getLogger("atmosphere.hosts")

BuildBackend = Callable[[HostSpec], Backend]


class Hosts:
    """The hosts and their registry, built together: the registry starts in the saved order."""

    def __init__(
        self,
        configured: list[HostSpec],
        *,
        state_dir: Path,
        build: BuildBackend,
        probe_timeout: float,
        health_interval: float,
        rules: HostRules = HostRules(),  # noqa: B008 - frozen
    ):
        self._file = state_dir / "hosts.json"
        self.rules = rules
        self._build = build
        self._lock = asyncio.Lock()
        added, order = self._load()
        self._ordered = bool(order)  # the operator chose an order (else kinds keep theirs as hosts come and go)
        self.specs: dict[str, HostSpec] = {spec.id: spec for spec in configured}
        for spec in added:
            if spec.id in self.specs:
                log.warning("ignoring saved integration %r: the settings name one with that id", spec.id)
                continue
            if len(self.specs) >= rules.max_hosts:
                log.warning(
                    "ignoring saved integration %r in %s: more integrations than ATMOSPHERE_MAX_HOSTS", spec.id, self._file
                )
                continue
            self.specs[spec.id] = spec
        self.registry = Registry(
            self._backends(order), state_dir=state_dir, probe_timeout=probe_timeout, health_interval=health_interval
        )

    def _backends(self, order: list[str]) -> list[Backend]:
        """One backend per host: LlamaFarm hosts first, then Ollama, added ones after their kind;
        the saved order, where there is one, before all that."""
        specs = sorted(self.specs.values(), key=lambda s: 0 if s.kind == "llamafarm" else 1)
        rank = {host_id: position for position, host_id in enumerate(order)}
        specs.sort(key=lambda s: rank.get(s.id, len(rank)))  # stable: unnamed hosts keep their places
        return [self._build(spec) for spec in specs]

    def removable(self, host_id: str) -> bool:
        """Hosts added from the dashboard may be removed there; those from the settings may not."""
        spec = self.specs.get(host_id)
        return spec is not None and spec.removable

    def network(self, host_id: str) -> Network | None:
        """Which network the host is on (loopback, private, public), for its card."""
        spec = self.specs.get(host_id)
        return network_of(spec.url) if spec is not None else None

    # --- the operator's changes ------------------------------------------------------

    async def add(self, kind: str, name: str, url: str, runtime_url: str | None) -> str:
        """A new host, saved, then probed; its id. HostListError: the input is malformed (or the
        host URL policy refuses it); TooManyHosts: there are ``rules.max_hosts`` already."""
        async with self._lock:
            self.rules.check_room(len(self.specs))
            spec = new_host(kind, name, url, runtime_url, set(self.specs), self.rules.allow)
            self.specs[spec.id] = spec
            try:
                await self._save()
            except BaseException:
                del self.specs[spec.id]
                raise
            self.registry.add(self._build(spec))
        log.info("added %s at %s", spec.id, spec.url)
        return spec.id

    async def remove(self, host_id: str) -> None:
        spec = self.specs.get(host_id)
        if spec is None or self.registry.get(host_id) is None:
            raise NotFound(f"No integration with id '{host_id}'.", param="integration_id")
        if not spec.removable:
            raise InvalidRequest(
                f"'{host_id}' comes from the settings (ATMOSPHERE_{spec.kind.upper()}_URL); remove it there, or disable it.",
                param="integration_id",
            )
        async with self._lock:
            del self.specs[host_id]
            try:
                await self._save()
            except BaseException:
                self.specs[host_id] = spec
                raise
            backend = self.registry.remove(host_id)
        await self.registry.forget(host_id)
        await backend.aclose()
        log.info("removed %s", host_id)

    async def reorder(self, order: list[str]) -> None:
        """The named hosts first, in that order, saved before routing changes."""
        unknown = [i for i in order if self.registry.get(i) is None]
        if unknown:
            raise InvalidRequest(f"Unknown integration id(s): {', '.join(unknown)}.", param="order")
        if len(set(order)) != len(order):
            raise InvalidRequest("'order' names an integration twice.", param="order")
        async with self._lock:
            ordered = self._ordered
            self._ordered = True
            try:
                await self._save(self.registry.reordered(order))
            except BaseException:
                self._ordered = ordered
                raise
            self.registry.reorder(order)

    # --- persistence -----------------------------------------------------------------

    def _load(self) -> tuple[list[HostSpec], list[str]]:
        """The added hosts and the saved order; whatever in the file is malformed is warned about and skipped."""
        document = files.read_document(self._file, jsonfast.loads)
        added = files.list_field(self._file, document, "added")
        saved = ((f"saved integration {files.shown(i)}", i) for i in added)
        specs = files.valid_entries(self._file, saved, lambda i: HostSpec.from_saved(i, self.rules.allow))
        order = files.list_field(self._file, document, "order")
        return specs, files.valid_entries(self._file, ((f"order entry {files.shown(i)}", i) for i in order), check_id)

    async def _save(self, order: list[str] | None = None) -> None:
        if order is None:
            order = [b.id for b in self.registry.backends]
        doc = {"added": [s.to_saved() for s in self.specs.values() if s.removable], "order": order if self._ordered else []}
        try:
            await files.save(self._file, jsonfast.dumps(doc))
        except OSError as exc:
            reason = exc.strerror or exc
            raise StateNotSaved(f"Could not save the integrations to {self._file}: {reason}. Nothing was changed.") from None
