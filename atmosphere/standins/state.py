"""Mutable state shared by an emulator app and the test that drives it.

A test flips `fault` (or calls `set_fault`) while the server runs in another
thread; plain attribute writes are atomic under the GIL, so no locking.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from atmosphere.standins.catalog import (
    CachedModel,
    OllamaModel,
    Project,
    default_hf_cache,
    default_ollama_models,
    default_projects,
    default_runtime_models,
)

FAULTS: frozenset[str] = frozenset(
    {
        "none",  # behave like a healthy backend
        "hang",  # accept the request, never answer
        "slow",  # sleep `delay` seconds before answering any route
        "error500",  # every route answers 500 with the backend's error body
        "malformed",  # every route answers 200 text/html `<html>garbage`
        "cut",  # streams close the connection after `cut_after` chunks
        "stream_error",  # Ollama: `{"error"}` line after `cut_after` chunks; others: cut
        "masked",  # LlamaFarm server: canned apology stream, 500 non-stream
        "unhealthy",  # LlamaFarm/runtime `/health` report unhealthy
        "html",  # LlamaFarm server: Designer catch-all for unknown paths
    }
)


class UnknownFault(ValueError):
    """Raised when a fault name is not one of `FAULTS`."""


@dataclass(slots=True)
class RecordedRequest:
    """What the emulator received, so tests can assert what the gateway sent."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    json: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "json": self.json,
        }


def normalize_model(name: str) -> str:
    """Ollama treats a missing tag as `:latest`."""
    tail = name.rsplit("/", 1)[-1]
    return name if ":" in tail else f"{name}:latest"


@dataclass
class EmulatorState:
    """Fault knobs, catalogues and the request log of one emulator."""

    fault: str = "none"
    delay: float = 0.0
    chunk_delay: float = 0.0
    cut_after: int = 2
    ollama_version: str = "0.12.3"
    llamafarm_version: str = "0.0.18"
    with_capabilities: bool = True
    models: list[OllamaModel] = field(default_factory=default_ollama_models)
    projects: list[Project] = field(default_factory=default_projects)
    hf_cache: list[CachedModel] = field(default_factory=default_hf_cache)
    runtime_models: list[str] = field(default_factory=default_runtime_models)
    loaded: dict[str, float] = field(default_factory=dict)
    requests: deque[RecordedRequest] = field(default_factory=lambda: deque(maxlen=200))

    def set_fault(
        self,
        fault: str,
        *,
        delay: float | None = None,
        chunk_delay: float | None = None,
        cut_after: int | None = None,
    ) -> None:
        """Switch fault mode; unspecified knobs keep their current values."""
        if fault not in FAULTS:
            raise UnknownFault(f"unknown fault {fault!r}; expected one of {sorted(FAULTS)}")
        if delay is not None:
            self.delay = float(delay)
        if chunk_delay is not None:
            self.chunk_delay = float(chunk_delay)
        if cut_after is not None:
            self.cut_after = int(cut_after)
        self.fault = fault

    def reset(self) -> None:
        """Back to a healthy backend with an empty request log (catalogues kept)."""
        self.fault = "none"
        self.delay = 0.0
        self.chunk_delay = 0.0
        self.cut_after = 2
        self.loaded.clear()
        self.requests.clear()

    def snapshot(self) -> dict[str, Any]:
        """The knobs as JSON, echoed by the control endpoints."""
        return {
            "fault": self.fault,
            "delay": self.delay,
            "chunk_delay": self.chunk_delay,
            "cut_after": self.cut_after,
            "with_capabilities": self.with_capabilities,
            "requests_recorded": len(self.requests),
        }

    def find_model(self, name: str) -> OllamaModel | None:
        """Look an Ollama model up by name, `:latest` implied."""
        wanted = normalize_model(name)
        for model in self.models:
            if model.name == wanted:
                return model
        return None

    def find_project(self, name: str) -> Project | None:
        for project in self.projects:
            if project.name == name:
                return project
        return None

    def recorded(self, path: str | None = None) -> list[RecordedRequest]:
        """Recorded requests, optionally only those for one path."""
        items = list(self.requests)
        return items if path is None else [r for r in items if r.path == path]
