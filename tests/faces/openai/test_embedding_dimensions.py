"""``dimensions`` on the embeddings routes: passed to an Ollama host that shortens vectors
(0.11.11 and newer), and otherwise a 400 in the face's shape saying why, never dropped unseen."""

from __future__ import annotations

from typing import Any

import openai
import pytest

OLLAMA_EMBED = "nomic-embed-text"  # 768 dimensions, on the Ollama host
RUNTIME_EMBED = "sentence-transformers/all-MiniLM-L6-v2"  # LlamaFarm's Universal Runtime


def test_an_ollama_host_shortens_the_vectors_on_both_faces(gateway: Any, backends: Any) -> None:
    with gateway.client() as http:
        native = http.post("/api/embed", json={"model": OLLAMA_EMBED, "input": ["a", "b"], "dimensions": 256})
    assert native.status_code == 200 and [len(v) for v in native.json()["embeddings"]] == [256, 256]
    assert backends.ollama.state.recorded("/api/embed")[-1].json["dimensions"] == 256
    answer = gateway.openai().embeddings.create(model=OLLAMA_EMBED, input="a", dimensions=64, encoding_format="float")
    assert len(answer.data[0].embedding) == 64


def test_dimensions_llamafarm_cannot_honour_is_a_400_saying_why_on_both_faces(gateway: Any, backends: Any) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.openai().embeddings.create(model=RUNTIME_EMBED, input="a", dimensions=64)
    assert caught.value.status_code == 400 and "dimensions" in caught.value.message
    assert "full-length vectors" in caught.value.message
    with gateway.client() as http:
        native = http.post("/api/embed", json={"model": RUNTIME_EMBED, "input": "a", "dimensions": 64})
        assert native.status_code == 400 and "dimensions" in native.json()["error"]
        served = http.post("/api/embed", json={"model": RUNTIME_EMBED, "input": "a"})  # without it: served
    assert served.status_code == 200 and len(served.json()["embeddings"]) == 1
    assert len(backends.runtime.state.recorded("/v1/embeddings")) == 1  # the refused ones never went upstream


def test_an_ollama_older_than_dimensions_refuses_instead_of_answering_full_vectors(backends: Any, make_gateway: Any) -> None:
    backends.ollama.state.ollama_version = "0.11.10"
    gateway = make_gateway(backends)
    with gateway.client() as http:
        refused = http.post("/api/embed", json={"model": OLLAMA_EMBED, "input": "a", "dimensions": 256})
        served = http.post("/api/embed", json={"model": OLLAMA_EMBED, "input": "a"})
    assert refused.status_code == 400 and "0.11.11 or newer" in refused.json()["error"]
    assert served.status_code == 200 and len(served.json()["embeddings"][0]) == 768
