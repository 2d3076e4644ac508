"""Domain results → Ollama native answers (no I/O).

The catalogue as ``/api/tags``/``/api/show``/``/api/ps`` entries, completions as Ollama's
final object, and ``ChatLines``, which turns a chunk stream into NDJSON objects ending with
the ``done: true`` line (counts from the backend, durations measured at the gateway).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from atmosphere import jsonfast
from atmosphere.domain import (
    CatalogModel,
    ChatChunk,
    ChatCompletion,
    ModelInfo,
    ModelSheet,
    ToolCall,
    Usage,
)
from atmosphere.router.residency import Held

# Our capabilities → Ollama's names (``types/model/capability.go``).
_CAPABILITIES = {"chat": "completion", "generate": "completion", "embeddings": "embedding", "vision": "vision", "tools": "tools"}
# What Ollama writes for a model kept loaded (a negative keep_alive): the CLI prints "Forever".
# Go's zero time would print "Stopping...", which no resident model is.
FOREVER = "2318-01-01T00:00:00Z"
# What Go's time.Time reads from JSON: RFC 3339, fractional seconds optional, a zone required.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def rfc3339(epoch: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- answers --------------------------------------------------------------------------


def done_reason(finish_reason: str | None) -> str:
    # Ollama has no tool-calls reason: a client sees the calls themselves.
    return "length" if finish_reason == "length" else "stop"


def _arguments(arguments: str) -> Any:
    try:
        value = jsonfast.loads(arguments) if arguments else {}
    except jsonfast.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def tool_calls_body(calls: list[ToolCall]) -> list[dict[str, Any]]:
    return [
        {"id": c.id, "function": {"index": i, "name": c.name, "arguments": _arguments(c.arguments)}} for i, c in enumerate(calls)
    ]


def metrics(usage: Usage | None, total_ns: int, first_ns: int | None = None) -> dict[str, int]:
    """The final line's counts (the backend's) and durations (measured at the gateway:
    time to the first token as the prompt's evaluation, the rest as generation)."""
    usage = usage or Usage()
    prompt_ns = first_ns if first_ns is not None else 0
    out = {
        "total_duration": total_ns,
        "load_duration": 0,
        "prompt_eval_count": usage.prompt_tokens,
        "prompt_eval_duration": prompt_ns,
        "eval_count": usage.completion_tokens,
        "eval_duration": total_ns - prompt_ns,
    }
    return {k: v for k, v in out.items() if v}  # Ollama omits zeros


def chat_body(model: str, completion: ChatCompletion, total_ns: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": completion.content or ""}
    if completion.reasoning:
        message["thinking"] = completion.reasoning
    if completion.tool_calls:
        message["tool_calls"] = tool_calls_body(completion.tool_calls)
    body = {"model": model, "created_at": rfc3339(), "message": message, "done": True}
    body["done_reason"] = done_reason(completion.finish_reason)
    return {**body, **metrics(completion.usage, total_ns)}


def generate_body(model: str, completion: ChatCompletion, total_ns: int) -> dict[str, Any]:
    body = {"model": model, "created_at": rfc3339(), "response": completion.content or "", "done": True}
    body["done_reason"] = done_reason(completion.finish_reason)
    return {**body, **metrics(completion.usage, total_ns)}


def load_body(model: str, field: str, unload: bool) -> dict[str, Any]:
    """The answer to an empty chat/generate (Ollama's warm-up call)."""
    empty: Any = {"role": "assistant", "content": ""} if field == "message" else ""
    return {"model": model, "created_at": rfc3339(), field: empty, "done": True, "done_reason": "unload" if unload else "load"}


class ChatLines:
    """Turns the chunks of one answer into Ollama stream objects (``field`` is ``message``
    for chat, ``response`` for generate), the last with ``done: true`` and the metrics.

    Tool calls are gathered and sent whole on one ``done: false`` line before the last,
    as Ollama does: its ``arguments`` is a JSON object, which a fragment cannot be.
    """

    def __init__(self, model: str, field: str, started_ns: int):
        self.model = model
        self.field = field
        self.started_ns = started_ns
        self.created_at = rfc3339()
        self._first_ns: int | None = None
        self._calls: dict[int, ToolCall] = {}
        self._finish: str | None = None
        self._usage: Usage | None = None
        self._text: tuple[bytes, bytes] | None = None  # a text-only line, cut where its text goes

    def _line(self, content: str = "", thinking: str | None = None) -> dict[str, Any]:
        part: Any = content
        if self.field == "message":
            part = {"role": "assistant", "content": content}
            if thinking:
                part["thinking"] = thinking
        line = {"model": self.model, "created_at": self.created_at, self.field: part, "done": False}
        if thinking and self.field == "response":
            line["thinking"] = thinking
        return line

    def framed(self, chunk: ChatChunk) -> bytes:
        """``chunk``'s lines as NDJSON bytes (b"" for none). A text-only chunk (nearly every
        one) goes into a template cut once per answer, byte for byte the serialised line."""
        if (
            chunk.content
            and self._first_ns is not None
            and chunk.usage is None
            and not chunk.finish_reason
            and not chunk.tool_calls
            and not chunk.reasoning
        ):
            if self._text is None:
                whole = jsonfast.dumps(self._line("")) + b"\n"
                cut = b'"content":""' if self.field == "message" else b'"response":""'
                head, tail = whole.split(cut, 1)  # model and created_at come first, escaped: no match there
                self._text = (head + cut[:-2], tail)
            head, tail = self._text
            return head + jsonfast.dumps(chunk.content) + tail
        return b"".join(jsonfast.dumps(line) + b"\n" for line in self.chunk(chunk))

    def chunk(self, chunk: ChatChunk) -> Iterator[dict[str, Any]]:
        if self._first_ns is None:
            self._first_ns = time.perf_counter_ns() - self.started_ns
        if chunk.usage is not None:
            self._usage = chunk.usage
        if chunk.finish_reason:
            self._finish = chunk.finish_reason
        for delta in chunk.tool_calls:
            call = self._calls.setdefault(delta.index, ToolCall(id=delta.id or f"call_{delta.index}", name="", arguments=""))
            call.name = call.name or delta.name or ""
            call.arguments += delta.arguments
        if chunk.content or chunk.reasoning:
            yield self._line(chunk.content or "", chunk.reasoning)

    def finish(self) -> Iterator[dict[str, Any]]:
        if self._calls and self.field == "message":
            line = self._line()
            line["message"]["tool_calls"] = tool_calls_body([self._calls[i] for i in sorted(self._calls)])
            yield line
        final = self._line()
        final["done"] = True
        final["done_reason"] = done_reason(self._finish)
        final.update(metrics(self._usage, time.perf_counter_ns() - self.started_ns, self._first_ns))
        yield final


# --- the catalogue --------------------------------------------------------------------


def capabilities(ours: list[str]) -> list[str]:
    out: list[str] = []
    for capability in ours:
        name = _CAPABILITIES.get(capability)
        if name and name not in out:
            out.append(name)
    return out


def _digest(entry: CatalogModel) -> str:
    return _digest_of(entry.owned_by, entry.id)


def _digest_of(host: str, name: str) -> str:
    """Backends do not hand the gateway their digests: a stable one from host and name."""
    return hashlib.sha256(f"{host}/{name}".encode()).hexdigest()


def details(entry: CatalogModel) -> dict[str, Any]:
    return _details(entry.info)


def _details(info: ModelInfo) -> dict[str, Any]:
    return {
        "parent_model": info.backend_model or "",  # LlamaFarm: the model behind the alias
        "format": "gguf" if info.project is None else "",
        "family": info.family or "",
        "families": [info.family] if info.family else None,
        "parameter_size": info.parameter_size or "",
        "quantization_level": info.quantization or "",
    }


def tag_entry(entry: CatalogModel) -> dict[str, Any]:
    return {
        "name": entry.id,
        "model": entry.id,
        "modified_at": rfc3339(entry.created),
        "size": entry.info.size or 0,
        "digest": _digest(entry),
        "details": details(entry),
        "capabilities": capabilities(entry.info.capabilities),
    }


def ps_entry(held: Held) -> dict[str, Any]:
    """A resident model as its host reported it: its own expiry, sizes and context length."""
    resident = held.resident
    return {
        "name": held.name,
        "model": held.name,
        "size": resident.size if resident.size is not None else held.info.size or 0,
        "digest": _cli_digest(resident.digest) or _digest_of(held.host, held.name),
        "details": _details(held.info),
        # A host that does not say, or says what Go cannot read, keeps it until it decides: forever.
        "expires_at": go_time(resident.expires_at) or FOREVER,
        "size_vram": resident.size_vram or 0,
        "context_length": resident.context_length or 0,
        "integration": held.host,  # where it is loaded (not an Ollama field; clients ignore it)
    }


def _cli_digest(digest: str | None) -> str | None:
    """A host's digest where the CLI can print it (``ollama ps`` slices ``digest[:12]``)."""
    return digest if digest is not None and len(digest) >= 12 else None


def go_time(text: str | None) -> str | None:
    """A host's timestamp as RFC 3339, the one form Go's time.Time reads (a time it cannot
    read fails the CLI's whole answer: ``ollama ps``, ``ollama show``); None when it is none."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if _RFC3339.fullmatch(text):
        return text
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).isoformat()


# The keys the ollama CLI's ``show`` reads from a non-null ``model_info`` (0.5.4 panics on
# any that is missing or not of this JSON type); ``<arch>`` is general.architecture's value.
CLI_MODEL_INFO = ("general.architecture", "general.parameter_count", "{arch}.context_length", "{arch}.embedding_length")


# And from a non-null ``projector_info`` (0.5.4 asserts these too).
CLI_PROJECTOR_INFO = (
    "general.architecture",
    "general.parameter_count",
    "{arch}.vision.embedding_length",
    "{arch}.vision.projection_dim",
)


def cli_readable(model_info: dict[str, Any] | None, keys: tuple[str, ...] = CLI_MODEL_INFO) -> bool:
    """Whether the ollama CLI can print this ``model_info`` (or, with ``CLI_PROJECTOR_INFO``,
    ``projector_info``): a string architecture, then numbers."""
    if model_info is None:
        return False
    arch = model_info.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        return False
    numbers = [model_info.get(key.format(arch=arch)) for key in keys[1:]]
    return all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers)


def show_body(entry: CatalogModel, sheet: ModelSheet | None) -> dict[str, Any]:
    """``/api/show``. ``model_info`` is the serving host's own where it sent one the CLI can
    read (an Ollama host); otherwise null, which the CLI prints from ``details`` instead: a
    LlamaFarm alias has no GGUF metadata to report, and made-up numbers would be read as facts."""
    info = entry.info
    model_info = sheet.metadata if sheet is not None and cli_readable(sheet.metadata) else None
    body: dict[str, Any] = {
        "modelfile": _modelfile(entry),
        "parameters": sheet.parameters if sheet is not None else "",
        "template": sheet.template if sheet is not None else "",
        "details": details(entry),
        "model_info": model_info,
        "capabilities": capabilities(info.capabilities),
        "modified_at": go_time(sheet.modified_at if sheet is not None else None) or rfc3339(entry.created),
    }
    if model_info is not None and sheet is not None and cli_readable(sheet.projector, CLI_PROJECTOR_INFO):
        body["projector_info"] = sheet.projector  # passed on only whole, and only beside the host's model_info
    return body


def _modelfile(entry: CatalogModel) -> str:
    """Where the model comes from, as a Modelfile a person can read (``ollama show --modelfile``)."""
    info = entry.info
    lines = [f"# {entry.id}, served by Atmosphere from {entry.owned_by}"]
    if info.project:
        lines.append(f"# LlamaFarm project {info.project}" + (f", provider {info.provider}" if info.provider else ""))
    lines.append(f"FROM {info.backend_model or entry.native or entry.id}")
    return "\n".join(lines) + "\n"
