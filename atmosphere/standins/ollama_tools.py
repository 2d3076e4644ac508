"""Tool calling for the Ollama emulator, deterministic so tests can drive a round trip.

Real Ollama (shared/reference/ollama-api.md §U.4): a model with the ``tools`` capability
may answer with ``message.tool_calls`` (``id`` ``call_<8 alnum>``, ``arguments`` a JSON
object), on a ``done: false`` line when streaming, and the final line still says
``done_reason: "stop"``. A model without the capability refuses ``tools`` with a 400.

The emulator calls the first offered tool whenever the conversation does not end with a
tool result, filling the tool's required parameters from their JSON Schema types; after
a tool result it answers in text that quotes the result.
"""

from __future__ import annotations

import hashlib
from typing import Any

_SAMPLES: dict[str, Any] = {"string": "Paris", "integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {}}


def _arguments(parameters: Any) -> dict[str, Any]:
    if not isinstance(parameters, dict):
        return {}
    found = parameters.get("properties")
    properties: dict[str, Any] = found if isinstance(found, dict) else {}
    listed = parameters.get("required")
    required: list[Any] = listed if isinstance(listed, list) else list(properties)
    out: dict[str, Any] = {}
    for name in required:
        entry = properties.get(name)
        spec: dict[str, Any] = entry if isinstance(entry, dict) else {}
        enum = spec.get("enum")
        out[str(name)] = enum[0] if isinstance(enum, list) and enum else _SAMPLES.get(str(spec.get("type")), "Paris")
    return out


def planned_tool_call(body: dict[str, Any]) -> dict[str, Any] | None:
    """The call the emulated model makes for this request, or None to answer in text."""
    tools = body.get("tools")
    messages = body.get("messages")
    if not isinstance(tools, list) or not tools or not isinstance(messages, list) or not messages:
        return None
    if isinstance(messages[-1], dict) and messages[-1].get("role") == "tool":
        return None
    function = next((t.get("function") for t in tools if isinstance(t, dict) and isinstance(t.get("function"), dict)), None)
    if function is None or not isinstance(function.get("name"), str):
        return None
    seed = hashlib.sha256(repr(messages).encode()).hexdigest()[:8]
    return {
        "id": f"call_{seed}",
        "function": {"index": 0, "name": function["name"], "arguments": _arguments(function.get("parameters"))},
    }


def tool_result_reply(model: str, messages: Any) -> str | None:
    """The text answer after a tool result: names the tool and quotes what it returned."""
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
        return None
    last = messages[-1]
    if last.get("role") != "tool":
        return None
    tool = last.get("tool_name") or last.get("tool_call_id") or "the tool"
    return f"Hello from the Ollama emulator ({model})! {tool} returned: {last.get('content') or ''}"
