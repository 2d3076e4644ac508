"""Ollama's native wire format (``/api/*``) ↔ domain types (no I/O).

Requests: ``/api/chat`` messages (string content, bare-base64 ``images``, ``tool_calls``
with object arguments, ``tool_name``) become the domain's OpenAI-shaped messages; the
portable ``options`` (temperature, top_p, num_predict, stop, seed) become request fields
and ``format`` a ``response_format``. What only Ollama understands (the other ``options``,
``keep_alive``, ``think``, ``raw``, ``template``, generate's ``images``) travels in
``extra["ollama"]``, which only the Ollama adapter reads.

Answers: the catalogue as ``/api/tags``/``/api/show``/``/api/ps`` entries, completions as
Ollama's final object, and ``ChatLines``, which turns a chunk stream into NDJSON objects
ending with the ``done: true`` line (counts from the backend, durations measured here).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from atmosphere import jsonfast
from atmosphere.domain import (
    OLLAMA_NATIVE,
    CatalogModel,
    ChatChunk,
    ChatCompletion,
    ChatRequest,
    GenerateRequest,
    ToolCall,
    Usage,
)
from atmosphere.errors import InvalidRequest

_ROLES = frozenset({"system", "user", "assistant", "tool"})
# Our capabilities → Ollama's names (``types/model/capability.go``).
_CAPABILITIES = {"chat": "completion", "generate": "completion", "embeddings": "embedding", "vision": "vision", "tools": "tools"}
_PORTABLE_OPTIONS = frozenset({"temperature", "top_p", "num_predict", "stop", "seed"})
_NATIVE_FIELDS = ("keep_alive", "think", "logprobs", "top_logprobs", "truncate", "shift")
_IMAGE_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8", "image/jpeg"), (b"GIF8", "image/gif"), (b"RIFF", "image/webp"))
ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time: what Ollama writes for "not known"


def rfc3339(epoch: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- requests -------------------------------------------------------------------------


def require_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidRequest("json: cannot unmarshal the request body: expected an object")
    return data


def model_name(data: dict[str, Any]) -> str:
    name = data.get("model") or data.get("name")  # ``name`` is the legacy spelling
    if not isinstance(name, str) or not name:
        raise InvalidRequest("model is required")
    return name


def wants_stream(data: dict[str, Any]) -> bool:
    stream = data.get("stream", True)  # Ollama streams unless told not to
    if stream is None:
        return True
    if not isinstance(stream, bool):
        raise InvalidRequest("stream must be a boolean")
    return stream


def _data_uri(image: Any, where: str) -> str:
    if not isinstance(image, str) or not image:
        raise InvalidRequest(f"{where}: images must be base64 strings")
    if image.startswith("data:"):
        return image
    head = image[:16].encode()
    try:
        magic = base64.b64decode(head + b"=" * (-len(head) % 4), validate=False)
    except (ValueError, binascii.Error):
        magic = b""
    media = next((kind for prefix, kind in _IMAGE_MAGIC if magic.startswith(prefix)), "image/png")
    return f"data:{media};base64,{image}"


def _tool_calls(calls: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(calls, list):
        raise InvalidRequest(f"{where}.tool_calls must be an array")
    out = []
    for index, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InvalidRequest(f"{where}.tool_calls[{index}] needs a function name")
        arguments = function.get("arguments", {})
        text = arguments if isinstance(arguments, str) else jsonfast.dumps(arguments or {}).decode()
        call_id = call.get("id") if isinstance(call.get("id"), str) else f"call_{index}"
        out.append({"id": call_id, "type": "function", "function": {"name": function["name"], "arguments": text}})
    return out


def chat_messages(messages: Any) -> list[dict[str, Any]]:
    """Ollama messages → domain (OpenAI-shaped) messages; an empty list stays empty."""
    if messages is None:
        return []
    if not isinstance(messages, list):
        raise InvalidRequest("messages must be an array")
    out = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise InvalidRequest(f"{where} must be an object")
        role = str(message.get("role", "")).lower()
        if role not in _ROLES:
            raise InvalidRequest(f"{where}.role must be one of system, user, assistant, tool (got {message.get('role')!r})")
        content = message.get("content") or ""
        if not isinstance(content, str):
            raise InvalidRequest(f"{where}.content must be a string")
        converted: dict[str, Any] = {"role": role, "content": content}
        images = message.get("images")
        if images:
            if not isinstance(images, list):
                raise InvalidRequest(f"{where}.images must be an array of base64 strings")
            parts: list[dict[str, Any]] = [{"type": "text", "text": content}] if content else []
            parts += [{"type": "image_url", "image_url": {"url": _data_uri(i, where)}} for i in images]
            converted["content"] = parts
        if message.get("tool_calls"):
            converted["tool_calls"] = _tool_calls(message["tool_calls"], where)
            converted["content"] = content or None
        if role == "tool":
            if isinstance(message.get("tool_name"), str):
                converted["name"] = message["tool_name"]
            if isinstance(message.get("tool_call_id"), str):
                converted["tool_call_id"] = message["tool_call_id"]
        out.append(converted)
    return out


def _options(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(portable settings as request fields, the rest of ``options`` for Ollama only)."""
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise InvalidRequest("options must be an object")
    fields: dict[str, Any] = {}
    for key in ("temperature", "top_p"):
        value = options.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise InvalidRequest(f"invalid option value for {key}: {value!r}")
            fields[key] = float(value)
    for key, ours in (("num_predict", "max_tokens"), ("seed", "seed")):
        value = options.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidRequest(f"invalid option value for {key}: {value!r}")
            lowest = 0 if key == "seed" else 1  # -1 means "random" / "unlimited"
            if value >= lowest:
                fields[ours] = value
    stop = options.get("stop")
    if stop is not None:
        stop = [stop] if isinstance(stop, str) else stop
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise InvalidRequest("invalid option value for stop: must be an array of strings")
        fields["stop"] = [s for s in stop if s] or None
    return fields, {k: v for k, v in options.items() if k not in _PORTABLE_OPTIONS}


def _response_format(value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if value == "json":
        return {"type": "json_object"}
    if isinstance(value, dict):
        return {"type": "json_schema", "json_schema": {"name": "response", "schema": value}}
    raise InvalidRequest('format must be "json" or a JSON schema object')


def _native(data: dict[str, Any], options: dict[str, Any], *keys: str) -> dict[str, Any]:
    native = {key: data[key] for key in (*_NATIVE_FIELDS, *keys) if data.get(key) is not None}
    if options:
        native["options"] = options
    return native


def _extra(data: dict[str, Any], native: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    response_format = _response_format(data.get("format"))
    if response_format is not None:
        extra["response_format"] = response_format
    if native:
        extra[OLLAMA_NATIVE] = native
    return extra


def chat_request(data: dict[str, Any], model: str, messages: list[dict[str, Any]]) -> ChatRequest:
    stream = wants_stream(data)
    fields, options = _options(data)
    extra = _extra(data, _native(data, options))
    tools = data.get("tools")
    if tools:
        if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
            raise InvalidRequest("tools must be an array of tool objects")
        extra["tools"] = tools  # Ollama's tools are OpenAI's function tools
    return ChatRequest(model=model, messages=messages, stream=stream, include_usage=stream, extra=extra, **fields)


def generate_request(data: dict[str, Any], model: str, prompt: str) -> GenerateRequest:
    stream = wants_stream(data)
    fields, options = _options(data)
    for key in ("suffix", "system"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise InvalidRequest(f"{key} must be a string")
    images = data.get("images")
    if images is not None and (not isinstance(images, list) or not all(isinstance(i, str) for i in images)):
        raise InvalidRequest("images must be an array of base64 strings")
    native = _native(data, options, "images", "raw", "template")
    return GenerateRequest(
        model=model,
        prompt=prompt,
        stream=stream,
        system=data.get("system") or None,
        suffix=data.get("suffix") or None,
        include_usage=stream,
        extra=_extra(data, native),
        **fields,
    )


def embed_inputs(data: dict[str, Any]) -> list[str]:
    raw = data.get("input")
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return raw
    raise InvalidRequest("invalid input type")


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
    """Backends do not hand the gateway their digests: a stable one from owner and id."""
    return hashlib.sha256(f"{entry.owned_by}/{entry.id}".encode()).hexdigest()


def details(entry: CatalogModel) -> dict[str, Any]:
    info = entry.info
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


def ps_entry(entry: CatalogModel) -> dict[str, Any]:
    """A resident model; how long it stays and how much sits in VRAM are not known here."""
    return {
        "name": entry.id,
        "model": entry.id,
        "size": entry.info.size or 0,
        "digest": _digest(entry),
        "details": details(entry),
        "expires_at": ZERO_TIME,
        "size_vram": 0,
        "context_length": 0,
        "integration": entry.owned_by,  # where it is loaded (not an Ollama field; clients ignore it)
    }


def show_body(entry: CatalogModel) -> dict[str, Any]:
    info = entry.info
    model_info: dict[str, Any] = {"general.architecture": info.family or ""}
    if info.project:
        model_info["llamafarm.project"] = info.project
    if info.provider:
        model_info["llamafarm.provider"] = info.provider
    return {
        "modelfile": "",
        "parameters": "",
        "template": "",
        "details": details(entry),
        "model_info": model_info,
        "capabilities": capabilities(info.capabilities),
        "modified_at": rfc3339(entry.created),
    }
