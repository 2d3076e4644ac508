"""Local by default: a prompt stays on this machine or network unless cloud models are allowed."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from atmosphere.locality import locality_of, seen_from
from atmosphere.standins.scenes import cloud_ollama_models, real_world_projects

HI = [{"role": "user", "content": "where do you run?"}]
CLOUD = "gpt-oss:120b-cloud"


@pytest.fixture
def with_cloud(backends: Any) -> Any:
    backends.ollama.state.models.extend(cloud_ollama_models())
    backends.llamafarm.state.projects[:] = real_world_projects(backends.runtime.url + "/v1")
    return backends


def cards(gateway: Any) -> dict[str, dict[str, Any]]:
    with gateway.client() as client:
        return {i["id"]: i for i in client.get("/v1/integrations").json()["integrations"]}


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://127.0.0.1:11434", "local"),
        ("http://localhost:14345", "local"),
        ("http://[::1]:8080", "local"),
        ("http://192.168.1.20:11434", "lan"),
        ("http://10.0.0.5", "lan"),
        ("http://gpu-box.local:11434", "lan"),
        ("http://nas.lan", "lan"),
        ("http://gpu-box:11434", "lan"),
        ("https://api.openai.com/v1", "cloud"),
        ("https://ollama.com:443", "cloud"),
        ("http://8.8.8.8", "cloud"),
    ],
)
def test_locality_is_read_from_the_address_alone(url, expected):
    assert locality_of(url) == expected


def test_localhost_in_a_remote_llamafarm_config_means_that_machine():
    assert seen_from("lan", "http://localhost:11434") == "lan"
    assert seen_from("local", "https://api.example.com") == "cloud"


def test_cloud_models_are_shown_but_neither_listed_nor_routed_by_default(with_cloud, make_gateway):
    gateway = make_gateway(with_cloud)
    client = gateway.openai()

    found = cards(gateway)
    ids = {m.id for m in client.models.list()}
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client.chat.completions.create(model=CLOUD, messages=HI)
    with pytest.raises(openai.PermissionDeniedError) as hosted:
        client.chat.completions.create(model="hosted/default", messages=HI)

    ollama_models = {m["id"]: m for m in found["ollama"]["models"]}
    assert ollama_models[CLOUD]["locality"] == "cloud" and ollama_models["llama3.2:latest"]["locality"] == "local"
    llamafarm_models = {m["id"]: m for m in found["llamafarm"]["models"]}
    assert llamafarm_models["hosted/default"]["locality"] == "cloud"
    assert llamafarm_models["chatbot/fast"]["locality"] == "local"
    assert CLOUD not in ids and "hosted/default" not in ids and "llama3.2:latest" in ids
    for error in (refused.value, hosted.value):
        assert error.status_code == 403 and error.body["code"] == "model_not_local"
        assert "ATMOSPHERE_ALLOW_CLOUD" in error.body["message"]
    assert not with_cloud.ollama.state.recorded("/api/chat")
    assert not with_cloud.llamafarm.state.recorded("/v1/projects/default/hosted/chat/completions")


def test_auto_never_picks_a_cloud_model(backends, make_gateway):
    backends.ollama.state.models[:] = cloud_ollama_models()  # an Ollama with only cloud models
    gateway = make_gateway(backends)
    backends.llamafarm.stop()

    with pytest.raises(openai.APIStatusError) as failed:
        gateway.openai().chat.completions.create(model="auto", messages=HI)

    assert failed.value.status_code == 503
    assert not backends.ollama.state.recorded("/api/chat")


def test_cloud_models_are_listed_and_routed_when_allowed(with_cloud, make_gateway):
    gateway = make_gateway(with_cloud, allow_cloud=True)
    client = gateway.openai()

    ids = {m.id for m in client.models.list()}
    answer = client.chat.completions.with_raw_response.create(model=CLOUD, messages=HI)

    assert {CLOUD, "hosted/default"} <= ids
    assert answer.headers["x-atmosphere-backend"] == "ollama"
