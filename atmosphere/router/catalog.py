"""The merged model catalogue (``/v1/models``): every model an enabled, healthy integration
serves, once, under the integration that would serve it (the first in priority order).

A model is listed under each id that reaches it (LlamaFarm's ``<project>/<model>`` and the
bare name while unique); cloud models only when cloud models are allowed."""

from __future__ import annotations

import time
from dataclasses import replace

from atmosphere.domain import CatalogModel
from atmosphere.registry import Registry
from atmosphere.router.equivalents import Equivalents
from atmosphere.router.readiness import ROUTABLE


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
                    out.append(CatalogModel(id=model_id, owned_by=backend.id, created=created, info=info))
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
                    out.append(CatalogModel(equivalent.name, backend.id, created, replace(member.info, id=equivalent.name)))
                    break
        return out

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
