"""Every typed field a face reads, forwards or echoes is checked: a value of the wrong type is a
400 in that face's own error shape naming the field, and the same field with a right value
is served. Through the running gateway in front of the stand-ins."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import Gateway


@pytest.fixture
def gateway(shared_gateway: Gateway) -> Gateway:
    """Bad input changes nothing: the module's cases share one gateway (conftest.shared_gateway)."""
    return shared_gateway


USER = [{"role": "user", "content": "hi"}]
CHAT = {"model": "qwen2.5:0.5b", "messages": USER}
COMPLETION = {"model": "qwen2.5:0.5b", "prompt": "hi"}
EMBED = {"model": "nomic-embed-text", "input": "hi"}
RESPONSES = {"model": "qwen2.5:0.5b", "input": "hi"}
MESSAGES = {"model": "qwen2.5:0.5b", "max_tokens": 16, "messages": USER}
OLLAMA_CHAT = {"model": "qwen2.5:0.5b", "messages": USER, "stream": False}
OLLAMA_GENERATE = {"model": "qwen2.5:0.5b", "prompt": "hi", "stream": False}


def openai_refusal(answer: httpx.Response, param: str) -> None:
    assert answer.status_code == 400, (param, answer.text)
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["param"] == param, error
    assert f"'{param}' must be" in error["message"]


def test_openai_faces_refuse_a_mistyped_field_naming_it(gateway) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("/v1/chat/completions", {**CHAT, "user": 42}, "user"),
        ("/v1/chat/completions", {**CHAT, "metadata": "x"}, "metadata"),
        ("/v1/chat/completions", {**CHAT, "store": "no"}, "store"),
        ("/v1/chat/completions", {**CHAT, "frequency_penalty": "high"}, "frequency_penalty"),
        ("/v1/chat/completions", {**CHAT, "presence_penalty": 9}, "presence_penalty"),
        ("/v1/chat/completions", {**CHAT, "parallel_tool_calls": "yes"}, "parallel_tool_calls"),
        ("/v1/chat/completions", {**CHAT, "rag_top_k": "5"}, "rag_top_k"),
        ("/v1/chat/completions", {**CHAT, "rag_enabled": 1}, "rag_enabled"),
        ("/v1/chat/completions", {**CHAT, "rag_queries": [1]}, "rag_queries"),
        ("/v1/chat/completions", {**CHAT, "think": "maybe"}, "think"),
        ("/v1/chat/completions", {**CHAT, "variables": []}, "variables"),
        ("/v1/chat/completions", {**CHAT, "n_ctx": 0}, "n_ctx"),
        (
            "/v1/chat/completions",
            {**CHAT, "stream": True, "stream_options": {"include_usage": "yes"}},
            "stream_options.include_usage",
        ),
        ("/v1/chat/completions", {**CHAT, "logprobs": "yes"}, "logprobs"),
        ("/v1/chat/completions", {**CHAT, "seed": 1.5}, "seed"),
        ("/v1/chat/completions", {**CHAT, "logit_bias": [1]}, "logit_bias"),
        ("/v1/chat/completions", {**CHAT, "modalities": "text"}, "modalities"),
        ("/v1/completions", {**COMPLETION, "user": ["a"]}, "user"),
        ("/v1/completions", {**COMPLETION, "echo": "no"}, "echo"),
        ("/v1/completions", {**COMPLETION, "frequency_penalty": "x"}, "frequency_penalty"),
        (
            "/v1/completions",
            {**COMPLETION, "stream": True, "stream_options": {"include_usage": 1}},
            "stream_options.include_usage",
        ),
        ("/v1/embeddings", {**EMBED, "user": 7}, "user"),
        ("/v1/responses", {**RESPONSES, "text": "json"}, "text"),
        ("/v1/responses", {**RESPONSES, "metadata": [1]}, "metadata"),
        ("/v1/responses", {**RESPONSES, "parallel_tool_calls": "no"}, "parallel_tool_calls"),
        ("/v1/responses", {**RESPONSES, "store": "false"}, "store"),
        ("/v1/responses", {**RESPONSES, "include": "reasoning"}, "include"),
        ("/v1/responses", {**RESPONSES, "reasoning": "high"}, "reasoning"),
    ]
    with gateway.client() as client:
        for path, body, param in cases:
            openai_refusal(client.post(path, json=body), param)
        served = client.post(
            "/v1/chat/completions",
            json={**CHAT, "user": "alice", "frequency_penalty": 0.5, "store": False, "parallel_tool_calls": True},
        )
        assert served.status_code == 200
        streamed = client.post("/v1/chat/completions", json={**CHAT, "stream": True, "stream_options": {"include_usage": True}})
        assert streamed.status_code == 200 and '"usage"' in streamed.text
        text = {**RESPONSES, "text": {"format": {"type": "text"}}, "metadata": {"k": "v"}, "include": []}
        assert client.post("/v1/responses", json=text).status_code == 200


def test_the_anthropic_face_refuses_a_mistyped_field_in_its_own_shape(gateway) -> None:
    cases = [
        ({**MESSAGES, "metadata": "user-1"}, "metadata"),
        ({**MESSAGES, "metadata": {"user_id": 5}}, "metadata.user_id"),
        ({**MESSAGES, "thinking": True}, "thinking"),
        ({**MESSAGES, "output_config": "high"}, "output_config"),
    ]
    with gateway.client() as client:
        for body, field in cases:
            answer = client.post("/v1/messages", json=body)
            assert answer.status_code == 400, (field, answer.text)
            payload = answer.json()
            assert payload["type"] == "error" and payload["error"]["type"] == "invalid_request_error"
            assert payload["error"]["message"].startswith(f"{field}: must be")
        claude_code = {
            **MESSAGES,
            "metadata": {"user_id": "u"},
            "thinking": {"type": "adaptive"},
            "output_config": {"effort": "low"},
        }
        assert client.post("/v1/messages", json=claude_code).status_code == 200


def test_the_ollama_face_refuses_a_mistyped_field_in_its_own_shape(gateway) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("/api/chat", {**OLLAMA_CHAT, "think": "very"}, "think"),
        ("/api/chat", {**OLLAMA_CHAT, "top_logprobs": 99}, "top_logprobs"),
        ("/api/chat", {**OLLAMA_CHAT, "logprobs": "yes"}, "logprobs"),
        ("/api/chat", {**OLLAMA_CHAT, "keep_alive": [5]}, "keep_alive"),
        ("/api/chat", {**OLLAMA_CHAT, "format": 5}, "format"),
        ("/api/chat", {**OLLAMA_CHAT, "options": {"num_ctx": "big"}}, "num_ctx"),
        ("/api/chat", {**OLLAMA_CHAT, "options": {"use_mmap": "yes"}}, "use_mmap"),
        ("/api/chat", {**OLLAMA_CHAT, "options": {"top_k": 2.5}}, "top_k"),
        ("/api/chat", {**OLLAMA_CHAT, "options": {"seed": "1"}}, "seed"),
        ("/api/chat", {**OLLAMA_CHAT, "options": {"stop": 5}}, "stop"),
        ("/api/chat", {**OLLAMA_CHAT, "messages": [{"role": "tool", "content": "4", "tool_name": 1}]}, "messages[0].tool_name"),
        ("/api/generate", {**OLLAMA_GENERATE, "template": 1}, "template"),
        ("/api/generate", {**OLLAMA_GENERATE, "context": ["a"]}, "context"),
        ("/api/generate", {**OLLAMA_GENERATE, "raw": "true"}, "raw"),
        ("/api/embed", {**EMBED, "options": "fast"}, "options"),
        ("/api/embed", {**EMBED, "truncate": "yes"}, "truncate"),
        ("/api/embeddings", {"model": "nomic-embed-text", "prompt": "hi", "keep_alive": {}}, "keep_alive"),
        ("/api/embeddings", {"model": "nomic-embed-text", "prompt": "hi", "options": 3}, "options"),
        ("/api/show", {"model": "qwen2.5:0.5b", "verbose": "yes"}, "verbose"),
    ]
    with gateway.client() as client:
        for path, body, field in cases:
            answer = client.post(path, json=body)
            assert answer.status_code == 400, (field, answer.text)
            assert set(answer.json()) == {"error"} and field in answer.json()["error"], (field, answer.text)
        good = {**OLLAMA_CHAT, "think": False, "options": {"num_ctx": 2048, "top_k": 40, "use_mmap": True}, "keep_alive": "5m"}
        assert client.post("/api/chat", json=good).status_code == 200
        assert client.post("/api/generate", json={**OLLAMA_GENERATE, "context": [1, 2, 3]}).status_code == 200
