"""Ollama native requests (``/api/*``) → domain requests (no I/O).

``/api/chat`` messages (string content, bare-base64 ``images``, ``tool_calls`` with object
arguments, ``tool_name``) become the domain's OpenAI-shaped messages; the portable
``options`` (temperature, top_p, num_predict, stop, seed) become request fields and
``format`` a ``response_format``. What only Ollama understands (the other ``options``,
``keep_alive``, ``think``, ``raw``, ``template``, generate's ``images``) travels in
``extra[OLLAMA_NATIVE]``, which only the Ollama adapter sends.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from atmosphere import jsonfast
from atmosphere.domain import (
    OLLAMA_NATIVE,
    ChatRequest,
    GenerateRequest,
)
from atmosphere.errors import InvalidRequest

_ROLES = frozenset({"system", "user", "assistant", "tool"})
_PORTABLE_OPTIONS = frozenset({"temperature", "top_p", "num_predict", "stop", "seed"})
_NATIVE_FIELDS = ("keep_alive", "think", "logprobs", "top_logprobs", "truncate", "shift")
_IMAGE_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8", "image/jpeg"), (b"GIF8", "image/gif"), (b"RIFF", "image/webp"))


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


def _tool_calls(calls: Any, where: str, turn: int) -> list[dict[str, Any]]:
    if not isinstance(calls, list):
        raise InvalidRequest(f"{where}.tool_calls must be an array")
    out = []
    for index, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InvalidRequest(f"{where}.tool_calls[{index}] needs a function name")
        arguments = function.get("arguments", {})
        text = arguments if isinstance(arguments, str) else jsonfast.dumps(arguments or {}).decode()
        call_id = call["id"] if isinstance(call.get("id"), str) else f"call_{turn}_{index}"  # unique in the chat
        out.append({"id": call_id, "type": "function", "function": {"name": function["name"], "arguments": text}})
    return out


def chat_messages(messages: Any) -> list[dict[str, Any]]:
    """Ollama messages → domain (OpenAI-shaped) messages; an empty list stays empty."""
    if messages is None:
        return []
    if not isinstance(messages, list):
        raise InvalidRequest("messages must be an array")
    out = []
    call_ids: dict[str, str] = {}  # tool name → id of its latest call, for results that name only the tool
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
            converted["tool_calls"] = _tool_calls(message["tool_calls"], where, index)
            converted["content"] = content or None
            call_ids.update({c["function"]["name"]: c["id"] for c in converted["tool_calls"]})
        if role == "tool":
            if isinstance(message.get("tool_name"), str):
                converted["name"] = message["tool_name"]
            # OpenAI-style backends (LlamaFarm) match a result to its call by id; Ollama
            # clients often send only the tool's name.
            call_id = message.get("tool_call_id") if isinstance(message.get("tool_call_id"), str) else None
            call_id = call_id or call_ids.get(converted.get("name", ""))
            if call_id:
                converted["tool_call_id"] = call_id
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
