"""Hostile backends against the running gateway: deadlines, the circuit breaker, memory bounds.

Each backend keeps a green health check (the hostile front forwards probes to a real
stand-in) while its answers misbehave, which is what the probe cannot see.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.hostile import HostileBackend
from harness.polling import wait_until

SHARED = "llama3.2:latest"  # served by the hostile LlamaFarm (first priority) and the healthy Ollama
CHAT = {"model": SHARED, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def hostile() -> Iterator[HostileBackend]:
    """A LlamaFarm whose work answers misbehave as told; first in priority."""
    backend = HostileBackend("llamafarm", shared_alias=[SHARED]).start()
    try:
        yield backend
    finally:
        backend.stop()


def _gateway(make_gateway: Any, hostile: HostileBackend, backends: Any, **settings: Any) -> Any:
    return make_gateway(
        llamafarm_url=hostile.url,
        llamafarm_runtime_url=backends.urls["runtime"],
        ollama_url=backends.urls["ollama"],
        **settings,
    )


def _attempts(headers: Any) -> str:
    return headers.get("x-atmosphere-attempts", "")


def test_a_backend_trickling_its_answer_is_abandoned_at_the_request_deadline(hostile, make_gateway):
    hostile.set_mode("trickle", interval=0.05)  # a ~200-byte answer would take ~10 s
    gateway = make_gateway(llamafarm_url=hostile.url, request_timeout=1.0)
    started = time.monotonic()
    with gateway.client(timeout=10) as client:
        resp = client.post("/v1/chat/completions", json={**CHAT, "model": "fast"})
    assert resp.status_code == 504, resp.text
    assert "no complete answer within 1s" in resp.json()["error"]["message"]
    assert time.monotonic() - started < 4.0  # a deadline, not an idle timer reset by every byte


def test_a_trickled_response_head_is_abandoned_at_the_deadline_too(hostile, make_gateway):
    hostile.set_mode("trickle_head", interval=0.05)
    gateway = make_gateway(llamafarm_url=hostile.url, request_timeout=1.0)
    with gateway.client(timeout=10) as client:
        resp = client.post("/v1/chat/completions", json={**CHAT, "model": "fast"})
    assert resp.status_code == 504, resp.text


def test_a_stream_of_empty_deltas_is_not_progress_and_falls_back(hostile, backends, make_gateway):
    hostile.set_mode("empty_deltas")
    # The flood shares this process's GIL with the gateway: a slow probe must not flap Ollama offline.
    gateway = _gateway(
        make_gateway, hostile, backends, first_token_timeout=3.0, stream_heartbeat=30.0, probe_timeout=5.0, health_interval=30.0
    )
    with (
        gateway.client(timeout=15) as client,
        client.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as resp,
    ):
        body = resp.read().decode()
    assert resp.status_code == 200
    assert resp.headers["x-atmosphere-backend"] == "ollama"
    assert "empty chunks and no content" in _attempts(resp.headers) or "first-token" in _attempts(resp.headers)
    assert body.rstrip().endswith("data: [DONE]") and '"content":"' in body


def test_a_stream_that_never_starts_moves_on_at_the_first_token_timeout(hostile, backends, make_gateway):
    hostile.set_mode("hang")
    gateway = _gateway(make_gateway, hostile, backends, first_token_timeout=1.0, request_timeout=30.0)
    started = time.monotonic()
    with (
        gateway.client(timeout=15) as client,
        client.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as resp,
    ):
        resp.read()
    assert resp.headers["x-atmosphere-backend"] == "ollama"
    assert "first-token timeout (1s)" in _attempts(resp.headers)
    assert time.monotonic() - started < 10.0


def test_a_backend_the_monitor_marks_offline_releases_the_requests_waiting_on_it(hostile, backends, make_gateway):
    gateway = _gateway(make_gateway, hostile, backends, request_timeout=60.0, probe_timeout=0.5, health_interval=0.3)
    hostile.set_mode("hang_all")  # answers and probes hang: the monitor sees it within a probe
    started = time.monotonic()
    with gateway.client(timeout=30) as client:
        resp = client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-atmosphere-backend"] == "ollama"
    assert "went offline while we waited" in _attempts(resp.headers)
    assert time.monotonic() - started < 15.0  # not the 60 s request timeout


def test_huge_response_headers_are_refused_quickly(hostile, backends, make_gateway):
    hostile.set_mode("huge_headers")
    gateway = _gateway(make_gateway, hostile, backends)
    with gateway.client(timeout=15) as client:
        resp = client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 200
    assert "headers exceed 64 KiB" in _attempts(resp.headers)


def test_an_answer_over_the_buffer_budget_fails_over_naming_the_budget(hostile, make_gateway):
    hostile.set_mode("huge_body", body_mib=3)
    gateway = make_gateway(llamafarm_url=hostile.url, max_buffered_bytes=2 * 1024 * 1024)
    with gateway.client(timeout=15) as client:
        resp = client.post("/v1/chat/completions", json={**CHAT, "model": "fast"})
    assert resp.status_code == 502
    assert "ATMOSPHERE_MAX_BUFFERED_BYTES" in resp.json()["error"]["message"]


# --- the circuit breaker ----------------------------------------------------------------


def test_an_instant_503_with_a_green_health_check_opens_the_breaker(hostile, backends, make_gateway):
    hostile.set_mode("busy503")
    gateway = _gateway(make_gateway, hostile, backends)
    with gateway.client() as client:
        answers = [client.post("/v1/chat/completions", json=CHAT) for _ in range(10)]
        card = next(i for i in client.get("/v1/integrations").json()["integrations"] if i["id"] == "llamafarm")
    assert all(a.status_code == 200 and a.headers["x-atmosphere-backend"] == "ollama" for a in answers)
    failed = [a for a in answers if "circuit open" not in _attempts(a.headers)]
    assert len(failed) == 3  # the threshold; then the circuit is open and skipped
    assert "circuit open until" in _attempts(answers[-1].headers)
    assert card["status"] == "healthy"  # the probe still says so
    assert card["breaker"]["state"] == "open" and card["breaker"]["failures"] >= 3
    assert "HTTP 503" in card["breaker"]["last_failure"] and card["breaker"]["open_until"] > time.time()


def test_a_503_with_retry_after_opens_the_breaker_at_once_for_that_long(hostile, backends, make_gateway):
    hostile.set_mode("busy503", retry_after=120)
    gateway = _gateway(make_gateway, hostile, backends)
    with gateway.client() as client:
        first = client.post("/v1/chat/completions", json=CHAT)
        second = client.post("/v1/chat/completions", json=CHAT)
        card = next(i for i in client.get("/v1/integrations").json()["integrations"] if i["id"] == "llamafarm")
    assert "HTTP 503" in _attempts(first.headers) and "circuit" not in _attempts(first.headers)
    assert "circuit open until" in _attempts(second.headers)
    assert 100 < card["breaker"]["open_until"] - time.time() <= 120


def test_a_model_that_is_not_found_never_trips_the_breaker(backends: Any, make_gateway: Any):
    gateway = make_gateway(backends)
    with gateway.client() as client:
        for _ in range(5):
            assert client.post("/v1/chat/completions", json={**CHAT, "model": "no-such-model"}).status_code == 404
        cards = client.get("/v1/integrations").json()["integrations"]
    assert all(card["breaker"]["state"] == "closed" and card["breaker"]["failures"] == 0 for card in cards)


def test_the_breaker_state_reaches_websocket_clients(hostile, backends, make_gateway):
    from websockets.sync.client import connect

    hostile.set_mode("busy503", retry_after=60)
    gateway = _gateway(make_gateway, hostile, backends)
    with connect(f"ws://127.0.0.1:{gateway.port}/ws", open_timeout=5) as socket:
        with gateway.client() as client:
            client.post("/v1/chat/completions", json=CHAT)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            message = json.loads(socket.recv(timeout=5))
            if message.get("type") == "integration" and message["integration"]["id"] == "llamafarm":
                if message["integration"]["breaker"]["state"] == "open":
                    return
    pytest.fail("no /ws message showed the open breaker")


# --- cancellation and the heartbeat -----------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["non-streamed", "streamed"])
def test_a_client_that_leaves_before_the_first_byte_cancels_the_upstream_call_within_a_second(hostile, make_gateway, stream):
    import socket

    hostile.set_mode("hang")
    gateway = make_gateway(llamafarm_url=hostile.url, request_timeout=60.0, stream_heartbeat=30.0)
    body = json.dumps({**CHAT, "model": "fast", "stream": stream}).encode()
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", gateway.port)) as client:
        client.sendall(head.encode() + body)
        assert wait_until(lambda: hostile.state.working == 1, 5.0)
    left = time.monotonic()
    assert wait_until(lambda: hostile.state.working == 0, 1.0), "the upstream call outlived the client"
    assert time.monotonic() - left < 1.0


def test_a_slow_start_gets_its_head_and_keep_alives_while_fallback_goes_on_unseen(hostile, backends, make_gateway):
    hostile.set_mode("hang")
    gateway = _gateway(make_gateway, hostile, backends, first_token_timeout=1.5, stream_heartbeat=0.3)
    with (
        gateway.client(timeout=15) as client,
        client.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as resp,
    ):
        assert resp.status_code == 200  # the head left at the heartbeat, before any backend answered
        body = resp.read().decode()
    assert body.startswith(": waiting for LlamaFarm\n\n")
    assert '"content":"' in body and body.rstrip().endswith("data: [DONE]")
    assert "x-atmosphere-backend" not in resp.headers  # documented: the head left before the choice


def test_after_the_heartbeat_a_stream_no_backend_could_start_ends_with_the_error_event_and_done(hostile, make_gateway):
    hostile.set_mode("hang")
    gateway = make_gateway(llamafarm_url=hostile.url, first_token_timeout=1.0, stream_heartbeat=0.3)
    with gateway.client(timeout=15) as client:
        resp = client.post("/v1/chat/completions", json={**CHAT, "model": "fast", "stream": True})
    assert resp.status_code == 200
    events = [e for e in resp.text.split("\n\n") if e]
    assert events[0] == ": waiting for LlamaFarm"
    error = json.loads(events[-2].removeprefix("data: "))["error"]
    assert error["code"] == "upstream_timeout" and "first-token timeout" in error["message"]
    assert events[-1] == "data: [DONE]"


def test_before_the_heartbeat_a_stream_that_cannot_start_gets_its_proper_status(hostile, make_gateway):
    hostile.set_mode("busy503")
    gateway = make_gateway(llamafarm_url=hostile.url)
    with gateway.client(timeout=15) as client:
        resp = client.post("/v1/chat/completions", json={**CHAT, "model": "fast", "stream": True})
    assert resp.status_code == 502 and resp.json()["error"]["code"] == "upstream_error"
