"""The Ollama emulator does what real Ollama 0.5.4 did, and lists cloud models as newer ones do (issue 11)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from atmosphere.standins import EmulatorServer, EmulatorState, create_ollama_app
from atmosphere.standins.scenes import cloud_ollama_models, ollama_054
from harness.processes import EmulatorProcess


@pytest.fixture
def old() -> Iterator[tuple[EmulatorServer, EmulatorState]]:
    state = ollama_054(EmulatorState())
    with EmulatorServer(create_ollama_app(state)) as server:
        yield server, state


def test_0_5_4_reports_no_capabilities_and_counts_every_show(old):
    server, state = old
    with httpx.Client(base_url=server.url, timeout=3) as http:
        assert http.get("/api/version").json() == {"version": "0.5.4-ipexllm-20250407"}
        tags = http.get("/api/tags").json()["models"]
        assert all("capabilities" not in m and "context_length" not in m["details"] for m in tags)
        for _ in range(2):
            shown = http.post("/api/show", json={"model": "llama3.2:latest"}).json()
            assert "capabilities" not in shown and shown["model_info"]["llama.context_length"] == 131072
    assert state.show_calls["llama3.2:latest"] == 2


def test_0_5_4_answers_404_for_a_wrong_method_and_the_older_not_found_text(old):
    server, _ = old
    with httpx.Client(base_url=server.url, timeout=3) as http:
        wrong = http.get("/api/chat")
        assert (wrong.status_code, wrong.text) == (404, "404 page not found")
        missing = http.post("/api/chat", json={"model": "nope", "messages": [{"role": "user", "content": "x"}]})
        assert (missing.status_code, missing.json()) == (404, {"error": 'model "nope" not found, try pulling it first'})
        refused = http.post("/api/chat", json={"model": "nomic-embed-text", "messages": [{"role": "user", "content": "x"}]})
        assert refused.status_code == 400 and "does not support chat" in refused.json()["error"]


def test_current_ollama_still_answers_405_for_a_wrong_method():
    with EmulatorServer(create_ollama_app) as server:
        assert httpx.get(server.url + "/api/chat", timeout=3).status_code == 405


def test_cloud_models_carry_their_remote_host_in_tags_and_show():
    state = EmulatorState()
    state.models.extend(cloud_ollama_models())
    with EmulatorServer(create_ollama_app(state)) as server, httpx.Client(base_url=server.url, timeout=3) as http:
        tags = {m["name"]: m for m in http.get("/api/tags").json()["models"]}
        assert "remote_host" not in tags["llama3.2:latest"]
        cloud = tags["gpt-oss:120b-cloud"]
        assert (cloud["remote_host"], cloud["remote_model"]) == ("https://ollama.com:443", "gpt-oss:120b")
        shown = http.post("/api/show", json={"model": "gpt-oss:120b-cloud"}).json()
        assert shown["remote_host"] == "https://ollama.com:443"
        answer = http.post(
            "/api/chat", json={"model": "gpt-oss:120b-cloud", "messages": [{"role": "user", "content": "hi"}], "stream": False}
        )
        assert answer.status_code == 200  # answered by the stand-in itself: nothing is contacted


def test_a_process_mode_emulator_takes_scenes_and_knobs_from_flags():
    with EmulatorProcess("ollama", extra_args=["--scene", "ollama-0.5.4", "--scene", "cloud"]) as proc:
        tags = httpx.get(proc.url + "/api/tags", timeout=3).json()["models"]
        assert any(m.get("remote_host") for m in tags) and not any("capabilities" in m for m in tags)
    with EmulatorProcess("llamafarm", extra_args=["--scene", "real-world", "--set", "llamafarm_version=dev"]) as proc:
        assert httpx.get(proc.url + "/info", timeout=3).json()["version"] == "dev"
        team = httpx.get(proc.url + "/v1/projects/team", timeout=3).json()
        assert team["total"] == 1
