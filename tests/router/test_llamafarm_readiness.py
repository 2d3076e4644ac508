"""Readiness per model (issue 11, items 1, 2 and 7): what a user of a real LlamaFarm sees.

LlamaFarm's own `/health` says healthy with its runtime down; Atmosphere judges each model
by what serves it, never sends a request to a model that cannot run, and says why.
"""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest

from atmosphere.standins.catalog import Project, ProjectModel
from atmosphere.standins.scenes import INVALID_PROVIDER_ERROR, ollama_054, real_world_projects

HI = [{"role": "user", "content": "who answers?"}]
LF_CHAT = "/v1/projects/default/{}/chat/completions"


def integrations(gateway: Any, refresh: bool = True) -> dict[str, dict[str, Any]]:
    """The cards, after a scan when ``refresh`` (the endpoint waits for it)."""
    with gateway.client() as client:
        body = client.get("/v1/integrations", params={"refresh": "true"} if refresh else None).json()
    return {item["id"]: item for item in body["integrations"]}


def chat(gateway: Any, model: str, **extra: Any) -> Any:
    return gateway.openai().chat.completions.with_raw_response.create(model=model, messages=HI, **extra)


def universal_only(backends: Any) -> None:
    """Every LlamaFarm model runs on the Universal Runtime."""
    backends.llamafarm.state.projects[:] = [
        Project(
            "chatbot",
            "fast",
            [
                ProjectModel("fast", "universal", "tiny/tiny-llama-GGUF"),
                ProjectModel("smart", "universal", "Qwen/Qwen2.5-0.5B-Instruct"),
            ],
        )
    ]


def test_auto_skips_llamafarm_models_whose_runtime_is_down(backends, make_gateway):
    universal_only(backends)
    gateway = make_gateway(backends, health_interval=60)
    assert chat(gateway, "auto").headers["x-atmosphere-backend"] == "llamafarm"
    backends.runtime.stop()

    card = integrations(gateway)["llamafarm"]  # the next probe
    answer = chat(gateway, "auto")

    assert card["status"] == "degraded"
    assert card["error"].startswith(f"fast, smart not ready: the Universal Runtime at {backends.runtime.url} is down")
    models = {m["id"]: m for m in card["models"]}
    assert models["fast"]["ready"] is False and "Universal Runtime" in models["fast"]["unavailable_reason"]
    assert answer.headers["x-atmosphere-backend"] == "ollama"
    assert "llamafarm: has no ready chat model" in answer.headers["x-atmosphere-attempts"]
    chats = backends.llamafarm.state.recorded(LF_CHAT.format("chatbot"))
    assert len(chats) == 1  # only the request before the runtime died: none at a model that is not ready


def test_a_named_model_whose_runtime_is_down_is_skipped_and_503_names_why(backends, make_gateway):
    universal_only(backends)
    gateway = make_gateway(backends, health_interval=60)
    backends.runtime.stop()
    integrations(gateway)

    with pytest.raises(openai.APIStatusError) as refused:
        chat(gateway, "smart")

    assert refused.value.status_code == 503
    message = refused.value.body["message"]
    assert "model smart is not ready" in message and f"Universal Runtime at {backends.runtime.url} is down" in message
    assert backends.llamafarm.state.recorded(LF_CHAT.format("chatbot")) == []


def llamafarm_card_once_ollama_is_seen_down(gateway: Any) -> dict[str, Any]:
    """A probe starts a /health read that sees Ollama down; a later probe uses it (bounded)."""
    for _ in range(10):
        card = integrations(gateway)["llamafarm"]
        if not next(m for m in card["models"] if m["id"] == "fast")["ready"]:
            break
    return card


def test_models_on_the_ollama_llamafarm_uses_follow_its_health_components(backends, make_gateway):
    gateway = make_gateway(backends, health_interval=60)
    backends.ollama.stop()
    card = llamafarm_card_once_ollama_is_seen_down(gateway)

    models = {m["id"]: m for m in card["models"]}
    assert models["fast"]["provider"] == "ollama" and models["fast"]["ready"] is False
    assert backends.ollama.url in models["fast"]["unavailable_reason"]
    assert models["smart"]["ready"] is True  # the runtime still answers
    assert card["default_model"] == "smart"  # the first ready model of the first valid project
    assert chat(gateway, "auto").headers["x-atmosphere-model"] == "smart"


def test_a_slow_llamafarm_health_check_holds_up_neither_the_scan_nor_the_card_latency(backends, make_gateway):
    backends.llamafarm.state.health_delay = 1.2  # as the real one, with no RAG worker
    gateway = make_gateway(backends, probe_timeout=1.0, health_interval=60)

    card = integrations(gateway)["llamafarm"]

    assert card["status"] == "healthy"
    assert card["latency_ms"] < 1000  # the liveness round trip, not the 1.2 s health check
    assert chat(gateway, "fast").headers["x-atmosphere-backend"] == "llamafarm"


def test_a_project_with_a_validation_error_is_shown_and_never_routed(backends, make_gateway):
    backends.llamafarm.state.projects[:] = real_world_projects(backends.runtime.url + "/v1")
    gateway = make_gateway(backends, health_interval=60)

    card = integrations(gateway)["llamafarm"]
    answer = chat(gateway, "auto")

    broken = next(p for p in card["projects"] if p["name"] == "aaa-broken")
    assert broken["validation_error"] == INVALID_PROVIDER_ERROR
    assert card["status"] == "degraded" and "project default/aaa-broken is invalid" in card["error"]
    assert not [m for m in card["models"] if m["project"] == "default/aaa-broken"]
    assert card["default_model"] == "chatbot/fast"  # the first valid project's default, not the broken one's
    assert (answer.headers["x-atmosphere-backend"], answer.headers["x-atmosphere-model"]) == ("llamafarm", "chatbot/fast")
    assert backends.llamafarm.state.recorded(LF_CHAT.format("aaa-broken")) == []


def test_the_default_model_setting_picks_what_auto_uses(backends, make_gateway):
    backends.llamafarm.state.projects[:] = real_world_projects(backends.runtime.url + "/v1")
    gateway = make_gateway(backends, llamafarm_default_model="notes/fast")

    answer = chat(gateway, "auto")

    assert answer.headers["x-atmosphere-model"] == "notes/fast"
    assert backends.llamafarm.state.recorded(LF_CHAT.format("notes"))[-1].json["model"] == "fast"


@pytest.mark.parametrize("status, error", [(422, "ProjectConfigError"), (404, "ProjectNotFound")])
def test_a_project_deleted_since_the_probe_falls_back_and_is_rescanned_at_once(backends, make_gateway, status, error):
    shared = "llama3.2:latest"  # served by both backends
    backends.llamafarm.state.projects.append(Project("shared", shared, [ProjectModel(shared, "ollama", "llama3.2:3b")]))
    backends.llamafarm.state.missing_project_status = status
    gateway = make_gateway(backends, health_interval=60)  # only the failure can trigger a scan
    assert chat(gateway, shared).headers["x-atmosphere-backend"] == "llamafarm"
    backends.llamafarm.state.projects.pop()

    answer = chat(gateway, shared)

    assert answer.headers["x-atmosphere-backend"] == "ollama"
    assert error in answer.headers["x-atmosphere-attempts"]
    deadline = time.monotonic() + 5  # the rescan the failure asked for (the monitor alone waits 60 s)
    while time.monotonic() < deadline:
        card = integrations(gateway, refresh=False)["llamafarm"]
        if shared not in {m["id"] for m in card["models"]}:
            break
    assert shared not in {m["id"] for m in card["models"]}


def test_attempts_list_only_backends_before_the_one_that_served(backends, make_gateway):
    gateway = make_gateway(backends)
    backends.ollama.stop()
    llamafarm_card_once_ollama_is_seen_down(gateway)  # else "auto" may still pick its Ollama model

    served_first = chat(gateway, "auto")
    backends.llamafarm.state.set_fault("error500")
    integrations(gateway)
    with pytest.raises(openai.APIStatusError) as failed:
        chat(gateway, "auto")

    assert served_first.headers["x-atmosphere-backend"] == "llamafarm"
    assert "x-atmosphere-attempts" not in served_first.headers  # Ollama, after it, was never in line
    assert "ollama" in failed.value.response.headers["x-atmosphere-attempts"]  # nothing served: all are news


def test_an_ollama_without_capabilities_is_asked_for_each_model_once(backends, make_gateway):
    ollama_054(backends.ollama.state)
    gateway = make_gateway(backends, health_interval=60)
    for _ in range(3):
        integrations(gateway)

    assert dict(backends.ollama.state.show_calls) == {m.name: 1 for m in backends.ollama.state.models}
    models = {m["id"]: m for m in integrations(gateway)["ollama"]["models"]}
    assert models["nomic-embed-text:latest"]["capabilities"] == ["embeddings"]


def test_a_llamafarm_that_is_not_a_release_says_so(backends, make_gateway):
    backends.llamafarm.state.llamafarm_version = "main"
    assert integrations(make_gateway(backends))["llamafarm"]["version"] == "main (not a release)"
