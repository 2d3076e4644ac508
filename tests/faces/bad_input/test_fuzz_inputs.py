"""Hundreds of malformed bodies against every POST endpoint: always a clean 4xx (or a
normal answer), never a 500, a trace or a hang; and the service keeps serving."""

from __future__ import annotations

import random
from typing import Any

import pytest
from conftest import Gateway


@pytest.fixture
def gateway(shared_gateway: Gateway) -> Gateway:
    """Bad input changes nothing: the module's cases share one gateway (conftest.shared_gateway)."""
    return shared_gateway


ENDPOINTS = ["/v1/chat/completions", "/v1/embeddings", "/v1/execute", "/v1/integrations/test"]
KEYS = [
    "model", "messages", "input", "intent", "capability", "params", "prompt", "integration_id", "stream",
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed", "n", "stream_options",
    "encoding_format", "dimensions", "tools", "response_format", "role", "content", "type", "text",
]  # fmt: skip
OK_STATUSES = {200, 400, 404, 413, 502, 503, 504}


def random_value(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(12 if depth < 3 else 8)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.choice([0, -1, 1, 7, 2**63, -(2**40)])
    if choice == 3:
        return rng.choice([0.5, -3.2, 1e308, 2.0])
    if choice in (4, 5):
        return rng.choice(["", "x", "auto", "fast", "llama3.2", "nomic-embed-text", "user", "text", "\u0000", "é" * 50, "ollama"])
    if choice in (6, 7):
        return rng.choice(["system", "user", "assistant", "tool", "chat", "embeddings", "generate", "float", "base64"])
    if choice in (8, 9):
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(KEYS): random_value(rng, depth + 1) for _ in range(rng.randrange(5))}


@pytest.mark.parametrize("seed", range(4))
def test_random_bodies_never_crash_the_service(gateway, seed):
    rng = random.Random(seed)
    with gateway.client(timeout=5) as client:
        for _ in range(60):
            endpoint = rng.choice(ENDPOINTS)
            body = {rng.choice(KEYS): random_value(rng) for _ in range(rng.randrange(1, 7))}
            if rng.random() < 0.5:  # often a nearly valid request, so validation goes deep
                body.setdefault("messages", [{"role": "user", "content": random_value(rng)}])
            response = client.post(endpoint, json=body)
            assert response.status_code in OK_STATUSES, (endpoint, body, response.text)
            if response.status_code != 200:
                error = response.json()["error"]
                assert isinstance(error, (dict, str)) and "Traceback" not in response.text
        healthy = client.post("/v1/chat/completions", json={"model": "fast", "messages": [{"role": "user", "content": "ok?"}]})
        assert healthy.status_code == 200
