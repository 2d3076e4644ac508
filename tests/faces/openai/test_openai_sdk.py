"""The official OpenAI SDK, pointed at Atmosphere, must not notice it is not OpenAI."""

from __future__ import annotations

import json
import math

import openai
import pytest


def test_chat_through_sdk_is_served_by_llamafarm_for_its_alias(gateway):
    client = gateway.openai()
    raw = client.chat.completions.with_raw_response.create(
        model="fast", messages=[{"role": "user", "content": "Say hi"}], max_tokens=32
    )
    completion = raw.parse()
    assert raw.headers["x-atmosphere-backend"] == "llamafarm"
    assert completion.object == "chat.completion"
    assert completion.model == "fast"
    assert "LlamaFarm emulator" in completion.choices[0].message.content
    assert "Say hi" in completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_chat_for_a_model_only_ollama_has_goes_straight_to_ollama(gateway, backends):
    client = gateway.openai()
    raw = client.chat.completions.with_raw_response.create(model="qwen2.5:0.5b", messages=[{"role": "user", "content": "ping"}])
    completion = raw.parse()
    assert raw.headers["x-atmosphere-backend"] == "ollama"
    assert "Ollama emulator" in completion.choices[0].message.content
    assert "x-atmosphere-attempts" not in raw.headers  # LlamaFarm was never tried
    assert backends.llamafarm.state.recorded("/v1/projects/default/chatbot/chat/completions") == []
    assert completion.usage.completion_tokens > 0


def test_an_ollama_name_without_a_tag_means_latest(gateway):
    completion = gateway.openai().chat.completions.create(model="llama3.2", messages=[{"role": "user", "content": "x"}])
    assert completion.model == "llama3.2:latest"


def test_content_as_a_list_of_parts_is_accepted(gateway, backends):
    completion = gateway.openai().chat.completions.create(
        model="llama3.2",
        messages=[{"role": "user", "content": [{"type": "text", "text": "part one"}, {"type": "text", "text": "part two"}]}],
        temperature=0.2,
        top_p=0.5,
        max_completion_tokens=40,
        seed=7,
        stop=["END"],
    )
    assert "part one" in completion.choices[0].message.content
    sent = backends.ollama.state.recorded("/api/chat")[-1].json
    assert sent["stream"] is False
    assert sent["options"] == {"temperature": 0.2, "top_p": 0.5, "seed": 7, "stop": ["END"], "num_predict": 40}


@pytest.mark.parametrize("model, backend, marker", [("fast", "llamafarm", "LlamaFarm"), ("llama3.2", "ollama", "Ollama")])
def test_streaming_chat_through_sdk_from_each_backend(gateway, model, backend, marker):
    client = gateway.openai()
    with client.chat.completions.with_streaming_response.create(
        model=model,
        messages=[{"role": "user", "content": "stream please"}],
        stream=True,
        stream_options={"include_usage": True},
    ) as response:
        assert response.headers["x-atmosphere-backend"] == backend
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = list(response.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert marker in text and "stream please" in text
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert len({c.id for c in chunks}) == 1


def test_models_lists_both_backends_with_owner(gateway):
    models = {m.id: m for m in gateway.openai().models.list()}
    assert models["fast"].owned_by == "llamafarm"
    assert models["coder-small"].owned_by == "llamafarm"
    assert models["llama3.2:latest"].owned_by == "ollama"
    assert models["nomic-embed-text:latest"].owned_by == "ollama"
    assert gateway.openai().models.retrieve("llama3.2:latest").owned_by == "ollama"
    with pytest.raises(openai.NotFoundError) as err:
        gateway.openai().models.retrieve("no-such-model")
    assert err.value.code == "model_not_found"


def test_embeddings_through_sdk_default_base64_and_float(gateway):
    client = gateway.openai()
    raw = client.embeddings.with_raw_response.create(model="nomic-embed-text", input=["alpha", "beta"])
    result = raw.parse()  # the SDK asked for base64 and decodes float32 itself
    assert raw.headers["x-atmosphere-backend"] == "ollama"
    assert [d.index for d in result.data] == [0, 1]
    assert len(result.data[0].embedding) == 768
    assert math.isclose(sum(x * x for x in result.data[0].embedding), 1.0, rel_tol=1e-3)
    floats = client.embeddings.create(model="nomic-embed-text", input="alpha", encoding_format="float")
    assert floats.data[0].embedding == pytest.approx(result.data[0].embedding, rel=1e-5)


def test_embeddings_with_auto_model_go_to_llamafarm_runtime(gateway, backends):
    raw = gateway.openai().embeddings.with_raw_response.create(model="auto", input="hello")
    assert raw.headers["x-atmosphere-backend"] == "llamafarm"
    assert len(raw.parse().data[0].embedding) == 384
    assert backends.runtime.state.recorded("/v1/embeddings")


def test_embeddings_fall_back_to_ollama_when_the_runtime_fails(gateway, backends):
    backends.runtime.state.set_fault("error500")
    raw = gateway.openai().embeddings.with_raw_response.create(model="auto", input="hello")
    assert raw.headers["x-atmosphere-backend"] == "ollama"
    assert "llamafarm" in raw.headers["x-atmosphere-attempts"]


def test_unknown_model_is_a_404_model_not_found(gateway):
    with pytest.raises(openai.NotFoundError) as err:
        gateway.openai().chat.completions.create(model="gpt-17", messages=[{"role": "user", "content": "x"}])
    assert err.value.code == "model_not_found"
    assert "gpt-17" in err.value.body["message"]


def test_bad_request_raises_bad_request_error_with_param(gateway):
    with pytest.raises(openai.BadRequestError) as err:
        gateway.openai().chat.completions.create(model="fast", messages=[])
    assert err.value.param == "messages"
    assert err.value.type == "invalid_request_error"


def test_a_model_used_for_what_it_cannot_do_is_a_400(gateway):
    client = gateway.openai()
    with pytest.raises(openai.BadRequestError) as err:
        client.embeddings.create(model="fast", input="x")
    assert "does not support embeddings" in err.value.body["message"]
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="sentence-transformers/all-MiniLM-L6-v2", messages=[{"role": "user", "content": "x"}]
        )
    assert "does not support chat" in err.value.body["message"]


@pytest.mark.parametrize("model", ["fast", "llama3.2"])
def test_include_usage_puts_null_usage_on_every_chunk_but_the_last(gateway, model):
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "x"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with gateway.client() as client, client.stream("POST", "/v1/chat/completions", json=body) as response:
        events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
    assert all("usage" in e and e["usage"] is None for e in events[:-1])
    usage = events[-1]["usage"]
    assert events[-1]["choices"] == [] and usage["prompt_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
