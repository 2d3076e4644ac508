"""Mutable state shared by an emulator app and the test that drives it.

A test flips `fault` (or calls `set_fault`) while the server runs in another
thread; plain attribute writes are atomic under the GIL, so no locking.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import asdict, dataclass, field
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
        "unhealthy",  # LlamaFarm: its storage check fails, so `/health` says unhealthy; runtime: status unhealthy
        "html",  # LlamaFarm server: Designer catch-all for unknown paths
    }
)


class UnknownFault(ValueError):
    """Raised when a fault name is not one of `FAULTS` (or a setting is not in `SETTINGS`)."""


# Scalar knobs a test or a process-mode caller may set by name, with their type.
SETTINGS: dict[str, type] = {
    "ollama_version": str,
    "with_capabilities": bool,
    "wrong_method_status": int,
    "legacy_not_found": bool,
    "llamafarm_version": str,
    "lf_ollama_url": str,
    "lf_runtime_url": str,
    "health_delay": float,
    "chat_failure_delay": float,
    "missing_project_status": int,
    "length_loop": bool,
    "finish_usage": bool,
    "answer_delay": float,  # Ollama: seconds each chat/generate takes (a fleet's hosts in the bench)
}
_NULLABLE = frozenset({"lf_ollama_url", "lf_runtime_url"})


@dataclass(slots=True)
class RecordedRequest:
    """What the emulator received, so tests can assert what the gateway sent."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    json: Any = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalize_model(name: str) -> str:
    """Ollama treats a missing tag as `:latest`."""
    tail = name.rsplit("/", 1)[-1]
    return name if ":" in tail else f"{name}:latest"


@dataclass
class EmulatorState:
    """Fault knobs, catalogues and the request log of one emulator."""

    fault: str = "none"
    delay: float = 0.0
    answer_delay: float = 0.0  # Ollama: seconds a chat/generate "thinks" before answering (the bench's hosts)
    active: int = 0  # Ollama: completions being answered right now
    peak_active: int = 0  # the most at once (the bench checks a gateway's per-host limit held)
    chunk_delay: float = 0.0
    cut_after: int = 2
    # --- Ollama -------------------------------------------------------------------
    ollama_version: str = "0.12.3"
    with_capabilities: bool = True  # False: the 0.5.4 shape (no `capabilities` anywhere)
    wrong_method_status: int = 405  # 0.5.4 answered 404 to a wrong method on a known path
    legacy_not_found: bool = False  # 0.5.4/0.9.3 wording: `model "x" not found, try pulling it first`
    models: list[OllamaModel] = field(default_factory=default_ollama_models)
    show_calls: Counter[str] = field(default_factory=Counter)  # /api/show requests per model name
    # --- LlamaFarm server ----------------------------------------------------------
    llamafarm_version: str = "0.0.27"  # real servers may say `main`, a branch name or `dev`
    projects: list[Project] = field(default_factory=default_projects)
    # What the server itself uses (its settings `ollama_host` and the runtime's address).
    # `/health` really checks them, and chat with a model whose provider's host does not
    # answer fails as LlamaFarm 0.0.27 fails. None: not wired, assumed up, never contacted.
    lf_ollama_url: str | None = None
    lf_runtime_url: str | None = None
    health_delay: float = 0.0  # the real `/health` takes ~1.2 s (its RAG check); liveness stays fast
    chat_failure_delay: float = 0.0  # the real 500 for a dead provider came after ~1.6 s
    missing_project_status: int = 404  # chat to a missing project: 0.0.27 says 422 ProjectConfigError
    length_loop: bool = True  # 0.0.27's stream repeats a `length` generation ten times
    finish_usage: bool = True  # 0.0.27: an `ollama` provider's finish chunk carries usage
    hf_cache: list[CachedModel] | None = field(default_factory=default_hf_cache)  # None: no cache dir
    sessions: dict[str, int] = field(default_factory=dict)  # session id -> prompt words kept
    # --- Universal Runtime ----------------------------------------------------------
    runtime_models: list[str] = field(default_factory=default_runtime_models)  # loadable ids
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
        self.show_calls.clear()
        self.sessions.clear()

    def snapshot(self) -> dict[str, Any]:
        """The knobs as JSON, echoed by the control endpoints."""
        return {
            "fault": self.fault,
            "delay": self.delay,
            "chunk_delay": self.chunk_delay,
            "cut_after": self.cut_after,
            "with_capabilities": self.with_capabilities,
            "requests_recorded": len(self.requests),
            "settings": {name: getattr(self, name) for name in SETTINGS},
        }

    def apply_settings(self, values: dict[str, Any]) -> None:
        """Set knobs by name (the `/_emulator/settings` control and the CLI flags)."""
        for name, value in values.items():
            kind = SETTINGS.get(name)
            if kind is None:
                raise UnknownFault(f"unknown setting {name!r}; expected one of {sorted(SETTINGS)}")
            if value is None:
                if name not in _NULLABLE:
                    raise UnknownFault(f"setting {name!r} cannot be null")
            elif isinstance(value, bool) != (kind is bool) or not isinstance(value, (int, float) if kind is float else kind):
                raise UnknownFault(f"setting {name!r} wants {kind.__name__}, got {value!r}")
            setattr(self, name, float(value) if kind is float and value is not None else value)

    def find_model(self, name: str) -> OllamaModel | None:
        """Look an Ollama model up by name, `:latest` implied."""
        wanted = normalize_model(name)
        for model in self.models:
            if model.name == wanted:
                return model
        return None

    def find_project(self, namespace: str, name: str, home: str) -> Project | None:
        """The project `namespace/name`; projects without a namespace live in `home`."""
        for project in self.projects:
            if project.name == name and (project.namespace or home) == namespace:
                return project
        return None

    def recorded(self, path: str | None = None) -> list[RecordedRequest]:
        """Recorded requests, optionally only those for one path."""
        items = list(self.requests)
        return items if path is None else [r for r in items if r.path == path]
