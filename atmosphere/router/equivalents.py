"""Model equivalents: one shared name for the same model on different backends.

The models file (``ATMOSPHERE_MODELS_FILE``, TOML, default ``<state_dir>/models.toml``)::

    [models.qwen3-4b]
    llamafarm = "chatbot/fast"   # a key is an integration id, or a kind for every host of it
    ollama = "qwen3:4b"

A request for ``qwen3-4b`` goes to the first ready backend in priority order and falls back
across the members; a request for a member's native name falls back to the other members.
Nothing is ever substituted unless the operator wrote (or accepted) it here: ``suggest``
only proposes, from family, parameter size and quantization.
"""

from __future__ import annotations

import asyncio
import logging
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atmosphere.domain import ModelInfo
from atmosphere.state import files
from atmosphere.state.hostlist import HostListError, check_id

log = logging.getLogger("atmosphere.equivalents")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")
MAX_EQUIVALENTS = 256  # shared names in the models file (one more is refused; beyond it, a file's rest ignored)
MAX_MEMBERS = 64  # members of one shared name: one per host at most, and hosts are capped at 64
MAX_MEMBER_CHARS = 256  # an integration id or a native model name


class EquivalentError(ValueError):
    """A shared name or its members are malformed."""


class TooManyEquivalents(EquivalentError):
    """The models file holds ``MAX_EQUIVALENTS`` already."""


@dataclass(frozen=True, slots=True)
class Equivalent:
    name: str
    members: dict[str, str]  # integration id or kind → native model

    def native_for(self, host_id: str, kind: str) -> str | None:
        return self.members.get(host_id) or self.members.get(kind)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "members": dict(self.members)}


def check(name: Any, members: Any) -> Equivalent:
    if not isinstance(name, str) or not _NAME.match(name):
        raise EquivalentError("'name' must be 1-128 letters, digits or . _ : / -, starting with a letter or digit")
    if not isinstance(members, dict) or len(members) < 1:
        raise EquivalentError("'members' must be an object of integration id → native model")
    if len(members) > MAX_MEMBERS:
        raise EquivalentError(f"'members' may name at most {MAX_MEMBERS} integrations")
    clean: dict[str, str] = {}
    for key, value in members.items():
        if not isinstance(key, str) or not key or not isinstance(value, str) or not value.strip():
            raise EquivalentError("every member must map an integration id to a non-empty model name")
        if len(key) > MAX_MEMBER_CHARS or len(value.strip()) > MAX_MEMBER_CHARS:
            raise EquivalentError(f"a member's integration id and model name are at most {MAX_MEMBER_CHARS} characters each")
        try:
            check_id(key)  # an integration id or a kind, spelt as every id is (a file is held to it too)
        except HostListError as exc:
            raise EquivalentError(f"members: {exc}") from None
        clean[key] = value.strip()
    return Equivalent(name, clean)


class Equivalents:
    """The models file, read at start and rewritten (atomically) when the operator accepts one."""

    def __init__(self, path: Path):
        self.path = path
        self._by_name: dict[str, Equivalent] = {}
        self._by_native: dict[str, list[Equivalent]] = {}
        self._lock = asyncio.Lock()
        self._load()

    def _load(self) -> None:
        document = files.read_document(self.path, lambda raw: tomllib.loads(raw.decode("utf-8")))
        table = document.get("models", {})
        if not isinstance(table, dict):
            files.warn_entry(self.path, "'models'", "it is not a table")
            return
        entries = list(table.items())
        if len(entries) > MAX_EQUIVALENTS:
            log.warning("ignoring the rest of %s: at most %d shared names are read", self.path, MAX_EQUIVALENTS)
        labelled = ((f"[models.{files.shown(n)}]", (n, m)) for n, m in entries[:MAX_EQUIVALENTS])
        for item in files.valid_entries(self.path, labelled, _checked):
            self._by_name[item.name] = item
        self._reindex()

    def _reindex(self) -> None:
        self._by_native = {}
        for item in self._by_name.values():
            for native in set(item.members.values()):
                self._by_native.setdefault(native, []).append(item)

    def all(self) -> list[Equivalent]:
        return list(self._by_name.values())

    def get(self, name: str) -> Equivalent | None:
        return self._by_name.get(name)

    def containing(self, native: str) -> list[Equivalent]:
        """The equivalents a native model name belongs to (to fall back across)."""
        return self._by_native.get(native, [])

    async def add(self, equivalent: Equivalent) -> None:
        """Save the file with ``equivalent`` added (or replaced), then use it; atomic, off the
        event loop, one save at a time; comments in the file are not kept. OSError: not saved,
        nothing changed."""
        # Shielded: a client that leaves mid-save must not leave the file saved and memory not.
        commit = asyncio.ensure_future(self._commit(equivalent))
        commit.add_done_callback(lambda task: task.cancelled() or task.exception())
        await asyncio.shield(commit)

    async def _commit(self, equivalent: Equivalent) -> None:
        async with self._lock:
            if equivalent.name not in self._by_name and len(self._by_name) >= MAX_EQUIVALENTS:
                raise TooManyEquivalents(
                    f"the models file holds {MAX_EQUIVALENTS} shared names already; remove one from it first"
                )
            by_name = {**self._by_name, equivalent.name: equivalent}
            await files.save(self.path, _render(by_name.values()))
            self._by_name = by_name
            self._reindex()


def _checked(entry: tuple[Any, Any]) -> Equivalent:
    return check(*entry)


def _render(equivalents: Iterable[Equivalent]) -> bytes:
    lines = ["# Model equivalents: one shared name for the same model on several integrations.", ""]
    for item in equivalents:
        lines.append(f"[models.{_toml_key(item.name)}]")
        lines.extend(f"{_toml_key(k)} = {_toml_string(v)}" for k, v in item.members.items())
        lines.append("")
    return "\n".join(lines).encode()


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_string(key)


# --- suggestions ---------------------------------------------------------------------------

_SIZE = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)\s*([bm])(?![a-z])", re.IGNORECASE)
_QUANT = re.compile(r"\b(i?q\d(?:_[a-z0-9]+)*|f16|bf16|fp16|f32)\b", re.IGNORECASE)


def signature(info: ModelInfo) -> tuple[str, str, str] | None:
    """(family, parameter size, quantization) of a model, from its details or its name."""
    source = info.backend_model or info.id
    base = source.rsplit("/", 1)[-1]
    family_match = re.match(r"[a-z]+[0-9.]*[a-z]*", base.lower())
    family = family_match.group().rstrip(".") if family_match else (info.family or "").lower()
    size = _size(info.parameter_size) or _size(base)
    quant_match = _QUANT.search(source.replace("-", " "))
    quant = (info.quantization or (quant_match.group() if quant_match else "")).upper()
    if not family or not size or not quant:
        return None
    return family, size, quant


def _size(text: str | None) -> str | None:
    match = _SIZE.search(text or "")
    if not match:
        return None
    return f"{float(match.group(1)):g}{match.group(2).lower()}"


def suggest(hosts: Iterable[tuple[str, list[ModelInfo]]], known: Equivalents) -> list[dict[str, Any]]:
    """Groups of models on different hosts that look like one model under different names.

    ``hosts`` is (integration id, models) in priority order. A group is offered only when its
    names differ (the same Ollama tag on three hosts needs no equivalent) and it is not
    already in the models file."""
    groups: dict[tuple[str, str, str], dict[str, str]] = {}
    for host_id, models in hosts:
        for info in models:
            if "embeddings" in info.capabilities and "chat" not in info.capabilities:
                continue
            sig = signature(info)
            if sig is not None:
                groups.setdefault(sig, {}).setdefault(host_id, info.id)
    suggestions = []
    for (family, size, quant), members in groups.items():
        if len(set(members.values())) < 2:
            continue
        if all(known.containing(native) for native in members.values()):
            continue  # the operator has this one already
        suggestions.append(
            {
                "name": f"{family}-{size}",
                "members": members,
                "reason": f"same family ({family}), parameter size ({size}) and quantization ({quant})",
            }
        )
    return suggestions
