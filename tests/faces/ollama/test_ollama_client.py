"""The official ``ollama`` client and Open WebUI's Ollama connection, pointed at Atmosphere
(OLLAMA_HOST): they see every integration's models and are served through the executor."""

from __future__ import annotations

import base64

import ollama
import orjson
import pytest

from atmosphere.standins.catalog import Project, ProjectModel

SHARED = "llama3.2:latest"
FAST_CHAT = "/v1/projects/default/chatbot/chat/completions"  # where LlamaFarm serves "fast" (not its probes)
HELLO = [{"role": "user", "content": "hello"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def client(gateway) -> ollama.Client:
    return ollama.Client(host=gateway.url, timeout=10.0)


@pytest.fixture
def shared(backends, make_gateway):
    backends.llamafarm.state.projects.append(
        Project(name="shared", default_model=SHARED, models=[ProjectModel(SHARED, "ollama", "llama3.2:3b")])
    )
    return make_gateway(backends, health_interval=60)


def test_list_shows_ollama_and_llamafarm_models_in_ollama_shape(gateway):
    models = {m.model: m for m in client(gateway).list().models}
    assert {"llama3.2:latest", "nomic-embed-text:latest", "fast", "coder-small"} <= set(models)
    assert models["llama3.2:latest"].details.parameter_size == "3.2B"
    assert models["fast"].details.parent_model == "llama3.2:3b"  # the model behind the LlamaFarm alias
    with gateway.client() as http:
        raw = {m["name"]: m for m in http.get("/api/tags").json()["models"]}
    assert raw["llama3.2:latest"]["capabilities"] == ["completion", "tools"]
    assert raw["nomic-embed-text:latest"]["capabilities"] == ["embedding"]
    assert len(raw["fast"]["digest"]) == 64


def test_show_resolves_an_untagged_name_and_reports_capabilities(gateway):
    shown = client(gateway).show("llama3.2")
    assert shown.capabilities == ["completion", "tools"]
    assert shown.details.family == "llama"
    assert shown.modelinfo["llama.context_length"] == 131072  # the Ollama host's own model_info, passed on
    alias = client(gateway).show("fast")
    assert alias.modelinfo is None  # nothing known: the CLI prints from details instead
    assert "LlamaFarm project default/chatbot" in alias.modelfile


def test_show_of_an_unknown_model_is_a_404_in_ollama_shape(gateway):
    with pytest.raises(ollama.ResponseError) as caught:
        client(gateway).show("nope")
    assert caught.value.status_code == 404
    with gateway.client() as http:
        body = http.post("/api/show", json={"model": "nope"}).json()
    assert set(body) == {"error"} and "nope" in body["error"]


def test_chat_plain_and_streamed(gateway):
    answer = client(gateway).chat(model="llama3.2", messages=HELLO, stream=False)
    assert "Ollama emulator (llama3.2:latest)" in answer.message.content
    assert answer.done and answer.done_reason == "stop" and answer.eval_count and answer.total_duration
    parts = list(client(gateway).chat(model="llama3.2", messages=HELLO, stream=True))
    assert len(parts) > 2 and parts[-1].done and not any(p.done for p in parts[:-1])
    assert "".join(p.message.content for p in parts) == answer.message.content
    assert parts[-1].eval_count == answer.eval_count


def test_a_model_only_llamafarm_has_chats_through_the_ollama_api(gateway):
    answer = client(gateway).chat(model="fast", messages=HELLO, stream=False)
    assert "LlamaFarm emulator (chatbot/fast)" in answer.message.content
    streamed = "".join(p.message.content for p in client(gateway).chat(model="fast:latest", messages=HELLO, stream=True))
    assert "LlamaFarm emulator (chatbot/fast)" in streamed


def test_chat_streams_ndjson_by_default(gateway):
    with gateway.client() as http:
        response = http.post("/api/chat", json={"model": "qwen2.5:0.5b", "messages": HELLO})
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [orjson.loads(line) for line in response.text.splitlines()]
    final = lines[-1]
    assert final["done"] is True and final["done_reason"] == "stop"
    assert {"total_duration", "eval_count", "prompt_eval_count"} <= set(final)


def test_keep_alive_options_and_format_reach_the_ollama_backend(gateway, backends):
    client(gateway).chat(
        model="llama3.2",
        messages=HELLO,
        stream=False,
        keep_alive="10m",
        format="json",
        options={"temperature": 0.1, "num_predict": 5, "top_k": 7, "num_ctx": 2048},
    )
    sent = backends.ollama.state.recorded("/api/chat")[-1].json
    assert sent["keep_alive"] == "10m" and sent["format"] == "json"
    assert sent["options"] == {"temperature": 0.1, "num_predict": 5, "top_k": 7, "num_ctx": 2048}


def test_keep_alive_is_not_sent_to_llamafarm(gateway, backends):
    client(gateway).chat(model="fast", messages=HELLO, stream=False, keep_alive="10m", options={"top_k": 3})
    sent = backends.llamafarm.state.recorded(FAST_CHAT)[-1].json
    assert "keep_alive" not in sent and "ollama" not in sent and "options" not in sent


def test_images_reach_ollama_as_bare_base64(gateway, backends):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
    client(gateway).chat(model="llava", messages=[{"role": "user", "content": "what?", "images": [png]}], stream=False)
    sent = backends.ollama.state.recorded("/api/chat")[-1].json
    assert sent["messages"][0]["images"] == [png]


def test_a_tool_call_round_trip(gateway):
    ask = [{"role": "user", "content": "What is the weather in Paris?"}]  # the model calls tools only when asked
    first = client(gateway).chat(model="llama3.2", messages=ask, tools=[WEATHER], stream=False)
    (call,) = first.message.tool_calls
    assert call.function.name == "get_weather" and call.function.arguments == {"city": "Paris"}
    messages = [*ask, first.message, {"role": "tool", "tool_name": "get_weather", "content": "sunny"}]
    second = client(gateway).chat(model="llama3.2", messages=messages, tools=[WEATHER], stream=False)
    assert "get_weather returned: sunny" in second.message.content
    streamed = list(client(gateway).chat(model="llama3.2", messages=ask, tools=[WEATHER], stream=True))
    assert [c.function.arguments for p in streamed for c in (p.message.tool_calls or [])] == [{"city": "Paris"}]


def test_generate_plain_and_streamed(gateway):
    answer = client(gateway).generate(model="llama3.2", prompt="Once upon", stream=False)
    assert "You said: Once upon" in answer.response and answer.done_reason == "stop"
    parts = list(client(gateway).generate(model="llama3.2", prompt="Once upon", options={"num_predict": 3}, stream=True))
    assert parts[-1].done and parts[-1].done_reason == "length"


def test_embed_and_the_legacy_embeddings_call(gateway):
    embedded = client(gateway).embed(model="nomic-embed-text", input=["first", "second"])
    assert len(embedded.embeddings) == 2 and len(embedded.embeddings[0]) == 768
    legacy = client(gateway).embeddings(model="nomic-embed-text", prompt="first")
    assert legacy.embedding == pytest.approx(embedded.embeddings[0])


def test_ps_lists_what_is_loaded_after_a_chat(gateway):
    client(gateway).chat(model="qwen2.5:0.5b", messages=HELLO, stream=False)
    with gateway.client() as http:
        http.get("/v1/integrations", params={"refresh": "true"})
    running = client(gateway).ps().models
    assert "qwen2.5:0.5b" in [m.model for m in running]


@pytest.mark.parametrize("call", ["pull", "push", "create", "copy", "delete"])
def test_model_management_is_refused_with_a_501_that_says_where_to_do_it(gateway, call):
    with gateway.client() as http:
        response = http.request("DELETE" if call == "delete" else "POST", f"/api/{call}", json={"model": "x"})
    assert response.status_code == 501
    assert "on the integration itself" in response.json()["error"]


def test_version_answers_an_ollama_version_codex_accepts_and_names_atmosphere(gateway):
    from atmosphere import __version__

    with gateway.client() as http:
        assert http.get("/api/version").json() == {"version": "0.13.4", "atmosphere": __version__}


def test_an_error_body_is_ollama_shaped(gateway):
    with pytest.raises(ollama.ResponseError) as caught:
        client(gateway).chat(model="nope", messages=HELLO, stream=False)
    assert caught.value.status_code == 404
    with gateway.client() as http:
        missing = http.post("/api/chat", json={"messages": HELLO})
    assert missing.status_code == 400 and missing.json() == {"error": "model is required"}


def test_chat_falls_back_to_ollama_before_the_first_byte(shared, backends):
    backends.llamafarm.state.set_fault("error500")
    answer = client(shared).chat(model=SHARED, messages=HELLO, stream=False)
    assert "Ollama emulator" in answer.message.content
    backends.llamafarm.stop()
    streamed = "".join(p.message.content for p in client(shared).chat(model=SHARED, messages=HELLO, stream=True))
    assert "Ollama emulator" in streamed


def test_a_stream_cut_mid_way_ends_with_an_error_line(shared, backends):
    backends.llamafarm.state.set_fault("cut", cut_after=2)
    with shared.client() as http:
        response = http.post("/api/chat", json={"model": SHARED, "messages": HELLO})
    assert response.status_code == 200 and response.headers["x-atmosphere-backend"] == "llamafarm"
    lines = [orjson.loads(line) for line in response.text.splitlines()]
    assert set(lines[-1]) == {"error"} and "mid-stream" in lines[-1]["error"]
    assert not any(line.get("done") for line in lines)
    with pytest.raises(ollama.ResponseError):
        list(client(shared).chat(model=SHARED, messages=HELLO, stream=True))


def test_an_error_line_from_ollama_mid_stream_is_passed_on_as_an_error_line(gateway, backends):
    backends.ollama.state.set_fault("stream_error", cut_after=2)
    with gateway.client() as http:
        response = http.post("/api/chat", json={"model": "qwen2.5:0.5b", "messages": HELLO})
    lines = [orjson.loads(line) for line in response.text.splitlines()]
    assert [line["message"]["content"] for line in lines[:-1]] == ["Hello", " from"]
    assert "unexpected EOF" in lines[-1]["error"]


def test_a_tool_result_that_names_only_its_tool_reaches_llamafarm_with_the_call_id(gateway, backends):
    call = {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    messages = [
        *HELLO,
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_name": "get_weather", "content": "sunny"},
    ]
    client(gateway).chat(model="fast", messages=messages, tools=[WEATHER], stream=False)
    sent = backends.llamafarm.state.recorded(FAST_CHAT)[-1].json["messages"]
    assert sent[1]["tool_calls"][0]["id"] == sent[2]["tool_call_id"] == "call_1_0"
    assert sent[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
