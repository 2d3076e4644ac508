"""Every error leaves through one path, in the shape of the surface the client called."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from starlette.responses import JSONResponse, Response

from atmosphere.api.errors import add_error_renderer, error_headers
from atmosphere.app import create_app
from atmosphere.errors import AtmosphereError
from atmosphere.standins.server import EmulatorServer
from tests.conftest import gateway_settings


def plain_renderer(exc: AtmosphereError) -> Response:
    """A face whose protocol answers errors as {"error": "text"} (as Ollama's does)."""
    return JSONResponse({"error": exc.message}, status_code=exc.status, headers=error_headers(exc))


@pytest.fixture
def service(tmp_path) -> Iterator[httpx.Client]:
    nowhere = "http://127.0.0.1:9"
    app = create_app(gateway_settings(tmp_path, llamafarm=nowhere, ollama=nowhere, runtime=nowhere))
    add_error_renderer(app, "/plain/", plain_renderer)
    server = EmulatorServer(app, 0, lifespan="on")
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
            yield client
    finally:
        server.stop()


def test_a_surface_with_its_own_error_shape_gets_it_for_unknown_paths_and_refusals(service):
    missing = service.get("/plain/nothing-here")
    refused = service.post("/plain/chat", headers={"Origin": "https://evil.example"})

    assert missing.status_code == 404 and missing.json() == {"error": "Unknown path /plain/nothing-here."}
    assert refused.status_code == 403 and "evil.example" in refused.json()["error"]


def test_other_paths_keep_the_openai_error_body(service):
    missing = service.post("/v1/nothing-here")
    refused = service.post("/v1/chat/completions", headers={"Origin": "https://evil.example"})

    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"


def test_a_wrong_method_is_a_405_that_says_which_methods_are_allowed(service):
    response = service.get("/v1/chat/completions")

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_a_fault_inside_the_gateway_on_an_inference_post_is_a_500_in_its_surfaces_shape_and_logged(service, monkeypatch, caplog):
    """The inference POSTs are answered in front of the framework's server-error layer
    (api/middleware/front.py): a bug there still gets the app's 500, in the caller's shape,
    with its request id, and the log has the traceback."""

    def broken(_data: object) -> None:
        raise RuntimeError("a bug in the parser")

    monkeypatch.setattr("atmosphere.api.openai.routes.parse_chat_request", broken)
    monkeypatch.setattr("atmosphere.api.anthropic.routes.parse_messages_request", broken)
    chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    once = {"connection": "close"}  # the server closes a connection whose request raised
    with caplog.at_level(logging.ERROR):
        openai_answer = service.post("/v1/chat/completions", json=chat, headers={**once, "x-request-id": "req-fault-1"})
        anthropic_answer = service.post("/v1/messages", json={**chat, "max_tokens": 5}, headers=once)

    assert openai_answer.status_code == 500 and openai_answer.headers["x-request-id"] == "req-fault-1"
    assert openai_answer.json()["error"]["message"] == "Internal error in Atmosphere; see the service log."
    assert anthropic_answer.status_code == 500 and anthropic_answer.json()["type"] == "error"
    assert anthropic_answer.json()["error"]["message"] == "Internal error in Atmosphere; see the service log."
    assert "a bug in the parser" in caplog.text
