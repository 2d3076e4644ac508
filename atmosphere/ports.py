"""The ports the router needs: what it asks of a backend adapter.

An adapter (``atmosphere.adapters``) implements ``Backend``; the registry and the
executor only ever see this protocol, never a concrete adapter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from atmosphere.domain import ChatRequest, EmbedRequest, ProbeResult


class Backend(Protocol):
    """What the registry and the executor need from a backend."""

    id: str
    name: str
    url: str

    async def probe(self) -> ProbeResult: ...

    def resolve_model(self, model: str) -> str | None:
        """The backend's own name for ``model``, or None when it does not serve it."""

    async def chat(self, req: ChatRequest, model: str) -> dict[str, Any]: ...

    def chat_stream(self, req: ChatRequest, model: str) -> AsyncIterator[dict[str, Any]]:
        """OpenAI ``chat.completion.chunk`` dicts. The first one is only produced once
        the backend has really started answering, so a failure before it can fall back."""

    async def generate(self, prompt: str, model: str, params: dict[str, Any]) -> dict[str, Any]: ...

    async def embed(self, req: EmbedRequest, model: str) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...
