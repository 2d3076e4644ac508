"""Programs get data, never the dashboard's HTML; HEAD works; every answer has a request id."""

from __future__ import annotations

import logging

import pytest


@pytest.mark.parametrize("path", ["/v1/nothing-here", "/v1", "/ws/extra", "/v1/responses/resp_123/input_items"])
def test_an_unknown_api_path_answers_a_json_404_in_the_openai_shape(make_gateway, path):
    with make_gateway().client() as client:
        for method in ("GET", "POST", "DELETE"):
            response = client.request(method, path)
            assert response.status_code == 404, (method, path)
            assert response.headers["content-type"].startswith("application/json")
            assert path in response.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/api/nothing", "/api", "/api/tags/extra"])
def test_an_unknown_ollama_path_answers_a_json_404_in_ollamas_shape(make_gateway, path):
    with make_gateway().client() as client:
        response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json()["error"], str)


def test_dashboard_routes_still_serve_the_page_to_a_browser(make_gateway):
    with make_gateway().client() as client:
        response = client.get("/integrations/ollama", headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/health", "/v1/models", "/v1/integrations", "/", "/docs", "/openapi.json"])
def test_head_answers_wherever_get_does_with_headers_and_no_body(make_gateway, path):
    with make_gateway().client() as client:
        got = client.get(path)
        head = client.head(path)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]


def test_head_on_a_post_only_route_is_still_a_405(make_gateway):
    with make_gateway().client() as client:
        assert client.head("/v1/chat/completions").status_code == 405


def test_every_answer_carries_a_request_id_that_the_sdk_reports(backends, make_gateway):
    import openai

    gateway = make_gateway(backends)
    with gateway.client() as client:
        ids = {client.get(path).headers["x-request-id"] for path in ("/health", "/v1/models", "/v1/nope", "/")}
        echoed = client.get("/health", headers={"x-request-id": "trace-42"}).headers["x-request-id"]
        hostile = client.get("/health", headers={"x-request-id": "a b;" * 40}).headers["x-request-id"]
    assert len(ids) == 4 and all(i.startswith("req_") for i in ids)
    assert echoed == "trace-42"  # a client's own sane id comes back, so its traces line up
    assert hostile.startswith("req_")
    with pytest.raises(openai.NotFoundError) as caught:
        gateway.openai().chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert caught.value.request_id.startswith("req_")


def test_log_lines_written_while_serving_carry_the_request_id(backends, make_gateway, caplog):
    gateway = make_gateway(backends)
    backends.llamafarm.state.fault = "masked"  # chat answers 500, health stays fine
    with caplog.at_level(logging.WARNING, logger="atmosphere"):
        with gateway.client() as client:
            response = client.post(
                "/v1/chat/completions", json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
            )
    assert response.status_code == 200 and response.headers["x-atmosphere-backend"] == "ollama"
    fallback = [r for r in caplog.records if "llamafarm" in r.getMessage() and r.name.startswith("atmosphere")]
    assert fallback, "the fallback was not logged"
    assert {r.request_id for r in fallback} == {response.headers["x-request-id"]}


def test_the_request_id_a_user_quotes_finds_the_request_in_the_request_log(backends, make_gateway):
    gateway = make_gateway(backends)
    chat = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
    with gateway.client() as client:
        made = client.post("/v1/chat/completions", json=chat).headers["x-request-id"]
        given = client.post("/api/chat", json={**chat, "stream": False}, headers={"x-request-id": "trace-7"})
        missing = client.post("/v1/messages", json={**chat, "model": "no-such-model", "max_tokens": 8})
        entries = {e["id"]: e for e in client.get("/v1/requests").json()["requests"]}
    assert given.headers["x-request-id"] == "trace-7"
    assert entries[made]["surface"] == "openai.chat" and entries[made]["status"] == 200
    assert entries["trace-7"]["surface"] == "ollama.chat"
    assert entries[missing.headers["x-request-id"]]["surface"] == "anthropic"
    assert entries[missing.headers["x-request-id"]]["status"] == 404


def test_the_openapi_page_lists_every_openai_surface(make_gateway):
    with make_gateway().client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/embeddings", "/v1/models"):
        assert path in paths, path
    assert paths["/v1/responses"]["post"]["requestBody"]["content"]["application/json"]["example"]["input"] == "Say hi"
