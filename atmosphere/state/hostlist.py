"""URL lists: which integrations the operator configured, and the stable id of each.

``ATMOSPHERE_OLLAMA_URL`` and ``ATMOSPHERE_LLAMAFARM_URL`` (and their flags, which may
repeat) take a comma list. Each item is ``url`` or ``name=url``; a LlamaFarm item may add
its Universal Runtime as ``url|runtime_url`` (default: the same host on port 11540).

Ids are stable across restarts because they come only from what the operator wrote:
the first unnamed host of a kind is ``ollama`` / ``llamafarm`` (what one-host installs
always had), later unnamed ones ``ollama-<host>-<port>``, a named one its name.
No I/O here: nothing is contacted until the registry probes what was listed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from atmosphere.host_policy import NO_EXCEPTIONS, AllowList, HostUrlRefused, normalize_host_url

Kind = Literal["llamafarm", "ollama"]
KINDS: tuple[Kind, ...] = ("llamafarm", "ollama")
RUNTIME_PORT = 11540
_DISPLAY = {"llamafarm": "LlamaFarm", "ollama": "Ollama"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$")
# Every integration id, from the settings, the dashboard or a state file: it names files'
# entries, URL paths and metric labels, so it is short and plain.
_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_MAX_ID = 64
_DISPLAY_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,200}")  # a saved name: printable, bounded


class HostListError(ValueError):
    """A host list item is malformed; the message names the item (``param``: the API field)."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


@dataclass(frozen=True, slots=True)
class HostSpec:
    """One integration as the operator gave it (the URL list item, or the dashboard's form)."""

    id: str
    kind: Kind
    name: str  # shown to people
    url: str
    runtime_url: str | None = None  # LlamaFarm only
    # Added from the dashboard or its file (not from settings). Never read from a file: what
    # the API may remove is decided by where a host came from, not by what a file says.
    removable: bool = False

    def to_saved(self) -> dict[str, Any]:
        """The entry ``hosts.json`` keeps for an added host."""
        return {k: v for k, v in asdict(self).items() if k != "removable"}

    @classmethod
    def from_saved(cls, data: Any, allow: AllowList = NO_EXCEPTIONS) -> HostSpec:
        """An added host read back from ``hosts.json``, checked field by field as the API checks it."""
        if not isinstance(data, dict):
            raise HostListError(f"expected an object, found {type(data).__name__}")
        host_id = check_id(data.get("id"))
        kind = data.get("kind")
        if kind not in KINDS:
            raise HostListError(f"'kind' must be 'ollama' or 'llamafarm' (got {kind!r:.40})")
        url = data.get("url")
        if not isinstance(url, str):
            raise HostListError("'url' must be a string")
        url = check_url(url, allow)
        name = data.get("name", host_id)
        if not isinstance(name, str) or not _DISPLAY_NAME.fullmatch(name):
            raise HostListError("'name' must be 1-200 printable characters")
        runtime = data.get("runtime_url")
        if runtime is not None and (not isinstance(runtime, str) or kind != "llamafarm"):
            raise HostListError("'runtime_url' must be a string, on a LlamaFarm integration only")
        runtime_url = check_url(runtime, allow) if runtime else (default_runtime_url(url) if kind == "llamafarm" else None)
        return cls(host_id, kind, name, url, runtime_url, removable=True)


def check_id(value: Any) -> str:
    """An integration id as every source must spell it: 1-64 of a-z, 0-9 and '-', not starting with '-'."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise HostListError(f"an integration id is 1-64 of a-z, 0-9 and '-', not starting with '-' (got {value!r:.40})")
    return value


def check_url(value: str, allow: AllowList = NO_EXCEPTIONS) -> str:
    """The base URL the host policy makes of ``value`` (host_policy.py), or HostListError."""
    try:
        return normalize_host_url(value, allow)
    except HostUrlRefused as exc:
        raise HostListError(str(exc)) from None


def default_runtime_url(url: str) -> str:
    """The Universal Runtime beside a LlamaFarm server: same scheme and host, port 11540."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"[{host}]:{RUNTIME_PORT}" if ":" in host else f"{host}:{RUNTIME_PORT}"
    return urlunsplit((parts.scheme, netloc, "", "", ""))


def host_port_id(kind: str, url: str) -> str:
    """``ollama-gpu-box-11434`` for ``http://gpu-box:11434``."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return slug(f"{kind}-{parts.hostname}-{port}")


def slug(text: str) -> str:
    """An id from free text, always one ``check_id`` accepts."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:_MAX_ID].rstrip("-") or "host"


def split_items(values: str | list[str] | tuple[str, ...]) -> list[str]:
    """Comma lists, possibly several of them (a repeated flag), as one list of items."""
    chunks = [values] if isinstance(values, str) else list(values)
    return [item.strip() for chunk in chunks for item in chunk.split(",") if item.strip()]


def parse_item(kind: Kind, item: str, allow: AllowList = NO_EXCEPTIONS) -> tuple[str | None, str, str | None]:
    """``name=url|runtime`` → (name or None, url, runtime url or None)."""
    name: str | None = None
    head, sep, tail = item.partition("=")
    if sep and "://" not in head:
        name = head.strip()
        item = tail.strip()
        if not name or not _NAME.match(name):
            raise HostListError(f"integration name {name!r} must be 1-63 letters, digits, spaces, '.', '_' or '-'")
    url, bar, runtime = item.partition("|")
    if bar and kind != "llamafarm":
        raise HostListError(f"only LlamaFarm integrations take a '|runtime_url' (got {item!r})")
    return name, check_url(url, allow), check_url(runtime, allow) if bar else None


def parse_hosts(
    kind: Kind,
    values: str | list[str] | tuple[str, ...],
    *,
    first_runtime: str | None = None,
    allow: AllowList = NO_EXCEPTIONS,
) -> list[HostSpec]:
    """The hosts of one kind, in the order given. ``first_runtime`` is the Universal Runtime
    of the first LlamaFarm host when set on its own (``ATMOSPHERE_LLAMAFARM_RUNTIME_URL``)."""
    specs: list[HostSpec] = []
    for position, item in enumerate(split_items(values)):
        name, url, runtime = parse_item(kind, item, allow)
        if name is not None:
            host_id = slug(name)
        elif position == 0:
            host_id = kind
        else:
            host_id = host_port_id(kind, url)
        if kind == "llamafarm" and runtime is None:
            runtime = first_runtime if position == 0 and first_runtime else default_runtime_url(url)
        display = name or (_DISPLAY[kind] if position == 0 else f"{_DISPLAY[kind]} ({urlsplit(url).netloc})")
        specs.append(HostSpec(host_id, kind, display, url, runtime))
    return specs


def unique(specs: list[HostSpec]) -> list[HostSpec]:
    """Refuse two hosts with one id (the id is what state and metrics are keyed by)."""
    seen: dict[str, HostSpec] = {}
    for spec in specs:
        if spec.id in seen:
            raise HostListError(f"two integrations would have the id {spec.id!r} ({seen[spec.id].url} and {spec.url}); name one")
        seen[spec.id] = spec
    return specs


def new_host(
    kind: str, name: str, url: str, runtime_url: str | None, taken: set[str], allow: AllowList = NO_EXCEPTIONS
) -> HostSpec:
    """A host the operator adds from the dashboard: id from its name, else from host and port."""
    if kind not in KINDS:
        raise HostListError("'kind' must be 'ollama' or 'llamafarm'", "kind")
    name = name.strip()
    if name and not _NAME.match(name):
        raise HostListError("'name' must be 1-63 letters, digits, spaces, '.', '_' or '-'", "name")
    checked = _field_url("url", url, allow)
    if runtime_url and kind != "llamafarm":
        raise HostListError("only LlamaFarm integrations take a 'runtime_url'", "runtime_url")
    runtime = (
        _field_url("runtime_url", runtime_url, allow)
        if runtime_url
        else (default_runtime_url(checked) if kind == "llamafarm" else None)
    )
    host_id = slug(name) if name else host_port_id(kind, checked)
    if host_id in taken:
        raise HostListError(f"an integration with the id {host_id!r} exists already; choose another name", "name")
    return HostSpec(host_id, kind, name or f"{_DISPLAY[kind]} ({urlsplit(checked).netloc})", checked, runtime, True)


def _field_url(param: str, value: str, allow: AllowList) -> str:
    try:
        return normalize_host_url(value, allow)
    except HostUrlRefused as exc:
        raise HostListError(f"'{param}' {exc}", param) from None
