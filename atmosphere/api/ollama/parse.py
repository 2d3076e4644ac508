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
import re
from typing import Any

from atmosphere import jsonfast
from atmosphere.api.fields import OLLAMA, OLLAMA_MESSAGE, OLLAMA_OPTIONS, Spec, shown, wrong_field
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


# ``require_object`` and ``typed`` are api/body.py's checks in Ollama's own words, on purpose:
# every message of this face reads like Ollama's (a bare name, no quotes, no closing period:
# "stream must be a boolean", "json: cannot unmarshal ..."), and its error body is a bare
# string with no ``param``. body.py's would answer an Ollama client "'think' must be a boolean
# (got 'very')." in OpenAI's style. The check itself is shared: ``wrong_field`` (api/fields.py).
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
    """A bare-base64 image (or a ``data:`` URI of one) as a data URI, checked here: bad
    base64 is the client's 400, never something a backend is left to trip over."""
    if not isinstance(image, str) or not image:
        raise InvalidRequest(f"{where} must be a base64 string")
    if image.startswith(("http://", "https://")):
        raise InvalidRequest(f"{where} is a URL; images must be base64 data (Atmosphere never fetches a URL a request names)")
    payload = image.split(",", 1)[1] if image.startswith("data:") and "," in image else image
    try:
        raw = base64.b64decode(payload, validate=True)
    except (ValueError, binascii.Error):
        raise InvalidRequest(f"{where} is not valid base64") from None
    if not raw:
        raise InvalidRequest(f"{where} is empty")
    if image.startswith("data:"):
        return image
    media = next((kind for prefix, kind in _IMAGE_MAGIC if raw.startswith(prefix)), "image/png")
    return f"data:{media};base64,{image}"


def images(value: Any, where: str) -> list[str]:
    """``images``: each checked as base64 (see ``_data_uri``), as data URIs."""
    if not isinstance(value, list):
        raise InvalidRequest(f"{where} must be an array of base64 strings")
    return [_data_uri(image, f"{where}[{index}]") for index, image in enumerate(value)]


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
    """Ollama messages → domain (OpenAI-shaped) messages; an empty list (a load or unload
    call) stays empty, a missing one is the client's mistake."""
    if messages is None:
        raise InvalidRequest("messages is required (an empty array loads the model)")
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
        typed(message, OLLAMA_MESSAGE, f"{where}.")
        converted: dict[str, Any] = {"role": role, "content": content}
        pictures = message.get("images")
        if pictures:
            parts: list[dict[str, Any]] = [{"type": "text", "text": content}] if content else []
            parts += [{"type": "image_url", "image_url": {"url": url}} for url in images(pictures, f"{where}.images")]
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
    wrong = wrong_field(options, OLLAMA_OPTIONS)
    if wrong is not None:
        raise InvalidRequest(f"invalid option value for {wrong[0]}: must be {wrong[1].what} (got {shown(wrong[2])})")
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
    check_flags(data, "truncate", "shift", "raw", "logprobs")
    keep_alive(data)
    typed(data, OLLAMA)
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
    if data.get("images") is not None:
        images(data["images"], "images")  # checked here; Ollama takes them as sent
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
    """``input``, a string or an array of strings; nothing to embed is a 400 naming the field."""
    embed_fields(data)
    raw = data.get("input")
    if raw is None:
        raise InvalidRequest("input is required: a string or an array of strings to embed")
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise InvalidRequest("invalid input type: input must be a string or an array of strings")
    if not raw or not any(raw):
        raise InvalidRequest("input is empty: there is nothing to embed")
    return raw


def typed(data: dict[str, Any], spec: Spec, prefix: str = "") -> None:
    """A 400 in Ollama's words for the first field of ``spec`` of the wrong type (api/fields.py;
    not api/body.py's ``typed``, whose message is OpenAI-styled: see ``require_object``)."""
    wrong = wrong_field(data, spec, prefix)
    if wrong is not None:
        name, expect, value = wrong
        raise InvalidRequest(f"{name} must be {expect.what} (got {shown(value)})")


def embed_fields(data: dict[str, Any]) -> None:
    """The typed fields of both embedding calls besides the text."""
    check_flags(data, "truncate")
    keep_alive(data)
    if data.get("options") is not None and not isinstance(data["options"], dict):
        raise InvalidRequest("options must be an object")


def check_flags(data: dict[str, Any], *names: str) -> None:
    """Boolean fields are booleans (``truncate: "yes"`` is refused, not read as true)."""
    for name in names:
        value = data.get(name)
        if value is not None and not isinstance(value, bool):
            raise InvalidRequest(f"{name} must be a boolean (got {value!r:.40})")


# Go's time.ParseDuration, which Ollama's keep_alive strings go through ("5m", "1h30m", "-1s", "0").
_DURATION = re.compile(r"[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)")


def keep_alive(data: dict[str, Any]) -> str | float | None:
    """``keep_alive`` as Ollama reads it: a number of seconds or a Go duration string (negative:
    keep loaded); None when absent. Anything else is a 400."""
    value = data.get("keep_alive")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidRequest(f'keep_alive must be a number of seconds or a duration such as "5m" (got {value!r:.40})')
    if isinstance(value, str) and not _DURATION.fullmatch(value):
        raise InvalidRequest(f'keep_alive: invalid duration {value!r:.40} (use e.g. "5m", "1h", "0" or a number of seconds)')
    return value


def unloads(value: str | float | None) -> bool:
    """Whether a (checked) ``keep_alive`` is zero: unload now."""
    if value is None:
        return False
    if isinstance(value, (int, float)):
        return value == 0
    return not any(ch in "123456789" for ch in value)
