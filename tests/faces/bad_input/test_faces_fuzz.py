"""Malformed bodies against the Anthropic and Ollama faces: always a clean error in that
protocol's shape (or a normal answer), never a crash, a trace or a hang."""

from __future__ import annotations

import random

import pytest
from conftest import Gateway
from test_fuzz_inputs import random_value


@pytest.fixture
def gateway(shared_gateway: Gateway) -> Gateway:
    """Bad input changes nothing: the module's cases share one gateway (conftest.shared_gateway)."""
    return shared_gateway


ANTHROPIC = ["/v1/messages", "/v1/messages/count_tokens"]
OLLAMA = ["/api/chat", "/api/generate", "/api/embed", "/api/embeddings", "/api/show"]
KEYS = [
    "model", "messages", "max_tokens", "system", "stream", "temperature", "top_p", "top_k", "stop_sequences", "tools",
    "tool_choice", "role", "content", "type", "text", "source", "media_type", "data", "tool_use_id", "id", "name",
    "input", "input_schema", "prompt", "images", "options", "format", "keep_alive", "num_predict", "tool_calls",
    "function", "arguments", "suffix", "dimensions",
]  # fmt: skip


def _body(rng: random.Random) -> dict[str, object]:
    body = {rng.choice(KEYS): random_value(rng) for _ in range(rng.randrange(1, 7))}
    if rng.random() < 0.6:  # often nearly valid, so validation goes deep
        body.setdefault("model", rng.choice(["fast", "llama3.2", "qwen2.5:0.5b", "nomic-embed-text", "nope"]))
        body.setdefault("max_tokens", 8)
        content = rng.choice([random_value(rng), [{"type": rng.choice(["text", "image", "tool_use", "tool_result"]),
                                                   rng.choice(KEYS): random_value(rng)}]])  # fmt: skip
        body.setdefault("messages", [{"role": rng.choice(["user", "assistant", "tool"]), "content": content}])
    return body


@pytest.mark.parametrize("seed", range(3))
def test_random_bodies_get_clean_errors_in_each_protocols_shape(gateway, seed):
    rng = random.Random(seed)
    with gateway.client(timeout=5) as client:
        for _ in range(60):
            endpoint = rng.choice(ANTHROPIC + OLLAMA)
            body = _body(rng)
            response = client.post(endpoint, json=body)
            assert response.status_code in {200, 400, 404, 413}, (endpoint, body, response.text)
            if response.status_code == 200:
                continue
            assert "Traceback" not in response.text
            error = response.json()
            if endpoint in ANTHROPIC:
                assert error["type"] == "error" and set(error["error"]) == {"type", "message"}, error
            else:
                assert set(error) == {"error"} and isinstance(error["error"], str), error
        healthy = client.post(
            "/api/chat", json={"model": "fast", "messages": [{"role": "user", "content": "ok?"}], "stream": False}
        )
        assert healthy.status_code == 200
