"""The plan's fleet steps (router/plan.py) on their own: pools of equals, the members of an
equivalent each host would be called with, and what a probe says is resident."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from atmosphere.domain import ModelInfo, ProbeResult
from atmosphere.router.equivalents import Equivalent, Equivalents
from atmosphere.router.plan import Candidate, equivalent_natives, pools


class Host:
    def __init__(self, host_id: str, kind: str, models: list[str]):
        self.id, self.type, self.models = host_id, kind, models

    def resolve_model(self, model: str) -> str | None:
        tagged = model if ":" in model or self.type != "ollama" else f"{model}:latest"
        return tagged if tagged in self.models else None


def candidate(host: Host, priority: int, substituted: bool = False) -> Candidate:
    backend: Any = host
    return Candidate(backend, host.models[0], priority, substituted=substituted)


def test_hosts_of_one_priority_form_one_pool_and_substitutes_start_their_own() -> None:
    a, b, c, d = (Host(i, "ollama", ["m:latest"]) for i in "abcd")
    found = pools([candidate(a, 0), candidate(b, 0), candidate(c, 0, substituted=True), candidate(d, 1)])
    assert [[x.host_id for x in pool] for pool in found] == [["a", "b"], ["c"], ["d"]]
    assert pools([]) == []


async def test_a_shared_name_reaches_each_member_by_its_own_name_in_priority_order(tmp_path: Path) -> None:
    equivalents = Equivalents(tmp_path / "models.toml")
    await equivalents.add(Equivalent("qwen3-4b", {"llamafarm": "chatbot/fast", "ollama": "qwen3:4b", "gpu": "qwen3"}))
    lf = Host("llamafarm", "llamafarm", ["chatbot/fast"])
    box = Host("box", "ollama", ["qwen3:4b"])  # no member of its own: the kind's applies
    gpu = Host("gpu", "ollama", ["qwen3:latest"])
    empty = Host("empty", "ollama", [])
    hosts: Any = [lf, box, gpu, empty]
    found = equivalent_natives(equivalents, "qwen3-4b", hosts)
    assert found is not None and found[1] is True
    assert [(h.id, native) for h, native in found[0]] == [
        ("llamafarm", "chatbot/fast"),
        ("box", "qwen3:4b"),
        ("gpu", "qwen3:latest"),
    ]
    natives = equivalent_natives(equivalents, "qwen3:4b", hosts)  # a member's own name: the others, as fallbacks
    assert natives is not None and natives[1] is False
    assert [(h.id, native) for h, native in natives[0]] == [("llamafarm", "chatbot/fast"), ("gpu", "qwen3:latest")]
    assert equivalent_natives(equivalents, "llama3.2", hosts) is None
    assert equivalent_natives(None, "qwen3-4b", hosts) is None


def test_what_is_resident_comes_from_each_probe_result_alone() -> None:
    first = ProbeResult("healthy", models=[ModelInfo("a", loaded=True), ModelInfo("b")])
    assert first.loaded() == {"a"} and first.loaded() is first.loaded()  # computed once per probe
    later = ProbeResult("healthy", models=[ModelInfo("b", loaded=True)])
    assert later.loaded() == {"b"} and first.loaded() == {"a"}  # nothing carried from one probe to the next
