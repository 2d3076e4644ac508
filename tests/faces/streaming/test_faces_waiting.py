"""Every face waits for the upstream the same way as OpenAI chat (``api/streaming/waiting.py``): a client
that leaves before the first byte cancels the upstream call, and a slow stream start sends
its head with that protocol's keep-alive while fallback goes on unseen (not for NDJSON,
which has no line a client would skip)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.hostile import HostileBackend
from harness.polling import wait_until

SHARED = "llama3.2:latest"  # served by the hostile LlamaFarm (first priority) and the healthy Ollama
MESSAGES = [{"role": "user", "content": "hi"}]

# path, body (without "stream"), as each face's clients send it
FACES: dict[str, tuple[str, dict[str, Any]]] = {
    "completions": ("/v1/completions", {"prompt": "hi"}),
    "responses": ("/v1/responses", {"input": "hi"}),
    "anthropic": ("/v1/messages", {"messages": MESSAGES, "max_tokens": 16}),
    "ollama-chat": ("/api/chat", {"messages": MESSAGES}),
    "ollama-generate": ("/api/generate", {"prompt": "hi"}),
}


@pytest.fixture
def hostile() -> Iterator[HostileBackend]:
    backend = HostileBackend("llamafarm", shared_alias=[SHARED]).start()
    try:
        yield backend
    finally:
        backend.stop()


@pytest.mark.parametrize("stream", [False, True], ids=["non-streamed", "streamed"])
@pytest.mark.parametrize("face", list(FACES))
def test_a_client_that_leaves_before_the_first_byte_cancels_the_upstream_call_on_every_face(hostile, make_gateway, face, stream):
    hostile.set_mode("hang")
    gateway = make_gateway(llamafarm_url=hostile.url, request_timeout=60.0, stream_heartbeat=30.0)
    path, body = FACES[face]
    payload = json.dumps({**body, "model": "fast", "stream": stream}).encode()
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", gateway.port)) as client:
        client.sendall(head.encode() + payload)
        assert wait_until(lambda: hostile.state.working == 1, 5.0), "the request never reached the backend"
    left = time.monotonic()
    assert wait_until(lambda: hostile.state.working == 0, 1.0), "the upstream call outlived the client"
    assert time.monotonic() - left < 1.0


def _slow_start(make_gateway: Any, hostile: HostileBackend, backends: Any) -> Any:
    hostile.set_mode("hang")  # the first backend never starts; the stream falls back to Ollama
    return make_gateway(
        llamafarm_url=hostile.url,
        llamafarm_runtime_url=backends.urls["runtime"],
        ollama_url=backends.urls["ollama"],
        first_token_timeout=1.5,
        stream_heartbeat=0.3,
    )


def _stream(gateway: Any, face: str) -> tuple[Any, str]:
    path, body = FACES[face]
    with (
        gateway.client(timeout=15) as client,
        client.stream("POST", path, json={**body, "model": SHARED, "stream": True}) as resp,
    ):
        return resp, resp.read().decode()


def test_a_slow_completions_stream_gets_its_head_and_sse_comments_while_fallback_goes_on(hostile, backends, make_gateway):
    resp, body = _stream(_slow_start(make_gateway, hostile, backends), "completions")
    assert resp.status_code == 200
    assert body.startswith(": waiting for LlamaFarm\n\n")
    assert '"object":"text_completion"' in body and body.rstrip().endswith("data: [DONE]")


def test_a_slow_responses_stream_gets_its_head_and_sse_comments_while_fallback_goes_on(hostile, backends, make_gateway):
    resp, body = _stream(_slow_start(make_gateway, hostile, backends), "responses")
    assert resp.status_code == 200
    assert body.startswith(": waiting for LlamaFarm\n\n")
    assert "event: response.created" in body and "event: response.completed" in body


def test_a_slow_anthropic_stream_gets_its_head_and_ping_events_while_fallback_goes_on(hostile, backends, make_gateway):
    resp, body = _stream(_slow_start(make_gateway, hostile, backends), "anthropic")
    assert resp.status_code == 200 and resp.headers.get("request-id")
    first = body.split("\n\n")[0]
    assert first == 'event: ping\ndata: {"type":"ping"}', first
    assert "event: message_start" in body and body.rstrip().endswith('{"type":"message_stop"}')


@pytest.mark.parametrize("face", ["responses", "anthropic"])
def test_after_the_heartbeat_a_stream_no_backend_could_start_fails_in_band_in_the_face_s_protocol(hostile, make_gateway, face):
    hostile.set_mode("hang")
    gateway = make_gateway(llamafarm_url=hostile.url, first_token_timeout=1.0, stream_heartbeat=0.3)
    path, body = FACES[face]
    with gateway.client(timeout=15) as client:
        resp = client.post(path, json={**body, "model": "fast", "stream": True})
    assert resp.status_code == 200
    events = [e for e in resp.text.split("\n\n") if e]
    name, data = events[-1].split("\n", 1)
    failure = json.loads(data.removeprefix("data: "))
    if face == "responses":
        assert name == "event: response.failed"
        assert failure["response"]["status"] == "failed" and "first-token timeout" in failure["response"]["error"]["message"]
    else:
        assert name == "event: error"
        assert failure["type"] == "error" and "first-token timeout" in failure["error"]["message"]


@pytest.mark.parametrize("face", ["ollama-chat", "ollama-generate"])
def test_an_ollama_stream_has_no_heartbeat_so_a_start_that_fails_keeps_its_status(hostile, make_gateway, face):
    # NDJSON has no comment line the ollama client would skip: the head waits for the first chunk.
    hostile.set_mode("hang")
    gateway = make_gateway(llamafarm_url=hostile.url, first_token_timeout=1.0, stream_heartbeat=0.3)
    path, body = FACES[face]
    with gateway.client(timeout=15) as client:
        resp = client.post(path, json={**body, "model": "fast", "stream": True})
    assert resp.status_code == 504, resp.text
    assert "first-token timeout" in resp.json()["error"]
