"""The merged model catalogue (router/catalog.py) on its own: what /v1/models lists from a
registry of hosts that answer probes made up in the test, and the names an Ollama client means."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from atmosphere.domain import ModelInfo, ModelSheet, ProbeResult
from atmosphere.errors import BackendFailure
from atmosphere.router.catalog import Catalog, ollama_spellings
from atmosphere.router.equivalents import Equivalent, Equivalents
from atmosphere.state.registry import Registry


class Host:
    """A backend whose probe lists ``models``; resolves names as Ollama does (untagged = ``:latest``)."""

    type = "ollama"

    def __init__(self, host_id: str, models: list[ModelInfo], *, status: str = "healthy", sheet: Any = None):
        self.id = self.name = host_id
        self.url = f"http://{host_id}.invalid"
        self.models, self.status, self._sheet = models, status, sheet
        self.asked: list[str] = []

    async def probe(self) -> ProbeResult:
        return ProbeResult(self.status, models=self.models, error=None if self.status == "healthy" else "down")

    def resolve_model(self, model: str) -> str | None:
        names = {name for info in self.models for name in (info.id, *info.aliases)}
        tagged = model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"
        return next((name for name in (model, tagged) if name in names), None)

    async def model_sheet(self, model: str) -> ModelSheet | None:
        self.asked.append(model)
        if isinstance(self._sheet, Exception):
            raise self._sheet
        return self._sheet

    async def aclose(self) -> None:
        pass


async def catalog_of(tmp_path: Path, *hosts: Host, allow_cloud: bool = False, equivalents: Equivalents | None = None) -> Catalog:
    backends: Any = list(hosts)
    registry = Registry(backends, state_dir=tmp_path, probe_timeout=1, health_interval=60)
    await registry.scan()
    return Catalog(registry, equivalents, allow_cloud=allow_cloud)


def listed(catalog: Catalog) -> list[tuple[str, str]]:
    return [(m.id, m.owned_by) for m in catalog.models()]


async def test_a_name_two_hosts_serve_is_listed_once_under_the_first_in_priority(tmp_path: Path) -> None:
    first = Host("first", [ModelInfo("shared:latest"), ModelInfo("only-first:latest")])
    second = Host("second", [ModelInfo("shared:latest"), ModelInfo("only-second:latest")])
    catalog = await catalog_of(tmp_path, first, second)
    assert listed(catalog) == [("shared:latest", "first"), ("only-first:latest", "first"), ("only-second:latest", "second")]


async def test_offline_and_disabled_hosts_list_nothing_and_a_degraded_one_still_does(tmp_path: Path) -> None:
    down = Host("down", [ModelInfo("a:latest")], status="offline")
    off = Host("off", [ModelInfo("b:latest")])
    degraded = Host("degraded", [ModelInfo("c:latest")], status="degraded")
    catalog = await catalog_of(tmp_path, down, off, degraded)
    await catalog.registry.set_enabled("off", False)
    assert listed(catalog) == [("c:latest", "degraded")]


async def test_cloud_models_are_listed_only_when_allowed(tmp_path: Path) -> None:
    models = [ModelInfo("local:latest"), ModelInfo("gpt-oss:120b-cloud", locality="cloud")]
    assert [m for m, _ in listed(await catalog_of(tmp_path, Host("h", models)))] == ["local:latest"]
    allowed = await catalog_of(tmp_path, Host("h", models), allow_cloud=True)
    assert [m for m, _ in listed(allowed)] == ["local:latest", "gpt-oss:120b-cloud"]


async def test_each_alias_is_listed_and_created_stays_put_across_listings(tmp_path: Path) -> None:
    catalog = await catalog_of(tmp_path, Host("lf", [ModelInfo("fast", aliases=["chatbot/fast"])]))
    first = {m.id: m for m in catalog.models()}
    assert {m: (e.owned_by, e.native) for m, e in first.items()} == {"fast": ("lf", "fast"), "chatbot/fast": ("lf", "fast")}
    again = {m.id: m.created for m in catalog.models()}
    assert again == {m: e.created for m, e in first.items()}


async def test_a_shared_name_is_listed_under_the_first_host_with_a_member_described_by_it(tmp_path: Path) -> None:
    equivalents = Equivalents(tmp_path / "models.toml")
    await equivalents.add(Equivalent("qwen3-4b", {"small": "qwen3:4b", "big": "qwen3:4b-q8"}))
    small = Host("small", [ModelInfo("qwen3:4b", family="qwen3")])
    big = Host("big", [ModelInfo("qwen3:4b-q8")])
    catalog = await catalog_of(tmp_path, big, small, equivalents=equivalents)
    shared = {m.id: m for m in catalog.models()}["qwen3-4b"]
    assert (shared.owned_by, shared.native, shared.info.id) == ("big", "qwen3:4b-q8", "qwen3-4b")
    await catalog.registry.set_enabled("big", False)
    shared = {m.id: m for m in catalog.models()}["qwen3-4b"]
    assert (shared.owned_by, shared.native, shared.info.family) == ("small", "qwen3:4b", "qwen3")


async def test_a_host_model_named_like_a_shared_name_is_served_as_itself(tmp_path: Path) -> None:
    equivalents = Equivalents(tmp_path / "models.toml")
    await equivalents.add(Equivalent("llama3.2:latest", {"b": "llama3.2:3b"}))
    catalog = await catalog_of(
        tmp_path, Host("a", [ModelInfo("llama3.2:latest")]), Host("b", [ModelInfo("llama3.2:3b")]), equivalents=equivalents
    )
    assert [(m, owner) for m, owner in listed(catalog) if m.startswith("llama3.2:latest")] == [("llama3.2:latest", "a")]


def test_an_ollama_client_means_latest_by_a_name_without_a_tag() -> None:
    assert ollama_spellings("llama3.2") == ("llama3.2", "llama3.2:latest")
    assert ollama_spellings("llama3.2:3b") == ("llama3.2:3b",)
    assert ollama_spellings("fast:latest") == ("fast:latest", "fast")  # what it added to an alias
    assert ollama_spellings("chatbot/fast") == ("chatbot/fast", "chatbot/fast:latest")
    assert ollama_spellings("registry.local:5000/model") == ("registry.local:5000/model", "registry.local:5000/model:latest")


async def test_lookup_answers_the_spelling_a_host_or_the_models_file_knows_even_when_disabled(tmp_path: Path) -> None:
    equivalents = Equivalents(tmp_path / "models.toml")
    await equivalents.add(Equivalent("team-model", {"a": "llama3.2:latest"}))
    catalog = await catalog_of(tmp_path, Host("a", [ModelInfo("llama3.2:latest"), ModelInfo("fast")]), equivalents=equivalents)
    await catalog.registry.set_enabled("a", False)
    assert catalog.lookup("llama3.2") == "llama3.2"  # the host resolves it as given
    assert catalog.lookup("llama3.2:latest") == "llama3.2:latest"
    assert catalog.lookup("fast:latest") == "fast"
    assert catalog.lookup("team-model:latest") == "team-model"
    assert catalog.lookup("nobody-has-this") is None


async def test_a_model_is_found_by_its_id_or_the_name_a_host_resolves_it_from(tmp_path: Path) -> None:
    catalog = await catalog_of(tmp_path, Host("a", [ModelInfo("llama3.2:latest")]))
    by_id, untagged = catalog.model("llama3.2:latest"), catalog.model("llama3.2")
    assert by_id is not None and untagged is not None and untagged.id == by_id.id == "llama3.2:latest"
    assert catalog.model("qwen") is None


async def test_a_sheet_is_asked_of_the_owning_host_by_its_own_name_and_a_failure_is_none(tmp_path: Path) -> None:
    sheet = ModelSheet(metadata={"qwen3.context_length": 8192})
    equivalents = Equivalents(tmp_path / "models.toml")
    await equivalents.add(Equivalent("shared", {"a": "qwen3:4b"}))
    host = Host("a", [ModelInfo("qwen3:4b")], sheet=sheet)
    catalog = await catalog_of(tmp_path, host, equivalents=equivalents)
    entry = catalog.model("shared")
    assert entry is not None and await catalog.sheet(entry) == sheet
    assert host.asked == ["qwen3:4b"]
    host._sheet = BackendFailure("show: HTTP 500")
    assert await catalog.sheet(entry) is None
