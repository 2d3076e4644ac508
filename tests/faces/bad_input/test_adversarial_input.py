"""A careless or hostile client: every malformed request is a clear 4xx in the OpenAI error
body, the exception text never reaches the client, and nothing leaves a traceback in the log."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from atmosphere.standins.suite import start_all_in_process
from tests.conftest import Gateway, gateway_settings

CHAT = "/v1/chat/completions"
USER = {"role": "user", "content": "hi"}


def chat(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "llama3.2", "messages": list(messages) or [USER], **extra}


def nested(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"x": schema}}
    return schema


def tool(parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "f", "parameters": parameters}}


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def tracebacks(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.exc_info or "Traceback" in r.getMessage()]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """One gateway for the module: nothing here changes its state, and each case is a request."""
    suite = start_all_in_process()
    urls = suite.urls
    settings = gateway_settings(
        tmp_path_factory.mktemp("state"), llamafarm=urls["llamafarm"], ollama=urls["ollama"], runtime=urls["runtime"]
    )
    served = Gateway(settings).start()
    try:
        yield served
    finally:
        served.stop()
        suite.stop()


@pytest.fixture
def service_log() -> Iterator[_Records]:
    """Everything the gateway and uvicorn log (uvicorn's loggers do not propagate to the root)."""
    handler = _Records()
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error", "atmosphere")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


def assert_clean_4xx(response: Any, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    for leak in ("Traceback", "Error(", "unhashable", "object has no attribute", "not subscriptable", "recursion"):
        assert leak not in error["message"], error["message"]
    return error


@pytest.mark.parametrize(
    "body, param",
    [
        (chat({"role": ["user"], "content": "hi"}), "messages[0].role"),
        (chat({"role": {"user": 1}, "content": "hi"}), "messages[0].role"),
        (chat({"role": "user", "content": [{"type": ["text"], "text": "hi"}]}), "messages[0].content[0].type"),
        (chat({"role": "user", "content": [{"type": {"t": "text"}, "text": "hi"}]}), "messages[0].content[0].type"),
        (
            chat({"role": "user", "content": [{"type": "image_url", "image_url": "http://x/y.png"}]}),
            "messages[0].content[0].image_url",
        ),
        (
            chat({"role": "user", "content": [{"type": "image_url", "image_url": {"url": 42}}]}),
            "messages[0].content[0].image_url.url",
        ),
        (chat({"role": "user", "content": [{"type": "image_url"}]}), "messages[0].content[0].image_url"),
        (
            chat(USER, {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function", "function": {}}]}),
            "messages[1].tool_calls[0].function.name",
        ),
        (
            chat(USER, {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": 7}}]}),
            "messages[1].tool_calls[0].function.name",
        ),
        (chat(USER, {"role": "assistant", "tool_calls": [{"id": "c"}]}), "messages[1].tool_calls[0].function"),
        (chat(USER, {"role": "assistant", "tool_calls": "call"}), "messages[1].tool_calls"),
        (chat(USER, {"role": "assistant", "tool_calls": ["call"]}), "messages[1].tool_calls[0]"),
        (chat({"role": "tool", "content": "42", "tool_call_id": 3}), "messages[0].tool_call_id"),
        (chat({"role": "user", "content": "hi", "name": ["me"]}), "messages[0].name"),
        (chat(tools=[tool(nested(254))]), None),
        (chat(tools=[tool(nested(300))], stream=True), None),
        (chat({"role": "user", "content": "hi", "metadata": nested(260)}), None),
        (chat(tools="f"), "tools"),
        (chat(tools=[{"type": "function"}]), "tools[0].function"),
        (chat(tools=[{"type": "function", "function": {"name": ["f"]}}]), "tools[0].function.name"),
        (chat(tools=[{"type": "function", "function": {"name": "f", "parameters": "{}"}}]), "tools[0].function.parameters"),
        (chat(response_format="json"), "response_format"),
        (chat(tool_choice=7), "tool_choice"),
    ],
    ids=lambda value: value if isinstance(value, str) else "nothing" if value is None else "body",
)
def test_malformed_chat_requests_are_a_clean_400(gateway, service_log, body, param):
    with gateway.client() as client:
        error = assert_clean_4xx(client.post(CHAT, json=body))
        if param is not None:
            assert error["param"] == param
        assert client.post(CHAT, json=chat()).status_code == 200  # and it goes on serving
    assert service_log.tracebacks() == []


def test_a_deep_but_reasonable_tool_schema_is_served(gateway):
    with gateway.client() as client:
        assert client.post(CHAT, json=chat(tools=[tool(nested(20))])).status_code == 200


def raw_request(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "path",
    [b"/a%00b", b"/%00", b"/assets/x%00.js", b"/" + b"a" * 256, b"/docs/" + b"b" * 300 + b"/c", b"/" + b"a/" * 3000],
)
def test_hostile_get_paths_are_404_not_500(gateway, service_log, path):
    answer = raw_request(gateway.port, b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.split(b" ")[1] == b"404", answer[:300]
    assert b"Traceback" not in answer and b'"error"' in answer
    assert service_log.tracebacks() == []


def test_a_client_that_disconnects_mid_body_leaves_no_traceback(gateway, service_log):
    head = f"POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
            sock.sendall(head.encode() + b'{"model": "llama3.2", "messages": [')
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:  # and chunked, cut off
        sock.sendall(
            f'POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{{"model": "x", '.encode()
        )
    with gateway.client() as client:  # a request after them is served, so the cut ones were handled
        assert client.post(CHAT, json=chat()).status_code == 200
    assert service_log.tracebacks() == []


def test_a_binary_websocket_frame_is_ignored_with_an_error_message(gateway, service_log):
    from websockets.asyncio.client import connect

    async def next_error(ws: Any) -> dict[str, Any]:
        while True:  # live updates may come in between
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if message["type"] == "error":
                return message

    async def talk() -> list[str]:
        async with connect(f"ws://127.0.0.1:{gateway.port}/ws") as ws:
            assert json.loads(await ws.recv())["type"] == "snapshot"
            await ws.send(b"\x00\x01binary")
            errors = [(await next_error(ws))["message"]]
            await ws.send("not json")
            errors.append((await next_error(ws))["message"])
            await ws.send('{"type": "refresh"}')  # the socket still works
            await ws.send(b"\xff" * 10)
            errors.append((await next_error(ws))["message"])
            return errors

    binary, not_json, binary_again = asyncio.run(talk())
    assert "Binary frames" in binary and binary == binary_again
    assert "JSON" in not_json
    assert service_log.tracebacks() == []


@pytest.mark.parametrize("role", [["user"], {"user": True}])
@pytest.mark.parametrize(
    "path, body",
    [
        ("/v1/chat/completions", lambda role: chat({"role": role, "content": "hi"})),
        ("/v1/responses", lambda role: {"model": "llama3.2", "input": [{"role": role, "content": "hi"}]}),
        ("/v1/messages", lambda role: {"model": "llama3.2", "max_tokens": 8, "messages": [{"role": role, "content": "hi"}]}),
        ("/api/chat", lambda role: {"model": "llama3.2", "stream": False, "messages": [{"role": role, "content": "hi"}]}),
    ],
)
def test_a_role_that_is_not_a_string_is_a_4xx_on_every_surface(gateway, service_log, path, body, role):
    with gateway.client() as client:
        answer = client.post(path, json=body(role))
    assert 400 <= answer.status_code < 500, answer.text
    assert "Traceback" not in answer.text and "unhashable" not in answer.text
    assert service_log.tracebacks() == []
