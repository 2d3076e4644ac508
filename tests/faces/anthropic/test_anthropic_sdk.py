"""Claude Code and the official ``anthropic`` SDK, pointed at Atmosphere (ANTHROPIC_BASE_URL)."""

from __future__ import annotations

import anthropic
import pytest

from atmosphere.api.anthropic import routes as anthropic_face
from atmosphere.standins.catalog import Project, ProjectModel

SHARED = "llama3.2:latest"  # a LlamaFarm alias and an Ollama model at once
HELLO = [{"role": "user", "content": "hello"}]
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def client(gateway, **kwargs) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key="not-needed", max_retries=0, timeout=10.0, **kwargs)


@pytest.fixture
def shared(backends, make_gateway):
    backends.llamafarm.state.projects.append(
        Project(name="shared", default_model=SHARED, models=[ProjectModel(SHARED, "ollama", "llama3.2:3b")])
    )
    return make_gateway(backends, health_interval=60)


def test_messages_create_answers_from_a_llamafarm_model(gateway):
    message = client(gateway).messages.create(model="fast", max_tokens=64, system="Be brief.", messages=HELLO)
    assert message.type == "message" and message.role == "assistant"
    assert "LlamaFarm emulator (chatbot/fast)" in message.content[0].text
    assert message.stop_reason == "end_turn"
    assert message.id.startswith("msg_")


def test_a_streamed_message_arrives_as_text_deltas_through_the_sdk_accumulator(gateway):
    with client(gateway).messages.stream(model="qwen2.5:0.5b", max_tokens=64, messages=HELLO) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1
    assert "".join(pieces) == final.content[0].text
    assert "Ollama emulator (qwen2.5:0.5b)" in final.content[0].text
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


def test_every_event_is_named_and_a_ping_comes_after_message_start(gateway):
    body = {"model": "qwen2.5:0.5b", "max_tokens": 16, "messages": HELLO, "stream": True}
    with gateway.client() as http, http.stream("POST", "/v1/messages?beta=true", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [e for e in response.read().decode().split("\n\n") if e]
    names = [e.split("\n")[0] for e in events]
    assert all(name.startswith("event: ") for name in names)
    assert names[:2] == ["event: message_start", "event: ping"]
    assert names[-2:] == ["event: message_delta", "event: message_stop"]


def test_a_tool_use_round_trip(gateway):
    sdk = client(gateway)
    first = sdk.messages.create(model=SHARED, max_tokens=64, tools=[WEATHER], messages=[{"role": "user", "content": "Weather?"}])
    assert first.stop_reason == "tool_use"
    (call,) = [block for block in first.content if block.type == "tool_use"]
    assert call.name == "get_weather" and call.input == {"city": "Paris"}
    answer = sdk.messages.create(
        model=SHARED,
        max_tokens=64,
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21C"}]},
        ],
    )
    assert answer.stop_reason == "end_turn"
    assert "get_weather returned: sunny, 21C" in answer.content[0].text


def test_a_streamed_tool_call_is_an_input_json_delta_the_sdk_parses(gateway):
    with client(gateway).messages.stream(
        model=SHARED, max_tokens=64, tools=[WEATHER], messages=[{"role": "user", "content": "Weather?"}]
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert [(b.type, b.name, b.input) for b in final.content if b.type == "tool_use"] == [
        ("tool_use", "get_weather", {"city": "Paris"})
    ]


def test_a_request_without_max_tokens_is_an_invalid_request_error(gateway):
    with gateway.client() as http:
        response = http.post("/v1/messages", json={"model": "fast", "messages": HELLO})
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error" and body["error"] == {"type": "invalid_request_error", "message": "max_tokens: field required"}
    assert response.headers["request-id"] == response.headers["x-request-id"] == body["request_id"]


def test_an_unknown_model_is_a_not_found_error_through_the_sdk(gateway):
    with pytest.raises(anthropic.NotFoundError) as caught:
        client(gateway).messages.create(model="claude-haiku-9", max_tokens=16, messages=HELLO)
    assert caught.value.body["error"]["type"] == "not_found_error"
    assert "claude-haiku-9" in caught.value.message


def test_the_key_may_come_as_x_api_key_or_a_bearer_token(gateway):
    by_token = anthropic.Anthropic(base_url=gateway.url, auth_token="tok", max_retries=0)
    assert by_token.messages.create(model="fast", max_tokens=8, messages=HELLO).content


def test_count_tokens_answers_an_estimate(gateway):
    counted = client(gateway).messages.count_tokens(model="fast", messages=HELLO, tools=[WEATHER])
    assert counted.input_tokens > 0
    beta = client(gateway).beta.messages.count_tokens(model="fast", messages=HELLO)
    assert beta.input_tokens > 0


def test_a_message_falls_back_to_ollama_when_llamafarm_answers_500(shared, backends):
    backends.llamafarm.state.set_fault("error500")
    raw = client(shared).messages.with_raw_response.create(model=SHARED, max_tokens=16, messages=HELLO)
    assert raw.headers["x-atmosphere-backend"] == "ollama"
    assert "Ollama emulator" in raw.parse().content[0].text


def test_a_stream_falls_back_before_its_first_byte_when_llamafarm_is_down(shared, backends):
    backends.llamafarm.stop()
    with client(shared).messages.stream(model=SHARED, max_tokens=16, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
    assert "Ollama emulator" in text


def test_a_stream_cut_mid_way_ends_with_an_error_event(shared, backends):
    backends.llamafarm.state.set_fault("cut", cut_after=2)
    body = {"model": SHARED, "max_tokens": 16, "messages": HELLO, "stream": True}
    with shared.client() as http, http.stream("POST", "/v1/messages", json=body) as response:
        assert response.status_code == 200 and response.headers["x-atmosphere-backend"] == "llamafarm"
        events = [e for e in response.read().decode().split("\n\n") if e]
    assert events[-1].startswith("event: error\n")
    assert '"type":"api_error"' in events[-1] and "mid-stream" in events[-1]
    assert not any("message_stop" in e for e in events)
    with (
        pytest.raises(anthropic.APIStatusError),
        client(shared).messages.stream(model=SHARED, max_tokens=16, messages=HELLO) as s,
    ):
        list(s.text_stream)


def test_pings_keep_a_slow_stream_alive(gateway, backends, monkeypatch):
    monkeypatch.setattr(anthropic_face, "PING_INTERVAL", 0.05)
    backends.ollama.state.set_fault("none", chunk_delay=0.2)
    body = {"model": "qwen2.5:0.5b", "max_tokens": 3, "messages": HELLO, "stream": True}
    with gateway.client() as http, http.stream("POST", "/v1/messages", json=body) as response:
        names = [e.split("\n")[0] for e in response.read().decode().split("\n\n") if e]
    assert names.count("event: ping") >= 3  # the one after message_start, then while waiting
    assert names[-1] == "event: message_stop"


def test_sampling_stop_sequences_and_a_base64_image_reach_ollama(gateway, backends):
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAX+XDSwAAAABJRU5ErkJggg=="
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}}
    client(gateway).messages.create(
        model="llava:latest",
        max_tokens=32,
        extra_body={"temperature": 0.2, "top_p": 0.9, "top_k": 20},  # this SDK has dropped them; others send them
        stop_sequences=["END"],
        messages=[{"role": "user", "content": [{"type": "text", "text": "What is this?"}, image]}],
    )
    sent = backends.ollama.state.recorded("/api/chat")[-1].json
    assert sent["options"] == {"temperature": 0.2, "top_p": 0.9, "stop": ["END"], "num_predict": 32, "top_k": 20}
    assert sent["messages"] == [{"role": "user", "content": "What is this?", "images": [png]}]


def test_an_error_line_from_ollama_mid_stream_becomes_an_error_event(gateway, backends):
    backends.ollama.state.set_fault("stream_error", cut_after=2)
    with pytest.raises(anthropic.APIStatusError, match="unexpected EOF"):
        with client(gateway).messages.stream(model="qwen2.5:0.5b", max_tokens=16, messages=HELLO) as stream:
            list(stream.text_stream)
