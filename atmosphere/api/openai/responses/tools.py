"""What a Responses request's ``tools`` become for a local backend, and how calls find their way back.

A local model can run only function tools, so the offer is reduced to them:

- **Function tools** pass as chat's nested functions.
- **Namespace tools** (``{"type": "namespace", "name": "multi_agent_v1", "tools": [functions]}``,
  what Codex CLI 0.171 sends for its sub-agent tools) are flattened into their member
  functions. A member keeps its own name towards the backend unless that name is taken
  (by a top-level function or a member of another namespace): then it is
  ``<namespace>__<member>``. A call to a member goes back to the client as
  ``{"type": "function_call", "name": "<member>", "namespace": "<namespace>", ...}``:
  Codex routes a ``function_call`` by the pair, ``ToolName::new(namespace, name)`` in
  ``build_tool_call`` (openai/codex ``codex-rs/core/src/tools/router.rs``), so a flat or
  joined name would be an unknown tool to it. Codex replays that item in the next turn's
  ``input`` with the same two fields, which map back to the backend's name.
- **Everything else** is a tool the provider runs itself (``web_search``, ``file_search``,
  ``code_interpreter``, ``image_generation``, ``computer_use*``, ``mcp``, ``local_shell``,
  shell/apply-patch, and whatever type comes next) or a ``custom`` tool, which takes free
  text instead of JSON arguments. No local backend can run those, so they are dropped
  rather than refused: the client's default offer still works, and the answer says what
  was left out (``X-Atmosphere-Dropped-Tools`` and the request log's ``dropped_tools``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from atmosphere.api.body import typed_items
from atmosphere.errors import InvalidRequest

MAX_DROPPED = 32  # labels kept for the header and the log; a client chooses how many tools it sends
_LABEL_CHARS = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


@dataclass(slots=True)
class ToolOffer:
    """The functions offered to the backend, what was dropped, and the way back to the client's names."""

    functions: list[dict[str, Any]] = field(default_factory=list)  # chat's {"type": "function", "function": {...}}
    dropped: list[str] = field(default_factory=list)  # labels: a hosted tool's type, ``custom:<name>``
    echo: list[dict[str, Any]] = field(default_factory=list)  # the offer as the response object shows it, in order
    _members: dict[str, tuple[str, str]] = field(default_factory=dict)  # backend name → (namespace, member)
    _flat: dict[tuple[str, str], str] = field(default_factory=dict)  # (namespace, member) → backend name

    def client_name(self, backend_name: str) -> dict[str, str]:
        """A call's ``name`` (and ``namespace``, for a namespace member) as the client knows it."""
        member = self._members.get(backend_name)
        if member is None:
            return {"name": backend_name}
        return {"name": member[1], "namespace": member[0]}

    def backend_name(self, name: str, namespace: str | None) -> str:
        """The backend's name for a call the client replays (``namespace`` set for a member)."""
        if not namespace:
            return name
        return self._flat.get((namespace, name), name)

    def tool_choice(self, raw: Any) -> Any:
        """The request's ``tool_choice`` for the chat request (None: leave it out)."""
        choice = self._choice(raw)
        return choice if self.functions else None  # every tool dropped: nothing left to choose from

    def _choice(self, raw: Any) -> Any:
        if raw is None or raw in ("none", "auto", "required"):
            return raw
        kind = raw.get("type") if isinstance(raw, dict) else None
        if kind == "function" and isinstance(raw.get("name"), str):
            namespace = raw.get("namespace")
            name = self.backend_name(raw["name"], namespace if isinstance(namespace, str) else None)
            return {"type": "function", "function": {"name": name}}
        if kind == "allowed_tools":
            return "required" if raw.get("mode") == "required" else "auto"
        if isinstance(kind, str) and kind not in ("function", "namespace", "allowed_tools"):
            return "auto"  # a hosted tool's choice: that tool was dropped, the functions stay available
        raise InvalidRequest("'tool_choice' must be none, auto, required or a function tool choice.", param="tool_choice")


def tool_offer(raw: Any) -> ToolOffer:
    """``tools`` of a Responses request → the offer for a local backend (see the module docstring)."""
    offer = ToolOffer()
    if raw is None:
        return offer
    if not isinstance(raw, list):
        raise InvalidRequest("'tools' must be an array of tools.", param="tools")
    taken: set[str] = set()
    namespaces: list[tuple[int, dict[str, Any]]] = []
    echo: dict[int, dict[str, Any]] = {}
    for index, (where, tool, kind) in enumerate(_tools(raw, "tools")):
        if kind == "function":
            function = _function(tool, where)
            taken.add(function["name"])
            offer.functions.append({"type": "function", "function": function})
            echo[index] = _echoed(tool)
        elif kind == "namespace":
            namespaces.append((index, tool))
        else:
            _drop(offer, _label(kind, tool))
    for index, tool in namespaces:  # after every top-level name is known: members yield to them
        echo[index] = _flatten(offer, tool, f"tools[{index}]", taken)
    offer.echo = [echo[index] for index in sorted(echo)]
    return offer


def _tools(items: list[Any], where: str) -> Iterator[tuple[str, dict[str, Any], str]]:
    """Each tool of an array (``tools``, a namespace's members), where it is and its type; a 400
    for one that is not a tool object with a 'type'."""
    for here, tool, kind in typed_items(items, where):
        if not isinstance(tool, dict) or not isinstance(kind, str):
            raise InvalidRequest(f"'{here}' must be a tool object with a 'type'.", param=here)
        yield here, tool, kind


def _function(tool: dict[str, Any], where: str) -> dict[str, Any]:
    name, parameters = tool.get("name"), tool.get("parameters")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"'{where}.name' must be a non-empty string.", param=f"{where}.name")
    if parameters is not None and not isinstance(parameters, dict):
        raise InvalidRequest(f"'{where}.parameters' must be a JSON Schema object.", param=f"{where}.parameters")
    function: dict[str, Any] = {"name": name, "parameters": parameters or dict(_EMPTY_SCHEMA)}
    if isinstance(tool.get("description"), str):
        function["description"] = tool["description"]
    return function


def _flatten(offer: ToolOffer, tool: dict[str, Any], where: str, taken: set[str]) -> dict[str, Any]:
    """Offer a namespace's member functions; returns the namespace as the response object echoes it."""
    namespace, members = tool.get("name"), tool.get("tools")
    if not isinstance(namespace, str) or not namespace:
        raise InvalidRequest(f"'{where}.name' must be a non-empty string.", param=f"{where}.name")
    if not isinstance(members, list):
        raise InvalidRequest(f"'{where}.tools' must be an array of function tools.", param=f"{where}.tools")
    echoed: list[dict[str, Any]] = []
    for here, member, kind in _tools(members, f"{where}.tools"):
        if kind != "function":
            _drop(offer, _label(kind, member, f"{namespace}."))
            continue
        function = _function(member, here)
        flat = _unique(function["name"], namespace, taken)
        taken.add(flat)
        offer._members[flat] = (namespace, function["name"])
        offer._flat[(namespace, function["name"])] = flat
        offer.functions.append({"type": "function", "function": {**function, "name": flat}})
        echoed.append(_echoed(member))
    return {**tool, "tools": echoed}


def _unique(name: str, namespace: str, taken: set[str]) -> str:
    """The member's own name if free, else ``<namespace>__<member>`` (numbered if even that is taken)."""
    if name not in taken:
        return name
    joined = candidate = f"{namespace}__{name}"
    number = 2
    while candidate in taken:
        candidate = f"{joined}_{number}"
        number += 1
    return candidate


def _echoed(tool: dict[str, Any]) -> dict[str, Any]:
    """A function tool as the response object shows it: with ``strict`` (OpenAI's default is true)."""
    strict = tool.get("strict")
    return {**tool, "strict": strict if isinstance(strict, bool) else True}


def _label(kind: str, tool: dict[str, Any], prefix: str = "") -> str:
    """What the header and the log call a dropped tool: its type (``custom:<name>`` for a custom
    tool), header-safe and short, since the client wrote it."""
    name = tool.get("name")
    label = f"custom:{name}" if kind == "custom" and isinstance(name, str) and name else kind
    return _UNSAFE.sub("_", prefix + label)[:_LABEL_CHARS]


def _drop(offer: ToolOffer, label: str) -> None:
    if label not in offer.dropped and len(offer.dropped) < MAX_DROPPED:
        offer.dropped.append(label)
