"""Tool calling for the Ollama emulator, deterministic so tests can drive a round trip.

Real Ollama (shared/reference/ollama-api.md §U.4): a model with the ``tools`` capability
may answer with ``message.tool_calls`` (``id`` ``call_<8 alnum>``, ``arguments`` a JSON
object), on a ``done: false`` line when streaming, and the final line still says
``done_reason: "stop"``. A model without the capability refuses ``tools`` with a 400.

The emulated model calls a tool only when the user asks for it: the first offered tool
whose name the last user turn says (``get_weather`` for "weather in Paris?": the name's
words but a leading verb such as ``get``), filling the tool's required parameters from
their JSON Schema types (a string the user put in backticks fills the first string
parameter: "run `echo hi` with exec_command"); after a tool result it answers in text that
quotes the result. The user turn is read as it arrives: a string, or a list of text parts
(chat's ``text``, the Responses API's ``input_text``, which OpenAI-style backends pass on).
Text inside tags (Claude Code's ``<system-reminder>`` context) is not the user's ask, and
system turns after a tool result do not hide it. Never calling unprompted matters: Claude
Code offers a dozen tools on every turn, and a model that always calls the first one
(``Agent``) sends it into sub-agents without end.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

_SAMPLES: dict[str, Any] = {"string": "Paris", "integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {}}


def _arguments(parameters: Any, quoted: str | None = None) -> dict[str, Any]:
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
        if isinstance(enum, list) and enum:
            out[str(name)] = enum[0]
        elif quoted is not None and spec.get("type") == "string":
            out[str(name)], quoted = quoted, None
        else:
            out[str(name)] = _SAMPLES.get(str(spec.get("type")), "Paris")
    return out


_VERBS = frozenset({"get", "fetch", "set", "do", "run", "call"})
_TAGGED = re.compile(r"<([A-Za-z][\w-]*)>.*?</\1>", re.S)
_QUOTED = re.compile(r"`([^`\n]{1,200})`")
_TEXT_PARTS = frozenset({"text", "input_text"})
_NAME_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def _last_turn(messages: list[Any]) -> dict[str, Any] | None:
    """The last message that is not a system turn (agents add those after a tool result)."""
    return next((m for m in reversed(messages) if isinstance(m, dict) and m.get("role") != "system"), None)


def _user_text(messages: list[Any]) -> str:
    """The last user turn's text, without tagged context."""
    last = next((m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), None)
    content = last.get("content") if last else None
    if isinstance(content, list):
        parts = (p for p in content if isinstance(p, dict) and p.get("type") in _TEXT_PARTS)
        content = "\n".join(p["text"] for p in parts if isinstance(p.get("text"), str))
    return _TAGGED.sub(" ", content) if isinstance(content, str) else ""


def _ask(text: str) -> set[str]:
    """The words of the user's turn."""
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _asked_for(name: str, ask: set[str]) -> bool:
    words = [w.lower() for w in _NAME_WORDS.findall(name)]
    wanted = [w for w in words if w not in _VERBS] or words
    return bool(wanted) and all(w in ask or f"{w}s" in ask for w in wanted)


def planned_tool_call(body: dict[str, Any]) -> dict[str, Any] | None:
    """The call the emulated model makes for this request, or None to answer in text."""
    tools = body.get("tools")
    messages = body.get("messages")
    if not isinstance(tools, list) or not tools or not isinstance(messages, list) or not messages:
        return None
    last = _last_turn(messages)
    if last is None or last.get("role") == "tool":
        return None
    text = _user_text(messages)
    ask = _ask(text)
    offered = (t.get("function") if isinstance(t, dict) else None for t in tools)
    functions: list[dict[str, Any]] = [f for f in offered if isinstance(f, dict)]
    function = next((f for f in functions if isinstance(f.get("name"), str) and _asked_for(f["name"], ask)), None)
    if function is None:
        return None
    seed = hashlib.sha256(repr(messages).encode()).hexdigest()[:8]
    quoted = _QUOTED.search(text)
    arguments = _arguments(function.get("parameters"), quoted.group(1) if quoted else None)
    return {"id": f"call_{seed}", "function": {"index": 0, "name": function["name"], "arguments": arguments}}


def tool_result_reply(model: str, messages: Any) -> str | None:
    """The text answer after a tool result: names the tool and quotes what it returned."""
    if not isinstance(messages, list):
        return None
    last = _last_turn(messages)
    if last is None or last.get("role") != "tool":
        return None
    tool = last.get("tool_name") or last.get("tool_call_id") or "the tool"
    return f"Hello from the Ollama emulator ({model})! {tool} returned: {last.get('content') or ''}"
