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

from atmosphere.domain import (
    ChatChunk,
    ChatCompletion,
    ChatRequest,
    Embeddings,
    EmbedRequest,
    GenerateRequest,
    ProbeResult,
)


class Backend(Protocol):
    """One integration: a backend host the router can send work to."""

    id: str  # stable integration id ("llamafarm", "ollama", "ollama-gpu-box-11434")
    name: str  # shown to people ("Ollama")
    type: str  # the dialect: "llamafarm" | "ollama"
    url: str

    async def probe(self) -> ProbeResult: ...

    def resolve_model(self, model: str) -> str | None:
        """The native model name for a requested ``model``, or None when this backend does not serve it."""
        ...

    def describe(self, result: ProbeResult | None) -> dict[str, Any]:
        """Dialect-specific fields for this integration's snapshot (e.g. LlamaFarm's projects)."""
        ...

    async def chat(self, req: ChatRequest, model: str) -> ChatCompletion: ...

    def chat_stream(self, req: ChatRequest, model: str) -> AsyncIterator[ChatChunk]: ...

    async def generate(self, req: GenerateRequest, model: str) -> ChatCompletion: ...

    def generate_stream(self, req: GenerateRequest, model: str) -> AsyncIterator[ChatChunk]: ...

    async def embed(self, req: EmbedRequest, model: str) -> Embeddings: ...

    async def aclose(self) -> None: ...
