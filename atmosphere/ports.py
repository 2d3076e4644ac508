"""The port the router needs: what it asks of a backend adapter.

An adapter (``atmosphere.adapters``) implements ``Backend``; the registry and the
executor only ever see this protocol, never a concrete adapter.

Contract for every call: a failure leaves as ``BackendFailure`` (``retryable`` when
another backend may do better). Streams produce their first chunk only once the backend
has really started answering (so a failure before it can still fall back), and stop
after the chunk that carries a ``finish_reason`` (plus a usage chunk when asked).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from atmosphere import domain


class Backend(Protocol):
    """One integration: a backend host the router can send work to."""

    id: str  # stable integration id ("llamafarm", "ollama", "ollama-gpu-box-11434")
    name: str  # shown to people ("Ollama")
    type: str  # the dialect: "llamafarm" | "ollama"
    url: str
    warmup_supported: bool  # whether ``warm`` can load a model now (learnt by the probe on LlamaFarm)

    async def probe(self) -> domain.ProbeResult: ...

    def resolve_model(self, model: str) -> str | None:
        """The native model name for a requested ``model``, or None when this backend does not serve it."""
        ...

    def describe(self, result: domain.ProbeResult | None) -> dict[str, Any]:
        """Dialect-specific fields for this integration's snapshot (e.g. LlamaFarm's projects)."""
        ...

    async def chat(self, req: domain.ChatRequest, model: str) -> domain.ChatCompletion: ...

    def chat_stream(self, req: domain.ChatRequest, model: str) -> AsyncIterator[domain.ChatChunk]: ...

    async def generate(self, req: domain.GenerateRequest, model: str) -> domain.ChatCompletion: ...

    def generate_stream(self, req: domain.GenerateRequest, model: str) -> AsyncIterator[domain.ChatChunk]: ...

    async def embed(self, req: domain.EmbedRequest, model: str) -> domain.Embeddings: ...

    # --- residency: what is held in memory, loaded and unloaded on request ------------------
    # Reached only through ``router.residency``: the dashboard's Warm button and the Ollama
    # face's keep_alive calls are one action.

    async def warm(self, model: str, keep_alive: str | float | None = None) -> None:
        """Load native ``model`` into memory now (for ``keep_alive``, where the backend honours one)."""
        ...

    async def unload(self, model: str) -> None:
        """Drop native ``model`` from memory now; nothing to do when it is not loaded. A backend
        that cannot be told to raises a non-retryable ``BackendFailure`` saying so."""
        ...

    async def running(self) -> list[domain.Resident]:
        """The models resident now, as the backend reports them (an empty list when it cannot say)."""
        ...

    async def model_sheet(self, model: str) -> domain.ModelSheet | None:
        """What the backend says about native ``model`` beyond its listing; None when it says nothing more."""
        ...

    async def aclose(self) -> None: ...
