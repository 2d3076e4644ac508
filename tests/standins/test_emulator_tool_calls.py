"""The Ollama emulator calls tools as Ollama does, so faces can be tested on a round trip."""

from __future__ import annotations

import orjson
from starlette.testclient import TestClient

from atmosphere.standins.ollama import create_ollama_app

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
ASK = {"model": "llama3.2", "messages": [{"role": "user", "content": "weather in Paris?"}], "tools": [WEATHER]}


def test_a_tool_capable_model_answers_with_a_call_whose_arguments_are_an_object():
    answer = TestClient(create_ollama_app()).post("/api/chat", json={**ASK, "stream": False}).json()
    (call,) = answer["message"]["tool_calls"]
    assert call["id"].startswith("call_") and call["function"]["name"] == "get_weather"
    assert call["function"]["arguments"] == {"city": "Paris"}
    assert answer["done_reason"] == "stop"


def test_a_streamed_tool_call_comes_on_a_line_before_the_final_one():
    text = TestClient(create_ollama_app()).post("/api/chat", json=ASK).text
    first, final = (orjson.loads(line) for line in text.splitlines())
    assert first["done"] is False and first["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert final["done"] is True and "tool_calls" not in final["message"]


def test_after_the_tool_result_the_model_answers_in_text_quoting_it():
    messages = [*ASK["messages"], {"role": "tool", "tool_name": "get_weather", "content": "sunny, 21C"}]
    answer = TestClient(create_ollama_app()).post("/api/chat", json={**ASK, "messages": messages, "stream": False}).json()
    assert "get_weather returned: sunny, 21C" in answer["message"]["content"]
    assert "tool_calls" not in answer["message"]


def test_a_model_without_the_tools_capability_refuses_tools_with_a_400():
    response = TestClient(create_ollama_app()).post("/api/chat", json={**ASK, "model": "qwen2.5:0.5b"})
    assert response.status_code == 400
    assert response.json() == {"error": "qwen2.5:0.5b does not support tools"}
