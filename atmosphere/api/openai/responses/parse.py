"""Responses API requests → domain requests: a request becomes a ``ChatRequest`` (with what
the response object echoes, ``ResponsesRequest``); the answer side is ``render``.

Stateless: nothing is stored, so whatever needs a stored response (``previous_response_id``,
``conversation``, ``store: true``, ``background``, ``item_reference`` inputs) is a 400 that
says so. Tools are reduced to what a local model can call (``tools``): function
tools, namespace members flattened, hosted tools dropped and named. Fields that only tune
OpenAI's own service (``reasoning``, ``include``, ``prompt_cache_key``, ``client_metadata``,
``parallel_tool_calls``, ``store: false``) are accepted and have no effect. Images, in a
user turn or a tool result (Codex's ``view_image``), are taken inline only (``data:`` URLs):
the gateway never fetches a URL a request names.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from atmosphere.api.body import (
    MAX_DEPTH,
    integer_param,
    number_param,
    optional_model,
    require_object,
    stream_param,
    typed,
    typed_items,
)
from atmosphere.api.fields import RESPONSES
from atmosphere.api.openai.responses.tools import ToolOffer, tool_offer
from atmosphere.domain import ChatRequest, tool_result_content
from atmosphere.errors import InvalidRequest

_NOT_STORED = "Atmosphere does not store responses, so '{}' cannot be used; send the whole conversation in 'input'."
_ROLES = frozenset({"user", "assistant", "system", "developer"})
_DATA_URL = re.compile(r"data:image/[\w.+-]+;base64,", re.IGNORECASE)
_CHAT_DETAILS = frozenset({"auto", "low", "high"})  # Codex's "original" has no chat equivalent


@dataclass(slots=True)
class ResponsesRequest:
    """What the face needs besides the chat request: the values a response object echoes."""

    chat: ChatRequest
    echo: dict[str, Any] = field(default_factory=dict)
    tools: ToolOffer = field(default_factory=ToolOffer)  # maps calls back to the client's (namespace, name)


def parse_responses_request(data: Any) -> ResponsesRequest:
    data = require_object(data)
    typed(data, RESPONSES)
    for key in ("previous_response_id", "conversation"):
        if data.get(key) is not None:
            raise InvalidRequest(_NOT_STORED.format(key), param=key)
    for key in ("store", "background"):
        if data.get(key) is True:
            raise InvalidRequest(_NOT_STORED.format(f"{key}: true") + f" Send '{key}': false or leave it out.", param=key)
    if data.get("top_logprobs"):
        raise InvalidRequest("'top_logprobs' is not supported on /v1/responses; use /v1/chat/completions.", param="top_logprobs")
    instructions = data.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise InvalidRequest("'instructions' must be a string.", param="instructions")
    offer = tool_offer(data.get("tools"))
    messages = [{"role": "system", "content": instructions}] if instructions else []
    messages += _input_messages(data.get("input"), offer)
    stream = stream_param(data)
    extra: dict[str, Any] = {}
    if offer.functions:
        extra["tools"] = offer.functions
    choice = offer.tool_choice(data.get("tool_choice"))
    if choice is not None:
        extra["tool_choice"] = choice
    text = data.get("text")
    response_format = _response_format(text)
    if response_format is not None:
        extra["response_format"] = response_format
    max_output = integer_param(data, "max_output_tokens", 1)
    chat = ChatRequest(
        model=optional_model(data),
        messages=messages,
        stream=stream,
        temperature=number_param(data, "temperature", 0, 2),
        top_p=number_param(data, "top_p", 0, 1),
        max_tokens=max_output,
        include_usage=stream,  # response.completed reports usage
        extra=extra,
    )
    metadata = data.get("metadata")
    echo = {
        "instructions": instructions,
        "max_output_tokens": max_output,
        "metadata": metadata if isinstance(metadata, dict) else {},
        "parallel_tool_calls": data.get("parallel_tool_calls", True) is not False,
        "temperature": chat.temperature if chat.temperature is not None else 1.0,
        "top_p": chat.top_p if chat.top_p is not None else 1.0,
        "text": {"format": (text or {}).get("format") or {"type": "text"}},
        "tool_choice": data.get("tool_choice") or "auto",
        "tools": offer.echo,
    }
    return ResponsesRequest(chat, echo, offer)


def _input_messages(raw: Any, offer: ToolOffer) -> list[dict[str, Any]]:
    """``input`` → chat messages. Consecutive function calls become one assistant turn with
    several tool calls (a namespace member's under the backend's name for it); a call's
    output becomes a tool message for that call id."""
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest("'input' must be a string or a non-empty array of input items.", param="input")
    messages: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        where = f"input[{index}]"
        if not isinstance(item, dict):
            raise InvalidRequest(f"'{where}' must be an object.", param=where)
        kind = item.get("type", "message")
        if kind == "message":
            messages.append(_message(item, where))
        elif kind == "function_call":
            call_id, name, arguments = item.get("call_id"), item.get("name"), item.get("arguments", "{}")
            if not (isinstance(call_id, str) and call_id and isinstance(name, str) and name and isinstance(arguments, str)):
                raise InvalidRequest(f"'{where}' needs 'call_id', 'name' and 'arguments' (a JSON string).", param=where)
            namespace = item.get("namespace")
            name = offer.backend_name(name, namespace if isinstance(namespace, str) else None)
            call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and last.get("tool_calls") and not last.get("content"):
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            if not isinstance(call_id, str) or not call_id:
                raise InvalidRequest(f"'{where}.call_id' must be the call_id of a function_call.", param=f"{where}.call_id")
            messages.append({"role": "tool", "tool_call_id": call_id, "content": _tool_output(item.get("output"), where)})
        elif kind == "reasoning":
            continue  # opaque reasoning of an earlier turn: nothing a local model can use
        elif kind == "item_reference":
            raise InvalidRequest(_NOT_STORED.format("item_reference"), param=where)
        else:
            raise InvalidRequest(
                f"'{where}.type' {kind!r} is not supported; use message, function_call or function_call_output items.",
                param=f"{where}.type",
            )
    return messages


def _message(item: dict[str, Any], where: str) -> dict[str, Any]:
    role = item.get("role")
    if not isinstance(role, str) or role not in _ROLES:  # a list or object is not hashable: check the type first
        raise InvalidRequest(f"'{where}.role' must be one of user, assistant, system, developer.", param=f"{where}.role")
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise InvalidRequest(f"'{where}.content' must be a string or an array of parts.", param=f"{where}.content")
    parts: list[dict[str, Any]] = []
    for here, part, kind in typed_items(content, f"{where}.content"):
        if kind in ("input_text", "output_text") and isinstance(part.get("text"), str):
            parts.append({"type": "text", "text": part["text"]})
        elif kind == "refusal" and isinstance(part.get("refusal"), str):
            parts.append({"type": "text", "text": part["refusal"]})
        elif kind == "input_image":
            parts.append(_image_part(part, here))
        else:
            raise InvalidRequest(f"'{here}' must be an input_text, output_text or input_image part.", param=here)
    return {"role": role, "content": parts}


def _image_part(part: dict[str, Any], here: str) -> dict[str, Any]:
    """An ``input_image`` → a chat ``image_url`` part. Only inline images: a URL would have to be
    fetched, and the gateway never fetches a URL a request names; a ``file_id`` names a file it
    does not store. Checked here, before any backend (Ollama answers bad base64 opaquely)."""
    url = part.get("image_url")
    if isinstance(url, str) and url[:8].lower().startswith(("http://", "https://")):
        raise InvalidRequest(
            f"'{here}.image_url' is an http(s) URL, and Atmosphere never fetches a URL a request names; "
            "send the image inline as a data: URL (data:image/png;base64,...).",
            param=f"{here}.image_url",
        )
    if url is None and part.get("file_id") is not None:
        raise InvalidRequest(
            f"'{here}.file_id' names an uploaded file, and Atmosphere stores no files; send the image as a data: URL.",
            param=f"{here}.file_id",
        )
    matched = _DATA_URL.match(url) if isinstance(url, str) else None
    if matched is None or not _is_base64(matched.string[matched.end() :]):
        raise InvalidRequest(
            f"'{here}.image_url' must be a data: URL with base64 image data (data:image/png;base64,...); "
            "Atmosphere never fetches URLs or files.",
            param=f"{here}.image_url",
        )
    detail = part.get("detail")
    return {"type": "image_url", "image_url": {"url": url, "detail": detail if detail in _CHAT_DETAILS else "auto"}}


def _is_base64(data: str) -> bool:
    try:
        binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError):
        return False
    return bool(data)


def _tool_output(output: Any, where: str) -> str | list[dict[str, Any]]:
    """A ``function_call_output``'s ``output`` → a tool message's content: its text, or (when it
    holds images, as Codex's ``view_image`` result does) its text and images as parts. Each
    adapter carries those images as its dialect can: on the tool message (Ollama) or on a user
    turn after the tool results (OpenAI-style chat, whose tool messages take text only)."""
    if isinstance(output, str):
        return output
    if not isinstance(output, list):
        raise InvalidRequest(f"'{where}.output' must be a string or an array of content items.", param=f"{where}.output")
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    for here, item, kind in typed_items(output, f"{where}.output"):
        if isinstance(item, dict) and kind in (None, "input_text", "output_text", "text") and isinstance(item.get("text"), str):
            texts.append(item["text"])
        elif kind == "input_image":
            images.append(_image_part(item, here))
        else:
            raise InvalidRequest(f"'{here}' must be an input_text or input_image item.", param=here)
    return tool_result_content("\n".join(texts), images)


def _response_format(text: Any) -> dict[str, Any] | None:
    """``text.format`` (flat json_schema) → chat's ``response_format`` (nested)."""
    if text is None:
        return None
    fmt = text.get("format") if isinstance(text, dict) else None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if fmt is None or kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema" and isinstance(fmt.get("schema"), dict) and isinstance(fmt.get("name"), str):
        _check_depth(fmt["schema"])
        return {"type": "json_schema", "json_schema": {"name": fmt["name"], "schema": fmt["schema"], "strict": fmt.get("strict")}}
    raise InvalidRequest(
        "'text.format' must be {type: text}, {type: json_object} or {type: json_schema, name, schema}.", param="text.format"
    )


def _check_depth(schema: dict[str, Any]) -> None:
    stack: list[tuple[Any, int]] = [(schema, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidRequest("'text.format.schema' is nested too deeply.", param="text.format.schema")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
