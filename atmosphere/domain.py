"""Domain types shared by the adapters, the router and the faces. No I/O here.

Vocabulary (one word per idea):
- an *integration* is one configured backend host (a LlamaFarm server, an Ollama server);
  the API and the dashboard use this word, the code calls the object behind it a ``Backend``.
- the *requested model* is the name a client sent (``auto``, ``qwen3:4b``, ``chatbot/fast``);
- the *native model* is the name the chosen backend is called with (an Ollama tag, a LlamaFarm alias);
- the *target model* is the model behind a LlamaFarm alias (what its project config points at).

The request and result types below are the seam between faces, router and adapters:
faces build requests from their wire format and render results back into it; adapters
take requests and return results; the router passes them through and never looks at a
wire format.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["healthy", "degraded", "offline", "error"]
# Why a backend did not serve a request (an ``Attempt``): could not connect, ran out of
# time, answered something unusable, or was not tried at all.
FailureKind = Literal["unreachable", "timeout", "error", "skipped"]
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
    backend_model: str | None = None  # LlamaFarm: the target model behind the alias
    created: int | None = None
    provider: str | None = None  # LlamaFarm: universal | ollama | openai | ... (never its secrets)
    ready: bool = True  # whether what serves this model answers right now
    unavailable_reason: str | None = None  # why not, when not ready
    locality: Literal["local", "lan", "cloud"] = "local"
    loaded: bool = False  # resident in memory on its host right now (Ollama /api/ps, runtime loaded_models)
    aliases: list[str] = field(default_factory=list)  # other ids that reach it (LlamaFarm: `<project>/<model>`)

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
    validation_error: str | None = None  # LlamaFarm lists a broken project with this; none of it routes

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
    reported_concurrency: int | None = None  # the host's own word on its limit (LlamaFarm's optimal_concurrency)
    _index: dict[str, ModelInfo] | None = field(default=None, init=False, repr=False, compare=False)
    _loaded: frozenset[str] | None = field(default=None, init=False, repr=False, compare=False)

    def model_info(self, model_id: str) -> ModelInfo | None:
        """The model served under ``model_id`` (its id or an alias); a dict lookup, built once."""
        index = self._index
        if index is None:
            index = {}
            for info in self.models:
                for name in (info.id, *info.aliases):
                    index.setdefault(name, info)
            self._index = index
        return index.get(model_id)

    def loaded(self) -> frozenset[str]:
        """The models resident on the host, computed once per probe (it goes with the result)."""
        if self._loaded is None:
            self._loaded = frozenset(m.id for m in self.models if m.loaded)
        return self._loaded


@dataclass(frozen=True, slots=True)
class Attempt:
    """One backend that was tried (or skipped) for a request, and why it did not serve it."""

    backend: str
    reason: str
    kind: FailureKind = "error"

    def to_dict(self) -> dict[str, str]:
        return {"backend": self.backend, "reason": self.reason, "kind": self.kind}


def sort_capabilities(caps: set[str]) -> list[str]:
    return [c for c in CAPABILITY_ORDER if c in caps]


@dataclass(slots=True, kw_only=True)
class Sampling:
    """What every request that generates text carries: streamed or not, the sampling settings,
    and the fields passed through where a backend understands them (``extra``: tools,
    response_format, ...; ``extra[OLLAMA_NATIVE]`` holds native Ollama fields only the Ollama
    adapter sends)."""

    stream: bool = False
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] | None = None
    seed: int | None = None
    include_usage: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ChatRequest(Sampling):
    """An OpenAI chat request, validated and normalised for the adapters."""

    model: str | None
    messages: list[dict[str, Any]]
    user: str | None = None  # the caller's end-user id: keeps a conversation on one host
    # A client's ``X-Session-ID``: LlamaFarm then keeps the conversation server-side.
    session_id: str | None = None


# The ``extra`` key for fields only Ollama understands (``keep_alive``, ``think``, more
# ``options`` such as ``top_k`` or ``num_ctx``, generate's ``images``/``raw``/``template``),
# as the Ollama face and Anthropic's ``top_k`` send them; other adapters leave it out.
OLLAMA_NATIVE = "ollama"


def tool_result_content(text: str, images: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """A tool message's ``content`` in the domain's shape: its text, or, when the result
    came with images (Codex's ``view_image``, Claude Code's Read of a picture), its text and
    its chat ``image_url`` parts. Each adapter carries those as its dialect can: on the tool
    message (Ollama's ``images``) or on a user turn after the tool results
    (``adapters/tool_images.py``, for chat dialects whose tool messages take text only)."""
    if not images:
        return text
    return [{"type": "text", "text": text}, *images] if text else images


@dataclass(slots=True)
class EmbedRequest:
    model: str | None
    inputs: list[str]
    encoding_format: str = "float"
    dimensions: int | None = None


@dataclass(slots=True)
class GenerateRequest(Sampling):
    """A text completion: a prompt to continue (``/v1/completions``, Ollama ``/api/generate``)."""

    model: str | None
    prompt: str
    system: str | None = None
    suffix: str | None = None


# --- results ------------------------------------------------------------------------------


@dataclass(slots=True)
class Usage:
    """Token counts. ``estimated`` when a count was not the backend's own (counted or guessed)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_openai(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(slots=True)
class ToolCall:
    """A complete function call the model asked for; ``arguments`` is JSON text."""

    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call; ``index`` counts calls across the whole stream."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class TokenLogprob:
    """One generated token's log probability, and the likeliest alternatives when asked."""

    token: str
    logprob: float
    bytes: list[int] | None = None
    top: list[TokenLogprob] = field(default_factory=list)


@dataclass(slots=True)
class ChatCompletion:
    """One finished answer (a chat reply or a text completion)."""

    id: str
    created: int
    model: str
    content: str | None
    finish_reason: str = "stop"
    tool_calls: list[ToolCall] = field(default_factory=list)
    reasoning: str | None = None
    usage: Usage | None = None
    logprobs: list[TokenLogprob] | None = None  # only when the request asked for them


@dataclass(slots=True)
class ChatChunk:
    """One streamed piece of an answer. A chunk with only ``usage`` set is the usage report
    that ends a stream; a chunk with ``finish_reason`` set ends its choice."""

    id: str
    created: int
    model: str
    content: str | None = None
    reasoning: str | None = None
    role: str | None = None
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    logprobs: list[TokenLogprob] | None = None

    @property
    def has_content(self) -> bool:
        """Whether the chunk is progress a client would see (not an empty keep-alive delta)."""
        return bool(self.content or self.reasoning or self.tool_calls or self.finish_reason)


@dataclass(slots=True)
class Embeddings:
    model: str
    vectors: list[list[float]]
    usage: Usage = field(default_factory=Usage)


@dataclass(slots=True)
class CatalogModel:
    """One entry of the merged model catalogue: a model id, the integration that serves it
    (the first in priority order that has it), and when the gateway first saw it."""

    id: str
    owned_by: str
    created: int
    info: ModelInfo
    native: str | None = None  # the owner's own name for it when that differs (a models-file equivalent)


@dataclass(frozen=True, slots=True)
class Resident:
    """A model held in memory on one host now, as that host reports it (Ollama's ``/api/ps``)."""

    model: str  # the host's own (native) name
    expires_at: str | None = None  # RFC 3339, when the host will unload it; None = the host does not say
    size: int | None = None  # bytes in memory
    size_vram: int | None = None  # of which in GPU memory
    context_length: int | None = None  # the context it was loaded with
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class ModelSheet:
    """What a host says about one model beyond its listing (Ollama's ``/api/show``), as it
    said it: ``metadata`` holds its GGUF keys (``general.architecture``, ``<arch>.context_length``...)."""

    metadata: dict[str, Any] | None = None
    projector: dict[str, Any] | None = None
    parameters: str = ""
    template: str = ""
    modified_at: str | None = None


@dataclass(slots=True)
class TestResult:
    """One prompt run on one chosen integration, without fallback; a failure is a result."""

    __test__ = False  # not a pytest test class, despite the name

    success: bool
    integration_id: str
    model_used: str | None
    response: str | None = None
    error: str | None = None
    latency_ms: float = 0.0
