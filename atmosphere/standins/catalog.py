"""Default model and project data the emulators advertise.

Kept apart from the handlers so tests can build their own catalogues and so
the data reads like the real backends' listings (see shared/reference).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import orjson


@dataclass(slots=True)
class OllamaModel:
    """One installed Ollama model as `/api/tags` and `/api/show` describe it."""

    name: str
    family: str
    parameter_size: str
    quantization_level: str
    capabilities: list[str]
    size: int
    digest: str
    embedding_length: int
    context_length: int = 4096
    format: str = "gguf"
    families: list[str] | None = None
    modified_at: str = "2025-05-04T17:37:44.706015396Z"
    # Cloud models (``ollama signin``) run on ollama.com; /api/tags and /api/show name the
    # host and the model there. The emulator answers for them itself and contacts nothing.
    remote_host: str | None = None
    remote_model: str | None = None

    @property
    def chat_capable(self) -> bool:
        """Embedding-only models lack `completion` and must refuse chat."""
        return "completion" in self.capabilities


@dataclass(slots=True)
class ProjectModel:
    """A project-local model alias (`name`) and the backend model behind it.

    `provider` decides how LlamaFarm 0.0.27 answers (see `llamafarm_chat`): `universal`
    (its Universal Runtime), `ollama`, `openai` (any OpenAI-style server at `base_url`).
    `api_key` is returned in clear text by the real per-project models route.
    """

    name: str
    provider: str
    model: str
    description: str | None = None
    base_url: str | None = None
    api_key: str | None = None


@dataclass(slots=True)
class Project:
    """A LlamaFarm project. `namespace` None means the app's own namespace.

    `default_model` None is what a project created from LlamaFarm's template has (the
    first model is then used). A `validation_error` project is still listed, with that
    text, and every chat with it answers 422 `ProjectConfigError`.
    """

    name: str
    default_model: str | None
    models: list[ProjectModel] = field(default_factory=list)
    last_modified: str = "2026-01-20T10:11:12.094455"
    namespace: str | None = None
    validation_error: str | None = None

    def alias(self, name: str | None) -> ProjectModel | None:
        """The model a chat names, or the default (the first model when none is set)."""
        if not name:
            name = self.default_model
            if not name:
                return self.models[0] if self.models else None
        for model in self.models:
            if model.name == name:
                return model
        return None


@dataclass(slots=True)
class CachedModel:
    """An entry of the LlamaFarm server's HuggingFace-cache `/v1/models` list."""

    model_id: str
    size_bytes: int
    size_human: str
    last_modified: str = "2024-01-15T10:30:00Z"
    revisions: list[str] = field(default_factory=lambda: ["main"])


def default_ollama_models() -> list[OllamaModel]:
    """The four models a typical small Ollama install carries."""
    return ollama_models("installed")


def ollama_models(group: str) -> list[OllamaModel]:
    """A group of ``ollama_models.json`` (``installed``, ``cloud``): entries as ``/api/tags`` and
    ``/api/show`` describe them, fresh on each call (an emulator's state changes its own list)."""
    return [OllamaModel(**entry) for entry in orjson.loads(_models_json())[group]]


@functools.cache
def _models_json() -> bytes:
    return Path(__file__).with_name("ollama_models.json").read_bytes()


def default_projects() -> list[Project]:
    """`chatbot` and `coder`, the projects the LlamaFarm emulator serves."""
    return [
        Project(
            name="chatbot",
            default_model="fast",
            models=[
                ProjectModel(
                    "fast",
                    "ollama",
                    "llama3.2:3b",
                    description="quick",
                    base_url="http://localhost:11434/v1",
                ),
                ProjectModel("smart", "universal", "unsloth/Qwen3-1.7B-GGUF:Q4_K_M"),
            ],
        ),
        Project(
            name="coder",
            default_model="coder-small",
            models=[
                ProjectModel(
                    "coder-small",
                    "ollama",
                    "qwen2.5-coder:1.5b",
                    base_url="http://localhost:11434/v1",
                )
            ],
        ),
    ]


def default_hf_cache() -> list[CachedModel]:
    """What the LlamaFarm server's `/v1/models` reports from the HF cache."""
    return [
        CachedModel("unsloth/Qwen3-1.7B-GGUF", 1107409472, "1.0GB"),
        CachedModel("sentence-transformers/all-MiniLM-L6-v2", 90868376, "86.7MB"),
        CachedModel("cross-encoder/ms-marco-MiniLM-L-6-v2", 90000000, "85.8MB"),
    ]


def default_runtime_models() -> list[str]:
    """HF ids the Universal Runtime emulator can 'load'; others fail with 500."""
    return [
        "unsloth/Qwen3-1.7B-GGUF:Q4_K_M",
        "Qwen/Qwen2.5-0.5B-Instruct",
        "sentence-transformers/all-MiniLM-L6-v2",
    ]
