"""Anthropic Messages requests → domain requests (no I/O).

A Messages request becomes a ``ChatRequest`` whose messages are in the domain's (OpenAI)
shape: ``system`` becomes a system message, ``text``/``image`` blocks content parts,
``tool_use`` blocks assistant tool calls and ``tool_result`` blocks tool messages
(shared/reference/anthropic-api.md §2, §9).

Deliberately not supported, and why:
- image ``url`` sources, in a user turn or a ``tool_result``: the gateway never fetches a URL
  a request names (400); base64 images in a ``tool_result`` (Claude Code's Read of a picture)
  go on its tool message as image parts (``domain.tool_result_content``);
- ``document``, ``search_result`` and server-tool blocks: no local backend reads them (400);
- server tools (``type`` other than ``custom``) are dropped, as Claude Code may offer them;
- ``thinking`` is ignored (answers never carry thinking blocks), and so are ``metadata``,
  ``context_management``, ``output_config``, ``cache_control``, every ``anthropic-beta``
  value and the ``?beta=true`` query (Claude Code sends them all; no local backend has
  them); ``thinking``/``redacted_thinking`` blocks replayed in earlier turns are dropped;
- system turns inside ``messages`` stay in place as system messages (the adapter of a
  backend that reads only one leading system message folds them: adapters/system_turns.py);
- ``tool_choice`` ``any``/``tool`` are passed on as OpenAI's ``required``/named choice, which
  Ollama ignores; ``none`` is honoured everywhere by offering no tools.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterator
from typing import Any

from atmosphere import jsonfast
from atmosphere.api.fields import ANTHROPIC, ANTHROPIC_METADATA, shown, wrong_field
from atmosphere.domain import OLLAMA_NATIVE, ChatRequest, tool_result_content
from atmosphere.errors import InvalidRequest
from atmosphere.router.answers import tokens_for_chars

_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}


# --- request --------------------------------------------------------------------------


def _number(data: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise InvalidRequest(f"{key}: must be a number between {low:g} and {high:g}")
    return value


def _positive_int(data: dict[str, Any], key: str, *, required: bool = False) -> int | None:
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidRequest(f"{key}: field required")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequest(f"{key}: must be a positive integer")
    return value


def _system_text(system: Any, where: str = "system") -> str | None:
    if system is None:
        return None
    if isinstance(system, str):
        return system or None
    if isinstance(system, list):
        texts = []
        for index, block in enumerate(system):
            if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
                raise InvalidRequest(f"{where}.{index}: must be a text block")
            texts.append(block["text"])
        return "\n\n".join(t for t in texts if t) or None
    raise InvalidRequest(f"{where}: must be a string or an array of text blocks")


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}.content: must be a string or an array of content blocks")
    for index, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise InvalidRequest(f"{where}.content.{index}: must be a content block with a type")
    return content


def _image_part(block: dict[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise InvalidRequest(f"{where}.source: field required")
    if source.get("type") == "url":
        raise InvalidRequest(
            f"{where}.source: is a url source, and Atmosphere never fetches a URL a request names; "
            "send the image as a base64 source"
        )
    if source.get("type") != "base64":
        raise InvalidRequest(f"{where}.source: only base64 images are supported (Atmosphere stores no files)")
    media_type, data = source.get("media_type"), source.get("data")
    if media_type not in _IMAGE_TYPES:
        raise InvalidRequest(f"{where}.source.media_type: must be one of {', '.join(sorted(_IMAGE_TYPES))}")
    if not isinstance(data, str) or not data:
        raise InvalidRequest(f"{where}.source.data: must be base64 text")
    try:  # here, before any backend: Ollama answers bad base64 with an opaque error
        # Line breaks are allowed (`base64` wraps at 76 columns; Go's decoder skips them).
        binascii.a2b_base64(data.replace("\r", "").replace("\n", "") if "\n" in data else data, strict_mode=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{where}.source.data: is not valid base64 (standard alphabet, padded)") from None
    return {"type": "image_url", "image_url": {"url": f"data:{media_type};base64,{data}"}}


def _tool_result_content(block: dict[str, Any], where: str) -> str | list[dict[str, Any]]:
    """A ``tool_result`` → a tool message's content: its text, with its images (Claude Code's
    Read of a picture) as image parts, checked as a user turn's are."""
    content = block.get("content")
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for index, item in enumerate(content):
            kind = item.get("type") if isinstance(item, dict) else None
            if kind == "image":
                images.append(_image_part(item, f"{where}.content.{index}"))
            elif isinstance(item, dict) and isinstance(item.get("text"), str):
                texts.append(item["text"])
            # Other blocks (Claude Code's tool_reference, a search_result) have nothing a
            # local model reads: skipped, as before, rather than refusing the agent's turn.
    elif content is not None:
        raise InvalidRequest(f"{where}.content: must be a string or an array of blocks")
    text = "\n".join(texts)
    return tool_result_content(f"Error: {text}" if block.get("is_error") else text, images)


def _read_blocks(blocks: list[dict[str, Any]], where: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """A turn's blocks a local model reads, each with where it is and its type: thinking blocks
    (replayed reasoning: local backends cannot use it) are left out, a text block's text checked."""
    for index, block in enumerate(blocks):
        at, kind = f"{where}.content.{index}", block["type"]
        if kind in ("thinking", "redacted_thinking"):
            continue
        if kind == "text" and not isinstance(block.get("text"), str):
            raise InvalidRequest(f"{at}.text: must be a string")
        yield at, kind, block


def _user_messages(blocks: list[dict[str, Any]], where: str, tool_names: dict[str, str]) -> list[dict[str, Any]]:
    """A user turn: its tool results first (each a tool message), then its text and images."""
    tool_messages: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for at, kind, block in _read_blocks(blocks, where):
        if kind == "text":
            parts.append({"type": "text", "text": block["text"]})
        elif kind == "image":
            parts.append(_image_part(block, at))
        elif kind == "tool_result":
            call_id = block.get("tool_use_id")
            if not isinstance(call_id, str) or not call_id:
                raise InvalidRequest(f"{at}.tool_use_id: field required")
            message = {"role": "tool", "tool_call_id": call_id, "content": _tool_result_content(block, at)}
            if call_id in tool_names:
                message["name"] = tool_names[call_id]  # Ollama matches results by tool name
            tool_messages.append(message)
        else:
            raise InvalidRequest(f"{at}: content blocks of type '{kind}' are not supported by LlamaFarm or Ollama")
    out = tool_messages
    if parts:
        only_text = all(p["type"] == "text" for p in parts)
        content: Any = "".join(p["text"] for p in parts) if only_text and len(parts) == 1 else parts
        out.append({"role": "user", "content": content})
    return out


def _assistant_message(blocks: list[dict[str, Any]], where: str, tool_names: dict[str, str]) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for at, kind, block in _read_blocks(blocks, where):
        if kind == "text":
            texts.append(block["text"])
        elif kind == "tool_use":
            call_id, name, arguments = block.get("id"), block.get("name"), block.get("input", {})
            if not isinstance(call_id, str) or not isinstance(name, str) or not isinstance(arguments, dict):
                raise InvalidRequest(f"{at}: a tool_use block needs a string id and name and an object input")
            tool_names[call_id] = name
            calls.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": _json(arguments)}})
        else:
            raise InvalidRequest(f"{at}: content blocks of type '{kind}' are not supported in assistant turns")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or (None if calls else "")}
    if calls:
        message["tool_calls"] = calls
    return message


def _merged_turns(messages: Any) -> list[tuple[str, list[dict[str, Any]], str]]:
    """Validated turns, consecutive same-role turns merged into one (as Anthropic does)."""
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: must be a non-empty array")
    turns: list[tuple[str, list[dict[str, Any]], str]] = []
    for index, message in enumerate(messages):
        where = f"messages.{index}"
        if not isinstance(message, dict):
            raise InvalidRequest(f"{where}: must be an object")
        role = message.get("role")
        if role == "system":
            # Claude Code's mid-conversation-system beta (sent for every model name it does
            # not know as a Claude model): a system turn kept at its place, never merged.
            text = _system_text(message.get("content"), f"{where}.content")
            turns.append(("system", [{"type": "text", "text": text or ""}], where))
            continue
        if role not in ("user", "assistant"):
            raise InvalidRequest(f"{where}.role: must be 'user', 'assistant' or 'system' (got {role!r})")
        blocks = _blocks(message.get("content"), where)
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, list(blocks), where))
    return turns


def chat_messages(system: Any, messages: Any) -> list[dict[str, Any]]:
    """Anthropic ``system`` + ``messages`` → domain (OpenAI-shaped) messages."""
    out: list[dict[str, Any]] = []
    text = _system_text(system)
    if text:
        out.append({"role": "system", "content": text})
    tool_names: dict[str, str] = {}
    for role, blocks, where in _merged_turns(messages):
        if role == "system":
            if blocks[0]["text"]:
                out.append({"role": "system", "content": blocks[0]["text"]})
        elif role == "user":
            out.extend(_user_messages(blocks, where, tool_names))
        else:
            out.append(_assistant_message(blocks, where, tool_names))
    return out


def _tools(data: dict[str, Any]) -> list[dict[str, Any]] | None:
    tools = data.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise InvalidRequest("tools: must be an array")
    out = []
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise InvalidRequest(f"tools.{index}: a tool needs a name")
        if tool.get("type") not in (None, "custom"):
            continue  # a server tool (web search, bash, ...): nothing local runs it
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            raise InvalidRequest(f"tools.{index}.input_schema: must be a JSON Schema object")
        function: dict[str, Any] = {"name": tool["name"], "parameters": schema}
        if isinstance(tool.get("description"), str):
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})
    return out or None


def _tool_choice(data: dict[str, Any]) -> Any:
    choice = data.get("tool_choice")
    if choice is None:
        return None
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind in _TOOL_CHOICES:
        return _TOOL_CHOICES[kind]
    if kind == "tool" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise InvalidRequest("tool_choice: must be {type: auto|any|none} or {type: tool, name}")


def _stop_sequences(data: dict[str, Any]) -> list[str] | None:
    stop = data.get("stop_sequences")
    if stop is None:
        return None
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise InvalidRequest("stop_sequences: must be an array of strings")
    return [s for s in stop if s] or None


def _typed(data: dict[str, Any]) -> None:
    """The fields the face ignores are still typed as Anthropic's API types them."""
    metadata = data.get("metadata")
    wrong = wrong_field(data, ANTHROPIC) or (wrong_field(metadata, ANTHROPIC_METADATA, "metadata.") if metadata else None)
    if wrong is not None:
        name, expect, value = wrong
        raise InvalidRequest(f"{name}: must be {expect.what} (got {shown(value)})")


def _require_model(data: dict[str, Any]) -> str:
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: field required")
    return model


def parse_messages_request(data: Any) -> ChatRequest:
    """A ``/v1/messages`` body → ``ChatRequest``; a 400 in Anthropic's words for bad input."""
    if not isinstance(data, dict):
        raise InvalidRequest("Request body must be a JSON object.")
    model = _require_model(data)
    _typed(data)
    max_tokens = _positive_int(data, "max_tokens", required=True)
    messages = chat_messages(data.get("system"), data.get("messages"))
    stream = data.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise InvalidRequest("stream: must be a boolean")
    extra: dict[str, Any] = {}
    tools, choice = _tools(data), _tool_choice(data)
    if choice == "none":
        tools = None  # the portable way to forbid tool use: offer none
    if tools:
        extra["tools"] = tools
        if choice is not None:
            extra["tool_choice"] = choice
    top_k = data.get("top_k")
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
            raise InvalidRequest("top_k: must be a non-negative integer")
        extra[OLLAMA_NATIVE] = {"options": {"top_k": top_k}}  # only Ollama has a top_k switch
    return ChatRequest(
        model=model,
        messages=messages,
        stream=stream,
        temperature=_number(data, "temperature", 0, 1),
        top_p=_number(data, "top_p", 0, 1),
        max_tokens=max_tokens,
        stop=_stop_sequences(data),
        include_usage=stream,  # the final message_delta reports usage
        extra=extra,
    )


def estimate_tokens(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> int:
    """About four characters a token over the messages (system prompt included) and the
    tools: an estimate, since no local backend offers a tokenizer endpoint to ask."""
    return max(1, tokens_for_chars(len(_json(messages)) + len(_json(tools or []))))


def count_tokens(data: Any) -> int:
    """A ``/v1/messages/count_tokens`` body → its estimated input tokens."""
    if not isinstance(data, dict):
        raise InvalidRequest("Request body must be a JSON object.")
    _require_model(data)
    return estimate_tokens(chat_messages(data.get("system"), data.get("messages")), _tools(data))


def _json(value: Any) -> str:
    return jsonfast.dumps(value).decode()
