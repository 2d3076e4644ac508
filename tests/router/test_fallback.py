"""LlamaFarm first, Ollama as the fallback: every way LlamaFarm can fail before answering."""

from __future__ import annotations

import httpx
import openai
import pytest

from atmosphere.standins.catalog import Project, ProjectModel

SHARED = "llama3.2:latest"  # a model both backends serve: a LlamaFarm alias and an Ollama model
ASK = {"model": SHARED, "messages": [{"role": "user", "content": "who answers?"}]}


@pytest.fixture
def shared(backends, make_gateway):
    """Both backends serve SHARED; a long health interval so the gateway learns of failures
    from the request itself, not from the monitor."""
    backends.llamafarm.state.projects.append(
        Project(name="shared", default_model=SHARED, models=[ProjectModel(SHARED, "ollama", "llama3.2:3b")])
    )
    return make_gateway(backends, health_interval=60)


def post_chat(gateway, **extra) -> httpx.Response:
    with gateway.client() as client:
        return client.post("/v1/chat/completions", json={**ASK, **extra})


def test_a_shared_model_is_served_by_llamafarm_first(shared):
    response = post_chat(shared)
    assert response.status_code == 200
    assert response.headers["x-atmosphere-backend"] == "llamafarm"
    assert "LlamaFarm emulator (shared/" in response.json()["choices"][0]["message"]["content"]


def test_chat_falls_back_to_ollama_when_llamafarm_refuses_connections(shared, backends):
    backends.llamafarm.stop()
    response = post_chat(shared)
    assert response.status_code == 200
    assert response.headers["x-atmosphere-backend"] == "ollama"
    assert "Ollama emulator" in response.json()["choices"][0]["message"]["content"]
    assert "llamafarm" in response.headers["x-atmosphere-attempts"]
    assert "refused" in response.headers["x-atmosphere-attempts"]


def test_chat_falls_back_to_ollama_when_llamafarm_answers_500(shared, backends):
    backends.llamafarm.state.set_fault("error500")
    response = post_chat(shared)
    assert response.headers["x-atmosphere-backend"] == "ollama"
    assert "HTTP 500" in response.headers["x-atmosphere-attempts"]


def test_chat_falls_back_when_the_model_went_missing_on_llamafarm(shared, backends):
    backends.llamafarm.state.projects[:] = [p for p in backends.llamafarm.state.projects if p.name != "shared"]
    response = post_chat(shared)
    assert response.status_code == 200
    assert response.headers["x-atmosphere-backend"] == "ollama"
    assert "404" in response.headers["x-atmosphere-attempts"]


def test_chat_falls_back_when_llamafarm_answers_garbage(shared, backends):
    backends.llamafarm.state.set_fault("malformed")
    assert post_chat(shared).headers["x-atmosphere-backend"] == "ollama"


def test_auto_model_uses_llamafarm_default_then_ollama_default(shared, backends):
    with shared.client() as client:
        first = client.post("/v1/chat/completions", json={**ASK, "model": "auto"})
        assert first.headers["x-atmosphere-backend"] == "llamafarm"
        backends.llamafarm.state.set_fault("error500")
        second = client.post("/v1/chat/completions", json={**ASK, "model": "auto"})
    assert second.headers["x-atmosphere-backend"] == "ollama"
    assert second.json()["model"] == "llama3.2:latest"


def test_masked_llamafarm_stream_failure_falls_back_before_any_byte(shared, backends):
    backends.llamafarm.state.set_fault("masked")
    stream = list(shared.openai().chat.completions.create(**ASK, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "Ollama emulator" in text
    assert "previous response wasn't very helpful" not in text


def test_stream_cut_before_its_first_chunk_falls_back(shared, backends):
    backends.llamafarm.state.set_fault("cut", cut_after=0)
    with shared.client() as client, client.stream("POST", "/v1/chat/completions", json={**ASK, "stream": True}) as r:
        assert r.headers["x-atmosphere-backend"] == "ollama"
        body = r.read().decode()
    assert body.endswith("data: [DONE]\n\n")
    assert '"error"' not in body


def test_stream_failing_mid_way_ends_with_an_error_event_and_done(shared, backends):
    """Once bytes reached the client, never switch backends: report the failure in-stream."""
    backends.llamafarm.state.set_fault("cut", cut_after=2)
    with shared.client() as client, client.stream("POST", "/v1/chat/completions", json={**ASK, "stream": True}) as r:
        assert r.status_code == 200
        assert r.headers["x-atmosphere-backend"] == "llamafarm"
        events = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert '"error"' in events[-2] and "mid-stream" in events[-2]
    assert events[-1] == "data: [DONE]"
    assert not any("Ollama" in e for e in events)
    with pytest.raises(openai.APIError):
        list(shared.openai().chat.completions.create(**ASK, stream=True))


def test_ollama_error_line_mid_stream_becomes_an_openai_error_event(gateway, backends):
    backends.ollama.state.set_fault("stream_error", cut_after=2)
    with (
        gateway.client() as client,
        client.stream("POST", "/v1/chat/completions", json={**ASK, "model": "qwen2.5:0.5b", "stream": True}) as r,
    ):
        events = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert '"type":"server_error"' in events[-2]


def test_no_reachable_backend_is_a_503_listing_each_backend(shared, backends):
    backends.llamafarm.stop()
    backends.ollama.stop()
    response = post_chat(shared)
    assert response.status_code == 503
    message = response.json()["error"]["message"]
    assert "llamafarm:" in message and "ollama:" in message
    assert response.json()["error"]["code"] == "no_backend_available"


def test_upstream_errors_everywhere_are_a_502(shared, backends):
    backends.llamafarm.state.set_fault("error500")
    backends.ollama.state.set_fault("error500")
    response = post_chat(shared)
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "server_error"


def test_an_upstream_timeout_is_a_504(backends, make_gateway):
    gateway = make_gateway(backends, health_interval=60, request_timeout=0.3)
    backends.ollama.state.set_fault("slow", delay=2)
    with gateway.client() as client:
        response = client.post("/v1/chat/completions", json={**ASK, "model": "qwen2.5:0.5b"})
    assert response.status_code == 504
    assert "timed out" in response.json()["error"]["message"]


def test_ollama_refusing_a_request_is_a_400_not_a_fallback(gateway):
    with gateway.client() as client:
        response = client.post("/v1/chat/completions", json={**ASK, "model": "nomic-embed-text"})
    assert response.status_code == 400
    assert "does not support chat" in response.json()["error"]["message"]
