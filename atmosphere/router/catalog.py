"""The merged model catalogue (``/v1/models``): every model an enabled, healthy integration
serves, once, under the integration that would serve it (the first in priority order).

A model is listed under each id that reaches it (LlamaFarm's ``<project>/<model>`` and the
bare name while unique); cloud models only when cloud models are allowed."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from atmosphere.domain import CatalogModel, ModelSheet
from atmosphere.errors import BackendFailure
from atmosphere.router.equivalents import Equivalents
from atmosphere.router.readiness import ROUTABLE
from atmosphere.state.registry import Registry

log = logging.getLogger("atmosphere.catalog")


class Catalog:
    def __init__(self, registry: Registry, equivalents: Equivalents | None = None, *, allow_cloud: bool = False):
        self.registry = registry
        self.equivalents = equivalents
        self.allow_cloud = allow_cloud
        # model id → when it first appeared, so ``created`` stays put across probes.
        self._first_seen: dict[str, int] = {}

    def models(self) -> list[CatalogModel]:
        registry = self.registry
        seen: set[str] = set()
        out: list[CatalogModel] = []
        for backend in registry.backends:
            result = registry.result(backend.id)
            if not registry.is_enabled(backend.id) or result is None or result.status not in ROUTABLE:
                continue
            for info in result.models:
                if info.locality == "cloud" and not self.allow_cloud:
                    continue
                for model_id in (info.id, *info.aliases):
                    if model_id in seen:
                        continue  # the higher-priority integration serves a shared name
                    seen.add(model_id)
                    created = self._first_seen.setdefault(model_id, int(time.time()))
                    out.append(CatalogModel(model_id, backend.id, created, info, native=info.id))
        if self.equivalents is not None:
            out.extend(self._shared(seen, {m.id: m for m in out}))
        return out

    def _shared(self, seen: set[str], listed: dict[str, CatalogModel]) -> list[CatalogModel]:
        """Shared names (model equivalents) whose members some ready host lists, under the
        first such host in priority order, described by that member."""
        assert self.equivalents is not None
        registry = self.registry
        out = []
        for equivalent in self.equivalents.all():
            if equivalent.name in seen:
                continue  # a host lists a model of that very name: it is served as itself
            for backend in registry.backends:
                native = equivalent.native_for(backend.id, backend.type)
                member = listed.get(native) if native else None
                if member is not None and registry.is_enabled(backend.id):
                    created = self._first_seen.setdefault(equivalent.name, int(time.time()))
                    described = replace(member.info, id=equivalent.name)
                    out.append(CatalogModel(equivalent.name, backend.id, created, described, native=member.info.id))
                    break
        return out

    def lookup(self, name: str) -> str | None:
        """The name the router serves ``name`` under, read as an Ollama client means it: an
        untagged name is ``:latest``, and a name without a tag anywhere (a LlamaFarm alias, a
        models-file name) answers with the ``:latest`` such a client adds. None when no host
        (enabled or not) and no models-file entry knows any spelling of it.

        A dictionary look-up per host: no catalogue is built, so it costs nothing on the hot path."""
        for spelling in ollama_spellings(name):
            if self._known(spelling):
                return spelling
        return None

    def _known(self, name: str) -> bool:
        if any(backend.resolve_model(name) is not None for backend in self.registry.backends):
            return True
        return self.equivalents is not None and self.equivalents.get(name) is not None

    async def sheet(self, entry: CatalogModel) -> ModelSheet | None:
        """What the host serving ``entry`` says about it beyond the listing (Ollama's /api/show),
        under that host's own name for it; None when it says nothing more or cannot be asked."""
        backend = self.registry.get(entry.owned_by)
        if backend is None:
            return None
        try:
            return await backend.model_sheet(entry.native or entry.info.id)
        except BackendFailure as failure:
            log.warning("could not ask %s about %s: %s", backend.id, entry.id, failure.reason)
            return None

    def model(self, model_id: str) -> CatalogModel | None:
        """A model by the name a client would chat with: its id, or what a backend resolves
        the name to (an untagged Ollama name means ``:latest``), as chat resolves it."""
        models = {m.id: m for m in self.models()}
        if model_id in models:
            return models[model_id]
        for backend in self.registry.backends:
            native = backend.resolve_model(model_id)
            if native is not None and native in models:
                return models[native]
        return None


def ollama_spellings(name: str) -> tuple[str, ...]:
    """``name`` as given, then with the ``:latest`` an Ollama client means by no tag, then
    without the ``:latest`` it may have added to a name that has no tags."""
    tagged = name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"
    return tuple(dict.fromkeys((name, tagged, name.removesuffix(":latest"))))
