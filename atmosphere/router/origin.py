"""Where a request came from: the surface (client protocol), client address and session.

Set once per HTTP request by ``atmosphere.api.origin`` (from the path and headers), read by
the executor for the request log, the metrics and sticky sessions, so no face has to pass
it along or record anything itself.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(slots=True)
class Origin:
    surface: str = "internal"  # "openai.chat", "anthropic", "ollama.chat", ...
    client: str | None = None  # the caller's address
    session: str | None = None  # X-Atmosphere-Session
    started: float = field(default_factory=time.perf_counter)  # when the request arrived


_current: ContextVar[Origin | None] = ContextVar("atmosphere_origin", default=None)


def current() -> Origin:
    """The origin of the request being served (a fresh internal one outside HTTP)."""
    origin = _current.get()
    return origin if origin is not None else Origin()


def enter(origin: Origin) -> object:
    return _current.set(origin)


def leave(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
