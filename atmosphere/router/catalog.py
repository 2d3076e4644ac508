"""The merged model catalogue (``/v1/models``): every model an enabled, healthy integration
serves, once, under the integration that would serve it (the first in priority order)."""

from __future__ import annotations

import time

from atmosphere.domain import CatalogModel
from atmosphere.registry import Registry


class Catalog:
    def __init__(self, registry: Registry):
        self.registry = registry
        # model id → when it first appeared, so ``created`` stays put across probes.
        self._first_seen: dict[str, int] = {}

    def models(self) -> list[CatalogModel]:
        registry = self.registry
        seen: set[str] = set()
        out: list[CatalogModel] = []
        for backend in registry.backends:
            result = registry.result(backend.id)
            if not registry.is_enabled(backend.id) or result is None or result.status != "healthy":
                continue
            for info in result.models:
                if info.id in seen:
                    continue  # the higher-priority integration serves a shared name
                seen.add(info.id)
                created = self._first_seen.setdefault(info.id, int(time.time()))
                out.append(CatalogModel(id=info.id, owned_by=backend.id, created=created, info=info))
        return out

    def model(self, model_id: str) -> CatalogModel | None:
        return next((m for m in self.models() if m.id == model_id), None)
