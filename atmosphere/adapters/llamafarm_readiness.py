"""Which LlamaFarm models can run now, and where they run (reference "Observed", O.2).

LlamaFarm's own ``/health`` verdict counts only its server and storage, so a model is
judged by what serves it:
- ``universal``: the Universal Runtime, whose ``/health`` we probe ourselves (the runtime
  URL is configured here);
- ``ollama``: the Ollama LlamaFarm uses, as LlamaFarm's ``/health`` names it in its
  ``ollama`` component (its status and host);
- any other provider with a ``base_url`` (``openai``, ``lemonade``): that host, but only
  when it can be checked without reaching out of this machine: it is a loopback address
  and LlamaFarm itself runs here. A host named by a project config elsewhere (the LAN, a
  hosted API) is never contacted; such a model counts as ready and a failure falls back.

Nothing here contacts a URL that a client request named: only configured hosts and the
ones LlamaFarm reports.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from atmosphere.adapters.llamafarm_catalog import Target
from atmosphere.locality import Locality, farthest, locality_of, seen_from

_MAX_HOST_CHECKS = 8  # a project list is small; bound the checks a probe makes anyway


@dataclass(slots=True)
class Upstreams:
    """What the last probe learnt about the things behind LlamaFarm."""

    server: Locality  # where the LlamaFarm server is, from here
    runtime_url: str
    runtime_down: str | None = None  # why the runtime is not usable, or None when it answers
    runtime_loaded: set[str] = field(default_factory=set)  # model ids the runtime has loaded
    ollama_host: str | None = None  # the Ollama LlamaFarm uses (from its /health), if known
    ollama_down: str | None = None  # why it is not usable, when LlamaFarm says so
    hosts_down: dict[str, str] = field(default_factory=dict)  # base_url origin → why it does not answer


def runtime_state(doc: Any, failure: str | None) -> tuple[str | None, set[str]]:
    """(why the runtime is down or None, the model ids it has loaded) from its ``/health``."""
    if failure is not None:
        return failure, set()
    if not isinstance(doc, dict):
        return "answer is not a health report", set()
    if str(doc.get("status", "")).lower() != "healthy":
        return f"reports {doc.get('status')!r}", set()
    keys = doc.get("loaded_models")
    return None, {model_of_cache_key(k) for k in keys if isinstance(k, str)} if isinstance(keys, list) else set()


def model_of_cache_key(key: str) -> str:
    """The model id in a runtime cache key (``language:<repo>:ctx…``, ``encoder:embedding:gguf:<repo>:…``).

    The key's fields are colon-separated and a repo id has none, but a GGUF quant suffix
    (``repo:Q4_K_M``) would be lost; loadedness is a hint, so that is acceptable.
    """
    parts = key.split(":")
    if parts[0] == "encoder" and len(parts) > 3:
        return parts[3]
    return parts[1] if len(parts) > 1 else key


def ollama_component(health: Any) -> tuple[str | None, str | None]:
    """(host, why down or None) of the ``ollama`` component of LlamaFarm's ``/health``."""
    components = health.get("components") if isinstance(health, dict) else None
    if not isinstance(components, list):
        return None, None
    for component in components:
        if isinstance(component, dict) and component.get("name") == "ollama":
            details = component.get("details")
            host = details.get("host") if isinstance(details, dict) and isinstance(details.get("host"), str) else None
            if str(component.get("status", "")).lower() == "healthy":
                return host, None
            message = component.get("message")
            return host, f"LlamaFarm reports it {component.get('status')}: {str(message)[:160] if message else 'no detail'}"
    return None, None


def _is_loopback(origin: str) -> bool:
    return locality_of(origin) == "local"


def checkable_hosts(targets: list[Target], server: Locality) -> list[str]:
    """The provider hosts we may check ourselves (see the module docstring)."""
    if server != "local":
        return []
    hosts = sorted({t.host for t in targets if t.host and t.provider not in ("universal", "ollama") and _is_loopback(t.host)})
    return hosts[:_MAX_HOST_CHECKS]


async def host_answers(origin: str, timeout: float) -> str | None:
    """None when something accepts a TCP connection at ``origin``; else why not."""
    parts = urlsplit(origin)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port), timeout)
    except (OSError, TimeoutError) as exc:
        return "connection refused" if isinstance(exc, ConnectionRefusedError) else "does not answer"
    writer.close()
    return None


def readiness(target: Target, up: Upstreams) -> str | None:
    """Why ``target`` cannot run now, or None when what serves it answers (or cannot be checked)."""
    if target.provider == "universal":
        if up.runtime_down:
            return f"the Universal Runtime at {up.runtime_url} is down ({up.runtime_down})"
        return None
    if target.provider == "ollama":
        if up.ollama_down:
            return f"the Ollama LlamaFarm uses ({up.ollama_host or 'its configured host'}) is down: {up.ollama_down}"
        return None
    if target.host and target.host in up.hosts_down:
        return f"its {target.provider or 'provider'} server at {target.host} {up.hosts_down[target.host]}"
    return None


def locality(target: Target, up: Upstreams) -> Locality:
    """Where a prompt for ``target`` goes, from here: the farthest of LlamaFarm and its provider."""
    if target.provider == "universal":
        return farthest(up.server, locality_of(up.runtime_url))
    if target.provider == "ollama":
        return seen_from(up.server, up.ollama_host or "localhost")
    if target.host:
        return seen_from(up.server, target.host)
    if target.provider == "openai":
        return "cloud"  # no base_url: the OpenAI API itself
    return up.server
