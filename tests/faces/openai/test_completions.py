"""Legacy text completions (`client.completions.create`), as LlamaIndex's OpenAILike calls them."""

from __future__ import annotations

import json

import openai
import pytest

from atmosphere.standins.catalog import Project, ProjectModel

SHARED = "llama3.2:latest"


@pytest.fixture
def shared(backends, make_gateway):
    """SHARED is served by LlamaFarm (first) and Ollama; failures are learnt from requests."""
    backends.llamafarm.state.projects.append(
        Project(name="shared", default_model=SHARED, models=[ProjectModel(SHARED, "ollama", "llama3.2:3b")])
    )
    return make_gateway(backends, health_interval=60)


@pytest.mark.parametrize("model, backend, marker", [("fast", "llamafarm", "LlamaFarm"), ("llama3.2", "ollama", "Ollama")])
def test_a_completion_through_the_sdk_from_each_backend(gateway, model, backend, marker):
    raw = gateway.openai().completions.with_raw_response.create(model=model, prompt="Once upon a time", max_tokens=40)
    completion = raw.parse()
    assert raw.headers["x-atmosphere-backend"] == backend
    assert completion.object == "text_completion"
    assert completion.id.startswith("cmpl-")
    assert marker in completion.choices[0].text and "Once upon a time" in completion.choices[0].text
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_the_prompt_runs_as_a_generation_on_ollama_with_its_options(gateway, backends):
    gateway.openai().completions.create(
        model="llama3.2", prompt="def add(a, b):", suffix="    return c", max_tokens=12, temperature=0.1, stop=["\n\n"], seed=3
    )
    sent = backends.ollama.state.recorded("/api/generate")[-1].json
    assert sent["prompt"] == "def add(a, b):" and sent["suffix"] == "    return c"
    assert sent["stream"] is False
    assert sent["options"] == {"temperature": 0.1, "seed": 3, "stop": ["\n\n"], "num_predict": 12}
    assert not backends.ollama.state.recorded("/api/chat")


def test_a_streamed_completion_through_the_sdk(gateway):
    stream = gateway.openai().completions.create(
        model="llama3.2", prompt="stream this", stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert "Ollama emulator" in text and "stream this" in text
    assert all(c.object == "text_completion" for c in chunks)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert len({c.id for c in chunks}) == 1


def test_a_streamed_completion_is_sse_ending_with_done_and_null_usage_until_the_last(gateway):
    body = {"model": "fast", "prompt": "hi", "stream": True, "stream_options": {"include_usage": True}}
    with gateway.client() as client, client.stream("POST", "/v1/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line[6:]) for line in lines[:-1]]
    assert all(e["usage"] is None for e in events[:-1])
    usage = events[-1]["usage"]
    assert usage["prompt_tokens"] > 0 and usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_several_prompts_answer_as_several_choices(gateway):
    completion = gateway.openai().completions.create(model="llama3.2", prompt=["first one", "second one"])
    assert [c.index for c in completion.choices] == [0, 1]
    assert "first one" in completion.choices[0].text and "second one" in completion.choices[1].text
    stream = gateway.openai().completions.create(model="llama3.2", prompt=["first one", "second one"], stream=True)
    by_index: dict[int, str] = {}
    for chunk in stream:
        for choice in chunk.choices:
            by_index[choice.index] = by_index.get(choice.index, "") + choice.text
    assert "first one" in by_index[0] and "second one" in by_index[1]


@pytest.mark.parametrize(
    "extra, param",
    [
        ({"echo": True}, "echo"),
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"prompt": None}, "prompt"),
        ({"n": 2}, "n"),
        ({"best_of": 3}, "best_of"),
        ({"suffix": 5}, "suffix"),
        ({"logprobs": 2}, "logprobs"),
    ],
)
def test_what_local_backends_cannot_do_is_a_clear_400(gateway, extra, param):
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.openai().completions.create(**{"model": "llama3.2", "prompt": "x", **extra})
    assert caught.value.param == param


def test_a_suffix_for_a_llamafarm_model_is_refused_naming_llamafarm(gateway):
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.openai().completions.create(model="fast", prompt="x", suffix="y")
    assert "LlamaFarm" in caught.value.body["message"] and "suffix" in caught.value.body["message"]


def test_a_completion_falls_back_to_ollama_when_llamafarm_answers_500(shared, backends):
    backends.llamafarm.state.set_fault("error500")
    raw = shared.openai().completions.with_raw_response.create(model=SHARED, prompt="who answers?")
    assert raw.headers["x-atmosphere-backend"] == "ollama"
    assert "llamafarm" in raw.headers["x-atmosphere-attempts"]
    assert "Ollama emulator" in raw.parse().choices[0].text


def test_a_streamed_completion_falls_back_when_llamafarm_refuses_connections(shared, backends):
    backends.llamafarm.stop()
    body = {"model": SHARED, "prompt": "who answers?", "stream": True}
    with shared.client() as client, client.stream("POST", "/v1/completions", json=body) as response:
        assert response.headers["x-atmosphere-backend"] == "ollama"
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    text = "".join(c["text"] for line in lines[:-1] for c in json.loads(line[6:])["choices"])
    assert "Ollama emulator" in text


def test_a_completion_cut_mid_stream_ends_with_an_openai_error_event(gateway, backends):
    backends.ollama.state.set_fault("stream_error", cut_after=2)
    body = {"model": "llama3.2", "prompt": "tell me more", "stream": True}
    with gateway.client() as client, client.stream("POST", "/v1/completions", json=body) as response:
        assert response.status_code == 200
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert '"type":"server_error"' in events[-2] and "mid-stream" in events[-2]
    with pytest.raises(openai.APIError):
        list(gateway.openai().completions.create(model="llama3.2", prompt="again", stream=True))
