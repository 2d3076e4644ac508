"""The Responses API (`client.responses.create`), stateless, through the executor like chat."""

from __future__ import annotations

import json

import openai
import pytest

from atmosphere.standins.catalog import Project, ProjectModel

SHARED = "llama3.2:latest"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture
def shared(backends, make_gateway):
    """SHARED is served by LlamaFarm (first) and Ollama; failures are learnt from requests."""
    backends.llamafarm.state.projects.append(
        Project(name="shared", default_model=SHARED, models=[ProjectModel(SHARED, "ollama", "llama3.2:3b")])
    )
    return make_gateway(backends, health_interval=60)


def _events(gateway, body):
    with gateway.client() as client, client.stream("POST", "/v1/responses", json={**body, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    events = []
    for block in raw.strip().split("\n\n"):
        name, data = block.split("\n", 1)
        event = json.loads(data.removeprefix("data: "))
        assert name == f"event: {event['type']}"  # the event line names what the data is
        events.append(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events, raw


@pytest.mark.parametrize("model, backend, marker", [("fast", "llamafarm", "LlamaFarm"), ("llama3.2", "ollama", "Ollama")])
def test_a_response_through_the_sdk_from_each_backend(gateway, model, backend, marker):
    raw = gateway.openai().responses.with_raw_response.create(
        model=model, input="Say hi", instructions="Be brief.", max_output_tokens=64, temperature=0.3
    )
    response = raw.parse()
    assert raw.headers["x-atmosphere-backend"] == backend
    assert response.object == "response" and response.id.startswith("resp_")
    assert response.status == "completed"
    assert marker in response.output_text and "Say hi" in response.output_text
    assert response.output[0].type == "message" and response.output[0].role == "assistant"
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert response.instructions == "Be brief." and response.max_output_tokens == 64 and response.temperature == 0.3
    assert response.store is False


def test_instructions_and_message_items_reach_the_backend_as_chat(gateway, backends):
    gateway.openai().responses.create(
        model="llama3.2",
        instructions="You are terse.",
        input=[
            {"role": "developer", "content": "Answer in English."},
            {"role": "user", "content": [{"type": "input_text", "text": "What is this?"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "A cat.", "annotations": []}]},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "And this?"},
                    {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "auto"},
                ],
            },
        ],
        max_output_tokens=20,
    )
    sent = backends.ollama.state.recorded("/api/chat")[-1].json
    assert [m["role"] for m in sent["messages"]] == ["system", "system", "user", "assistant", "user"]
    assert sent["messages"][0]["content"] == "You are terse."
    assert sent["messages"][4] == {"role": "user", "content": "And this?", "images": ["iVBORw0KGgo="]}
    assert sent["options"]["num_predict"] == 20


@pytest.mark.parametrize("model, backend, marker", [("fast", "llamafarm", "LlamaFarm"), ("llama3.2", "ollama", "Ollama")])
def test_a_streamed_response_follows_the_event_sequence(gateway, model, backend, marker):
    events, _ = _events(gateway, {"model": model, "input": "stream please"})
    kinds = [e["type"] for e in events]
    deltas = kinds.count("response.output_text.delta")
    assert deltas >= 2
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * deltas,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert marker in text
    done = events[-1]["response"]
    assert done["status"] == "completed" and done["output"][0]["content"][0]["text"] == text
    usage = done["usage"]
    assert usage["output_tokens"] > 0 and usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert events[0]["response"]["usage"] is None


def test_the_sdk_stream_helper_assembles_the_final_response(gateway):
    with gateway.openai().responses.stream(model="llama3.2", input="stream please") as stream:
        texts = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert final.output_text == "".join(texts) and "Ollama emulator" in final.output_text


def test_a_function_tool_round_trip_through_the_sdk(gateway, backends):
    client = gateway.openai()
    first = client.responses.create(model="llama3.2", input="Weather in Paris?", tools=[WEATHER])
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "Paris"}
    assert calls[0].call_id and calls[0].id.startswith("fc_")
    sent = backends.ollama.state.recorded("/api/chat")[-1].json
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    second = client.responses.create(
        model="llama3.2",
        tools=[WEATHER],
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            *[item.model_dump(exclude_none=True) for item in first.output],
            {"type": "function_call_output", "call_id": calls[0].call_id, "output": "18 degrees and sunny"},
        ],
    )
    assert "18 degrees and sunny" in second.output_text
    sent = backends.ollama.state.recorded("/api/chat")[-1].json
    assert sent["messages"][1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": {"city": "Paris"}}
    assert sent["messages"][2]["role"] == "tool" and sent["messages"][2]["tool_name"] == "get_weather"


def test_a_streamed_function_call_arrives_as_argument_events(gateway):
    events, _ = _events(gateway, {"model": "llama3.2", "input": "Weather in Paris?", "tools": [WEATHER]})
    kinds = [e["type"] for e in events]
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert events[2]["item"]["type"] == "function_call" and events[2]["item"]["status"] == "in_progress"
    assert "response.function_call_arguments.delta" in kinds
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert done["name"] == "get_weather" and json.loads(done["arguments"]) == {"city": "Paris"}
    assert kinds[-2:] == ["response.output_item.done", "response.completed"]
    final = events[-1]["response"]["output"]
    assert [item["type"] for item in final] == ["function_call"] and final[0]["status"] == "completed"


@pytest.mark.parametrize(
    "fmt, expected",
    [
        ({"type": "json_object"}, "json"),
        (
            {"type": "json_schema", "name": "city", "schema": {"type": "object", "properties": {"name": {"type": "string"}}}},
            {"type": "object", "properties": {"name": {"type": "string"}}},
        ),
    ],
)
def test_text_format_reaches_ollama_as_its_format(gateway, backends, fmt, expected):
    response = gateway.openai().responses.create(model="llama3.2", input="A city as JSON", text={"format": fmt})
    assert response.status == "completed" and response.text.format.type == fmt["type"]
    assert backends.ollama.state.recorded("/api/chat")[-1].json["format"] == expected


def test_text_format_reaches_llamafarm_as_response_format(gateway, backends):
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    gateway.openai().responses.create(
        model="fast", input="A city as JSON", text={"format": {"type": "json_schema", "name": "city", "schema": schema}}
    )
    sent = backends.llamafarm.state.recorded("/v1/projects/default/chatbot/chat/completions")[-1].json
    assert sent["response_format"] == {"type": "json_schema", "json_schema": {"name": "city", "schema": schema, "strict": None}}


@pytest.mark.parametrize(
    "extra, param",
    [
        ({"previous_response_id": "resp_123"}, "previous_response_id"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"store": True}, "store"),
        ({"background": True}, "background"),
    ],
)
def test_whatever_needs_a_stored_response_is_a_400_that_says_nothing_is_stored(gateway, extra, param):
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.openai().responses.create(model="llama3.2", input="x", **extra)
    assert caught.value.param == param
    assert "does not store responses" in caught.value.body["message"]


def test_store_false_is_fine_and_stored_responses_cannot_be_fetched(gateway):
    assert gateway.openai().responses.create(model="llama3.2", input="x", store=False).status == "completed"
    with pytest.raises(openai.NotFoundError) as caught:
        gateway.openai().responses.retrieve("resp_123")
    assert "does not store responses" in caught.value.body["message"]


def test_a_response_falls_back_to_ollama_when_llamafarm_answers_500(shared, backends):
    backends.llamafarm.state.set_fault("error500")
    raw = shared.openai().responses.with_raw_response.create(model=SHARED, input="who answers?")
    assert raw.headers["x-atmosphere-backend"] == "ollama"
    assert "llamafarm" in raw.headers["x-atmosphere-attempts"]
    assert "Ollama emulator" in raw.parse().output_text


def test_a_streamed_response_falls_back_when_llamafarm_refuses_connections(shared, backends):
    backends.llamafarm.stop()
    with shared.client() as client:
        with client.stream("POST", "/v1/responses", json={"model": SHARED, "input": "who answers?", "stream": True}) as r:
            assert r.headers["x-atmosphere-backend"] == "ollama"
            r.read()
    events, _ = _events(shared, {"model": SHARED, "input": "who answers?"})
    assert events[-1]["type"] == "response.completed"


def test_a_stream_cut_mid_way_ends_with_response_failed(shared, backends):
    backends.llamafarm.state.set_fault("cut", cut_after=2)
    events, raw = _events(shared, {"model": SHARED, "input": "tell me more"})
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["status"] == "failed"
    assert "mid-stream" in events[-1]["response"]["error"]["message"]
    assert sum(e["type"].startswith("response.") and e["type"].count(".") == 1 for e in events[2:]) == 1
    assert "Ollama" not in raw  # committed to LlamaFarm: never switched


def test_an_ollama_error_line_mid_stream_ends_with_response_failed(gateway, backends):
    backends.ollama.state.set_fault("stream_error", cut_after=2)
    events, _ = _events(gateway, {"model": "llama3.2", "input": "tell me more"})
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"]["code"] == "server_error"


async def test_text_then_a_call_in_fragments_become_two_output_items_in_order():
    """As an OpenAI-style backend streams it: some text, then a call whose arguments arrive in pieces."""
    from atmosphere.api.openai.responses.parse import parse_responses_request
    from atmosphere.api.openai.responses.routes import ResponseEvents
    from atmosphere.domain import ChatChunk, ToolCallDelta, Usage
    from atmosphere.router.executor import StartedStream

    def chunk(**fields):
        return ChatChunk("c", 7, "m", **fields)

    async def rest():
        yield chunk(content="Let me check.")
        yield chunk(tool_calls=[ToolCallDelta(0, "call_1", "get_weather", "")])
        yield chunk(tool_calls=[ToolCallDelta(0, None, None, '{"city": ')])
        yield chunk(tool_calls=[ToolCallDelta(0, None, None, '"Paris"}')])
        yield chunk(finish_reason="tool_calls")
        yield chunk(usage=Usage(5, 9))

    req = parse_responses_request({"model": "m", "input": "Weather?"})
    raw = b"".join([e async for e in ResponseEvents(StartedStream(chunk(role="assistant"), rest()), req).events()])
    events = [json.loads(block.split(b"\n", 1)[1][6:]) for block in raw.strip().split(b"\n\n")]
    kinds = [e["type"] for e in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["output_index"] for e in events if e["type"] == "response.output_item.added"] == [0, 1]
    final = events[-1]["response"]
    assert [item["type"] for item in final["output"]] == ["message", "function_call"]
    assert final["output"][1]["arguments"] == '{"city": "Paris"}' and final["output"][1]["call_id"] == "call_1"
    assert final["usage"]["input_tokens"] == 5 and final["usage"]["output_tokens"] == 9
