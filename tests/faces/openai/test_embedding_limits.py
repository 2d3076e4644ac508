"""A client that asks for more embeddings than one answer can carry is told the limit."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest


def test_twenty_thousand_embedding_inputs_get_a_400_naming_the_limit(gateway: Any) -> None:
    client = gateway.openai()
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="auto", input=["hello"] * 20_000)
    assert caught.value.status_code == 400
    assert "at most 2048" in caught.value.message
    assert caught.value.body["param"] == "input"  # type: ignore[index]


def test_the_ollama_face_says_the_same_limit_in_ollamas_shape(gateway: Any) -> None:
    answer = httpx.post(f"{gateway.url}/api/embed", json={"model": "nomic-embed-text", "input": ["hi"] * 20_000}, timeout=10)
    assert answer.status_code == 400
    assert "at most 2048" in answer.json()["error"]


def test_a_batch_at_the_limit_is_served(gateway: Any) -> None:
    answer = gateway.openai().embeddings.create(model="auto", input=["hello"] * 2048, encoding_format="float")
    assert len(answer.data) == 2048
