"""Domain types shared by discovery, routing and the API. No I/O here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["healthy", "offline", "error"]
CAPABILITY_ORDER: tuple[str, ...] = ("chat", "generate", "embeddings", "vision", "tools")


@dataclass(slots=True)
class ModelInfo:
    """A model a backend can serve, under the id clients use to ask for it."""

    id: str
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    size: int | None = None
    capabilities: list[str] = field(default_factory=list)
    project: str | None = None  # LlamaFarm: "namespace/project" that defines this alias
    backend_model: str | None = None  # LlamaFarm: the model behind the alias
    created: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["name"] = self.id
        return data


@dataclass(slots=True)
class Project:
    namespace: str
    name: str
    default_model: str | None
    models: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class ProbeResult:
    """What one probe of a backend found."""

    status: Status
    error: str | None = None
    version: str | None = None
    models: list[ModelInfo] = field(default_factory=list)
    projects: list[Project] | None = None
    capabilities: list[str] = field(default_factory=list)
    default_model: str | None = None
    default_embedding_model: str | None = None
    latency_ms: float | None = None


def sort_capabilities(caps: set[str]) -> list[str]:
    return [c for c in CAPABILITY_ORDER if c in caps]


@dataclass(slots=True)
class ChatRequest:
    """An OpenAI chat request, validated and normalised for the adapters."""

    model: str | None
    messages: list[dict[str, Any]]
    stream: bool = False
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] | None = None
    seed: int | None = None
    include_usage: bool = False
    # Passed through where a backend understands them (tools, response_format, ...).
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class EmbedRequest:
    model: str | None
    inputs: list[str]
    encoding_format: str = "float"
    dimensions: int | None = None
