"""Every project, honest streams and usage, embeddings that can load (issue 11, items 3-6),
told as what a client of a real LlamaFarm install sees through the official OpenAI SDK."""

from __future__ import annotations

import logging
from typing import Any

import openai
import pytest

from atmosphere.standins.llamafarm_chat import MAX_ITERATIONS_MESSAGE
from atmosphere.standins.scenes import HOSTED_API_KEY, LOCAL_API_KEY, real_world_projects

HI = [{"role": "user", "content": "hi there friend"}]
EMBED = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture
def lived_in(backends: Any) -> Any:
    """The real-world projects; `chatbot/cpp` is an OpenAI-style server (the runtime stand-in)."""
    backends.llamafarm.state.projects[:] = real_world_projects(backends.runtime.url + "/v1")
    return backends


def model_ids(gateway: Any) -> set[str]:
    return {m.id for m in gateway.openai().models.list()}


def test_every_project_model_is_reachable_as_project_slash_model(lived_in, make_gateway):
    gateway = make_gateway(lived_in)
    client = gateway.openai()

    ids = model_ids(gateway)
    answer = client.chat.completions.with_raw_response.create(model="notes/fast", messages=HI)
    bare = client.chat.completions.with_raw_response.create(model="cpp", messages=HI)

    assert {"chatbot/fast", "notes/fast", "chatbot/cpp", "cpp", "notes/default", "chatbot/ollama"} <= ids
    assert "fast" not in ids  # two valid projects define it: only the qualified ids reach it
    assert not any(i.startswith("aaa-broken/") for i in ids)
    assert answer.headers["x-atmosphere-model"] == "notes/fast"
    [sent] = lived_in.llamafarm.state.recorded("/v1/projects/default/notes/chat/completions")
    assert sent.json["model"] == "fast"
    assert bare.headers["x-atmosphere-backend"] == "llamafarm"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="fast", messages=HI)


def test_several_namespaces_give_namespace_project_model_ids(lived_in, make_gateway):
    gateway = make_gateway(lived_in, llamafarm_namespace="default,team")

    ids = model_ids(gateway)
    gateway.openai().chat.completions.create(model="team/chatbot/fast", messages=HI)

    assert {"default/chatbot/fast", "team/chatbot/fast", "default/notes/fast"} <= ids
    assert lived_in.llamafarm.state.recorded("/v1/projects/team/chatbot/chat/completions")


def test_provider_secrets_are_never_shown_logged_or_forwarded(lived_in, make_gateway, caplog):
    caplog.set_level(logging.DEBUG)
    gateway = make_gateway(lived_in)
    with gateway.client() as client:
        shown = client.get("/v1/integrations", params={"refresh": "true"}).text + client.get("/v1/models").text
        client.post("/v1/chat/completions", json={"model": "cpp", "messages": HI})
        client.post("/v1/chat/completions", json={"model": "hosted/default", "messages": HI})
        client.post("/v1/chat/completions", json={"model": "aaa-broken/default", "messages": HI})
    forwarded = repr([r.as_dict() for r in lived_in.llamafarm.state.recorded()])

    for secret in (LOCAL_API_KEY, HOSTED_API_KEY):
        assert secret not in shown and secret not in caplog.text and secret not in forwarded
    assert '"provider":"openai"' in shown  # the card still says what serves the model


def test_llamafarm_request_fields_pass_through_untouched(lived_in, make_gateway):
    gateway = make_gateway(lived_in)
    fields = {
        "rag_enabled": True,
        "database": "docs",
        "rag_top_k": 3,
        "rag_score_threshold": 0.5,
        "rag_queries": ["what is atmosphere"],
        "think": False,
        "thinking_budget": 64,
        "variables": {"user_name": "Ada"},
        "n_ctx": 2048,
    }

    gateway.openai().chat.completions.create(model="cpp", messages=HI, extra_body=fields)

    [sent] = lived_in.llamafarm.state.recorded("/v1/projects/default/chatbot/chat/completions")
    assert {key: sent.json[key] for key in fields} == fields


def test_a_client_session_id_reaches_llamafarm_and_stateless_otherwise(lived_in, make_gateway):
    gateway = make_gateway(lived_in)
    client = gateway.openai()

    client.chat.completions.create(model="cpp", messages=HI, extra_headers={"X-Session-ID": "my-session-1"})
    client.chat.completions.create(model="cpp", messages=HI)

    with_session, stateless = lived_in.llamafarm.state.recorded("/v1/projects/default/chatbot/chat/completions")
    assert with_session.headers["x-session-id"] == "my-session-1" and "x-no-session" not in with_session.headers
    assert "x-session-id" not in stateless.headers and stateless.headers["x-no-session"] == "true"


@pytest.mark.parametrize("model", ["cpp", "chatbot/ollama", "llama3.2"])
def test_a_stream_that_stops_on_length_ends_once_with_one_finish_reason(lived_in, make_gateway, model):
    gateway = make_gateway(lived_in)

    chunks = list(
        gateway.openai().chat.completions.create(
            model=model, messages=HI, stream=True, max_tokens=2, stream_options={"include_usage": True}
        )
    )

    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from" and MAX_ITERATIONS_MESSAGE not in text
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 2


def test_usage_never_says_nothing_was_generated(lived_in, make_gateway):
    gateway = make_gateway(lived_in)
    client = gateway.openai()

    plain = client.chat.completions.with_raw_response.create(model="chatbot/fast", messages=HI)
    streamed = list(
        client.chat.completions.create(model="chatbot/fast", messages=HI, stream=True, stream_options={"include_usage": True})
    )
    counted = client.chat.completions.with_raw_response.create(model="cpp", messages=HI)

    usage = plain.parse().usage
    assert usage.prompt_tokens == 3  # the runtime's own prompt count is kept
    assert usage.completion_tokens > 0 and plain.headers["x-atmosphere-usage"] == "estimated"
    deltas = [c for c in streamed if c.choices and c.choices[0].delta.content]
    assert streamed[-1].usage.completion_tokens == len(deltas)
    assert "x-atmosphere-usage" not in counted.headers  # the openai provider counts for real


def test_an_embedding_model_the_runtime_cannot_load_is_not_advertised(backends, make_gateway):
    backends.llamafarm.state.hf_cache = []  # not cached, and the runtime has not loaded it
    gateway = make_gateway(backends)

    ids = model_ids(gateway)
    served = gateway.openai().embeddings.with_raw_response.create(model="auto", input="hello")

    assert EMBED not in ids
    assert served.headers["x-atmosphere-backend"] == "ollama"
    assert backends.runtime.state.recorded("/v1/embeddings") == []


def test_after_a_runtime_500_the_embedding_model_is_not_ready_until_the_next_probe(backends, make_gateway):
    backends.runtime.state.runtime_models.remove(EMBED)  # in the cache, but it will not load
    gateway = make_gateway(backends, health_interval=60)
    client = gateway.openai()

    with pytest.raises(openai.APIStatusError) as first:
        client.embeddings.create(model=EMBED, input="hello")
    with pytest.raises(openai.APIStatusError) as second:
        client.embeddings.create(model=EMBED, input="hello")

    assert first.value.status_code == 502  # the runtime's own 500 (tried once)
    assert second.value.status_code == 503 and "not ready" in second.value.body["message"]
    assert len(backends.runtime.state.recorded("/v1/embeddings")) == 1
    backends.runtime.state.runtime_models.append(EMBED)
    with gateway.client() as http:
        http.get("/v1/integrations", params={"refresh": "true"})
    assert len(client.embeddings.create(model=EMBED, input="hello").data) == 1
