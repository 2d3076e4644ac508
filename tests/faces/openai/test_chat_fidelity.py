"""/v1/chat/completions and /v1/models answer exactly as OpenAI clients expect them to."""

from __future__ import annotations

import json

import openai
import pytest

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
ASK = [{"role": "user", "content": "Weather in Paris?"}]
STOPS = ["<|im_end|>", "\n\nHuman:", "```", "</s>", "[/INST]", "Observation:"]


def test_a_long_stop_list_reaches_each_backend_whole(gateway, backends):
    client = gateway.openai()
    client.chat.completions.create(model="llama3.2", messages=ASK, stop=STOPS)
    client.chat.completions.create(model="fast", messages=ASK, stop=STOPS)
    assert backends.ollama.state.recorded("/api/chat")[-1].json["options"]["stop"] == STOPS
    assert backends.llamafarm.state.recorded("/v1/projects/default/chatbot/chat/completions")[-1].json["stop"] == STOPS


@pytest.mark.parametrize("model", ["fast", "llama3.2"])
def test_a_reply_has_refusal_null_and_no_null_fingerprint(gateway, model):
    with gateway.client() as client:
        body = client.post("/v1/chat/completions", json={"model": model, "messages": ASK}).json()
        with client.stream("POST", "/v1/chat/completions", json={"model": model, "messages": ASK, "stream": True}) as r:
            chunks = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    assert body["choices"][0]["message"]["refusal"] is None
    assert "system_fingerprint" not in body
    assert all("system_fingerprint" not in c for c in chunks)


def test_a_tool_call_reply_has_null_content_and_its_result_reaches_ollama_by_id_and_name(gateway, backends):
    client = gateway.openai()
    with gateway.client() as raw:
        body = raw.post("/v1/chat/completions", json={"model": "llama3.2", "messages": ASK, "tools": [WEATHER]}).json()
    message = body["choices"][0]["message"]
    assert message["content"] is None and body["choices"][0]["finish_reason"] == "tool_calls"
    call = message["tool_calls"][0]
    answer = client.chat.completions.create(
        model="llama3.2",
        tools=[WEATHER],
        messages=[*ASK, message, {"role": "tool", "tool_call_id": call["id"], "content": "18 degrees"}],
    )
    assert "18 degrees" in answer.choices[0].message.content
    sent = backends.ollama.state.recorded("/api/chat")[-1].json["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call["id"]
    assert sent[2] == {"role": "tool", "content": "18 degrees", "tool_name": "get_weather", "tool_call_id": call["id"]}


def test_logprobs_on_an_ollama_that_has_them_come_back_in_openai_shape(backends, make_gateway):
    backends.ollama.state.ollama_version = "0.13.0"
    client = make_gateway(backends).openai()
    answer = client.chat.completions.create(model="llama3.2", messages=ASK, logprobs=True, top_logprobs=2)
    tokens = answer.choices[0].logprobs.content
    assert "".join(t.token for t in tokens) == answer.choices[0].message.content
    assert all(len(t.top_logprobs) == 2 and t.logprob < 0 for t in tokens)
    sent = backends.ollama.state.recorded("/api/chat")[-1].json
    assert sent["logprobs"] is True and sent["top_logprobs"] == 2
    stream = client.chat.completions.create(model="llama3.2", messages=ASK, logprobs=True, stream=True)
    streamed = [t.token for c in stream if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.content]
    assert "".join(streamed) == answer.choices[0].message.content


def test_logprobs_from_a_backend_without_them_are_a_400_naming_it(gateway):
    client = gateway.openai()
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="llama3.2", messages=ASK, logprobs=True)
    assert "Ollama" in caught.value.body["message"] and "0.12.3" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="fast", messages=ASK, logprobs=True, stream=True)
    assert "LlamaFarm" in caught.value.body["message"] and "logprobs" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="llama3.2", messages=ASK, top_logprobs=3)
    assert caught.value.param == "top_logprobs"


def test_an_untagged_ollama_name_retrieves_its_latest_model_as_chat_would(gateway):
    client = gateway.openai()
    assert client.models.retrieve("llama3.2").id == "llama3.2:latest"
    assert client.models.retrieve("fast").owned_by == "llamafarm"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("llama3.2:70b")


def test_a_models_created_time_stays_put_across_probes(gateway):
    client = gateway.openai()
    before = {m.id: m.created for m in client.models.list()}
    with gateway.client() as raw:
        assert raw.get("/v1/integrations", params={"refresh": "true"}).status_code == 200
    after = {m.id: m.created for m in client.models.list()}
    assert before == after and before
