"""LlamaFarm's project listings → the models Atmosphere can route, under stable ids.

Every model of every valid project is reachable as ``<project>/<model>`` (with several
namespaces, ``<namespace>/<project>/<model>``); the bare ``<model>`` also reaches it while
exactly one valid project defines that name. A project LlamaFarm lists with a
``validation_error`` is kept for the card but contributes nothing routable.

Secrets: a project's model entries may carry ``api_key`` in clear text. Only the fields
below are read (provider, model, and the host of ``base_url``, for readiness and
locality); nothing else of an entry is kept, so no key can be shown, logged or sent on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from atmosphere.domain import Project


@dataclass(frozen=True, slots=True)
class Target:
    """One routable project model: where chat goes, and what serves it behind LlamaFarm."""

    id: str  # the qualified id (``<project>/<model>`` or ``<namespace>/<project>/<model>``)
    namespace: str
    project: str
    alias: str  # the project's name for it: chat's ``model`` field
    provider: str | None
    model: str | None  # the target model behind the alias
    host: str | None  # scheme://host:port of ``base_url`` (never its path, query or credentials)


@dataclass(slots=True)
class Catalogue:
    projects: list[Project] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)  # valid projects' models, in order
    ids: dict[str, Target] = field(default_factory=dict)  # every id that routes → its target
    bare: dict[str, str] = field(default_factory=dict)  # qualified id → bare name, when unique
    defaults: dict[tuple[str, str], str] = field(default_factory=dict)  # (namespace, project) → default alias
    errors: list[str] = field(default_factory=list)  # broken projects, said on the card


def _origin(url: Any) -> str | None:
    """Only ``scheme://host:port`` of a URL: userinfo, path and query can hold secrets."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme or 'http'}://{host}" + (f":{port}" if port else "")


def project_models(config: Any) -> tuple[list[dict[str, Any]], str | None]:
    """A project's model entries and its default alias, from any of the three runtime shapes.

    ``runtime`` has been a list of ``{name, provider, model}`` (current docs), a dict of
    named models, or a legacy single ``provider`` + ``model``. Without ``default_model``
    LlamaFarm uses the first model.
    """
    runtime = config.get("runtime") if isinstance(config, dict) else None
    if not isinstance(runtime, dict):
        return [], None
    default = runtime.get("default_model")
    models = runtime.get("models")
    found: list[dict[str, Any]] = []
    if isinstance(models, list):
        found = [m for m in models if isinstance(m, dict) and isinstance(m.get("name"), str)]
    elif isinstance(models, dict):
        found = [{"name": name, **(spec if isinstance(spec, dict) else {})} for name, spec in models.items()]
    elif isinstance(runtime.get("model"), str):
        # Legacy single model: the alias is the model itself.
        found = [{"name": runtime["model"], "model": runtime["model"], "provider": runtime.get("provider")}]
    if not isinstance(default, str) and found:
        default = next((m["name"] for m in found if m.get("default") is True), found[0]["name"])
    return found, default if isinstance(default, str) else None


def _redact(text: str, entries: list[dict[str, Any]]) -> str:
    """A validation message with any ``api_key`` of the project blanked out."""
    for entry in entries:
        key = entry.get("api_key")
        if isinstance(key, str) and len(key) >= 4:
            text = text.replace(key, "***")
    return text[:300]


def build_catalogue(listings: list[tuple[str, Any]], multi_namespace: bool) -> Catalogue:
    """``listings``: (namespace, the ``GET /v1/projects/{namespace}`` answer) in priority order."""
    out = Catalogue()
    for namespace, doc in listings:
        entries = doc.get("projects") if isinstance(doc, dict) else None
        if not isinstance(entries, list):
            continue
        for entry in sorted((p for p in entries if isinstance(p, dict)), key=lambda p: str(p.get("name"))):
            name = entry.get("name")
            if not isinstance(name, str) or not name:
                continue
            found, default = project_models(entry.get("config"))
            invalid = entry.get("validation_error")
            error = _redact(str(invalid), found) if invalid is not None else None
            out.projects.append(Project(namespace, name, default, [m["name"] for m in found], error))
            if error is not None:
                out.errors.append(f"project {namespace}/{name} is invalid ({error})")
                continue
            if default is not None:
                out.defaults[(namespace, name)] = default
            prefix = f"{namespace}/{name}" if multi_namespace else name
            for spec in found:
                provider, model = spec.get("provider"), spec.get("model")
                out.targets.append(
                    Target(
                        id=f"{prefix}/{spec['name']}",
                        namespace=namespace,
                        project=name,
                        alias=spec["name"],
                        provider=provider if isinstance(provider, str) else None,
                        model=model if isinstance(model, str) else None,
                        host=_origin(spec.get("base_url")),
                    )
                )
    counts: dict[str, int] = {}
    for target in out.targets:
        counts[target.alias] = counts.get(target.alias, 0) + 1
    for target in out.targets:
        out.ids.setdefault(target.id, target)
    for target in out.targets:
        if counts[target.alias] == 1 and target.alias not in out.ids:
            out.ids[target.alias] = target  # a bare name, while exactly one project defines it
            out.bare[target.id] = target.alias
    return out
