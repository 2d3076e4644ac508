"""Steps of the executor's plan that concern a fleet: candidates, pools and equivalents.

A *candidate* is one host with the native model it would be called with. The plan lists
them in priority order; ``pools`` cuts that list where the priority changes (or where
candidates start being substitutes), and the balancer orders each pool.
"""

from __future__ import annotations

from dataclasses import dataclass

from atmosphere.ports import Backend
from atmosphere.router.equivalents import Equivalents


@dataclass(slots=True)
class Candidate:
    backend: Backend
    native: str
    priority: int = 0
    loaded: bool = False  # the model is resident on this host (from the last probe)
    substituted: bool = False  # an equivalent of what the client named, not that model itself

    @property
    def host_id(self) -> str:
        return self.backend.id


def pools(candidates: list[Candidate]) -> list[list[Candidate]]:
    """Consecutive candidates of one priority (and of one kind of match) form a pool."""
    out: list[list[Candidate]] = []
    key: tuple[int, bool] | None = None
    for candidate in candidates:
        this = (candidate.priority, candidate.substituted)
        if this != key:
            out.append([])
            key = this
        out[-1].append(candidate)
    return out


def equivalent_natives(
    equivalents: Equivalents | None, model: str, backends: list[Backend]
) -> tuple[list[tuple[Backend, str]], bool] | None:
    """For a shared name: (backend, native) per member in priority order, and True.
    For a native name in some equivalents: the other members, and False. Else None."""
    if equivalents is None:
        return None
    shared = equivalents.get(model)
    if shared is not None:
        found = []
        for backend in backends:
            native = shared.native_for(backend.id, backend.type)
            resolved = backend.resolve_model(native) if native else None
            if resolved is not None:
                found.append((backend, resolved))
        return found, True
    groups = equivalents.containing(model)
    if not groups:
        return None
    found = []
    for group in groups:
        for backend in backends:
            native = group.native_for(backend.id, backend.type)
            resolved = backend.resolve_model(native) if native and native != model else None
            if resolved is not None and (backend, resolved) not in found:
                found.append((backend, resolved))
    return found, False
