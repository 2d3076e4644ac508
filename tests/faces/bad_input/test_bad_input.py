"""Bad input gets a clear 4xx with the OpenAI error body: never a trace, never a hang."""

from __future__ import annotations

import pytest
from conftest import Gateway


@pytest.fixture
def gateway(shared_gateway: Gateway) -> Gateway:
    """Bad input changes nothing: the module's cases share one gateway (conftest.shared_gateway)."""
    return shared_gateway


CHAT = "/v1/chat/completions"
GOOD = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}


def assert_openai_error(response, status: int, param: str | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"] and "Traceback" not in error["message"]
    if param is not None:
        assert error["param"] == param
    return error


@pytest.mark.parametrize(
    "body, param",
    [
        ({"model": "fast"}, "messages"),
        ({**GOOD, "messages": "hi"}, "messages"),
        ({**GOOD, "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({**GOOD, "messages": [{"role": "user", "content": 42}]}, "messages[0].content"),
        ({**GOOD, "messages": [{"role": "user", "content": [{"type": "video"}]}]}, "messages[0].content[0].type"),
        ({**GOOD, "model": 7}, "model"),
        ({**GOOD, "temperature": 5}, "temperature"),
        ({**GOOD, "top_p": "high"}, "top_p"),
        ({**GOOD, "max_tokens": 0}, "max_tokens"),
        ({**GOOD, "stop": [1, 2]}, "stop"),
        ({**GOOD, "n": 3}, "n"),
        ({**GOOD, "stream": "yes"}, "stream"),
    ],
)
def test_invalid_chat_requests_are_400_naming_the_parameter(gateway, body, param):
    with gateway.client() as client:
        assert_openai_error(client.post(CHAT, json=body), 400, param)


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", b"\xff\xfe"])
def test_unparseable_bodies_are_400(gateway, raw):
    with gateway.client() as client:
        assert_openai_error(client.post(CHAT, content=raw, headers={"content-type": "application/json"}), 400)


def test_a_body_over_the_limit_is_413(backends, make_gateway):
    gateway = make_gateway(backends, max_request_bytes=4096)
    huge = {**GOOD, "messages": [{"role": "user", "content": "x" * 10_000}]}
    with gateway.client() as client:
        error = assert_openai_error(client.post(CHAT, json=huge), 413)

        def chunks():  # no Content-Length: the limit still holds while streaming the body in
            for _ in range(10):
                yield b" " * 1000

        assert_openai_error(client.post(CHAT, content=chunks()), 413)
        assert client.post(CHAT, json=GOOD).status_code == 200  # and the service is fine
    assert "4096" in error["message"]


@pytest.mark.parametrize(
    "body, param",
    [
        ({"model": "nomic-embed-text"}, "input"),
        ({"model": "nomic-embed-text", "input": ""}, "input"),
        ({"model": "nomic-embed-text", "input": []}, "input"),
        ({"model": "nomic-embed-text", "input": [[1, 2, 3]]}, "input"),
        ({"model": "nomic-embed-text", "input": "x", "encoding_format": "hex"}, "encoding_format"),
    ],
)
def test_invalid_embedding_requests_are_400(gateway, body, param):
    with gateway.client() as client:
        assert_openai_error(client.post("/v1/embeddings", json=body), 400, param)


@pytest.mark.parametrize(
    "body, param",
    [
        ({"input": []}, "input"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]"),
        ({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "https://x.example/a.png"}]}]}, None),
        ({"input": "x", "tools": [{"type": "function", "parameters": {}}]}, "tools[0].name"),
        ({"input": "x", "tools": ["web_search"]}, "tools[0]"),
        ({"input": "x", "tools": [{"type": "namespace", "name": "ns", "tools": "spawn"}]}, "tools[0].tools"),
        ({"input": "x", "text": {"format": {"type": "json_schema"}}}, "text.format"),
        ({"input": "x", "max_output_tokens": 0}, "max_output_tokens"),
        ({"input": "x", "top_logprobs": 3}, "top_logprobs"),
    ],
)
def test_invalid_responses_requests_are_400_naming_the_parameter(gateway, body, param):
    with gateway.client() as client:
        response = client.post("/v1/responses", json={"model": "llama3.2", **body})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] == param
    else:
        assert "never fetches" in error["message"]


def test_unknown_paths_and_methods_under_v1_get_the_error_body(gateway):
    with gateway.client() as client:
        assert_openai_error(client.get("/v1/nope"), 404)
        assert_openai_error(client.get(CHAT), 405)


def test_test_endpoint_validates_its_input(gateway):
    with gateway.client() as client:
        assert_openai_error(client.post("/v1/integrations/test", json={"integration_id": "ollama"}), 400, "prompt")
        assert_openai_error(client.post("/v1/integrations/test", json={"integration_id": "gpt", "prompt": "hi"}), 404)
        assert_openai_error(client.post("/v1/execute", json={"capability": "chat"}), 400, "intent")
        assert_openai_error(client.post("/v1/execute", json={"intent": "x", "capability": "dance"}), 400, "capability")


def test_the_service_keeps_serving_after_a_barrage_of_bad_input(gateway):
    with gateway.client() as client:
        for raw in (b"null", b"{}", b'{"messages": null}', b'{"messages": [null]}', b"\x00" * 100):
            assert client.post(CHAT, content=raw).status_code == 400
        assert client.post(CHAT, json=GOOD).status_code == 200


@pytest.mark.parametrize(
    "path, body",
    [
        (CHAT, GOOD),
        ("/v1/completions", {"model": "fast", "prompt": "hi"}),
        ("/v1/responses", {"model": "fast", "input": "hi"}),
    ],
)
@pytest.mark.parametrize("stream", [0, 1, "true"])
def test_every_openai_surface_refuses_a_stream_flag_that_is_not_a_boolean(gateway, path, body, stream):
    with gateway.client() as client:
        assert_openai_error(client.post(path, json={**body, "stream": stream}), 400, "stream")
