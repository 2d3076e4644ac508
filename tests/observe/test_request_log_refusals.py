"""A request refused for what it sent is in the request log and on /ws: which surface, which
client and tool, the status and a one-line reason (never the prompt), so an operator can see
why Claude Code, Codex or the ollama CLI was turned away."""

from __future__ import annotations

import concurrent.futures
import json
import time

from websockets.sync.client import connect

from atmosphere.observe.requestlog import REASON_CHARS
from harness.polling import wait_until

SECRET = "the prompt nobody may read in the log"
REFUSED = {
    # surface: (path, body, User-Agent as the agents send it: /work/shared/reference/agents.md)
    "openai.chat": ("/v1/chat/completions", {"model": "qwen2.5:0.5b", "messages": [{"role": "wizard", "content": SECRET}]},
                    "codex_exec/0.171.0 (Debian 13; x86_64)"),
    "anthropic": ("/v1/messages", {"model": "qwen2.5:0.5b", "messages": [{"role": "user", "content": SECRET}]},
                  "claude-cli/2.1.197 (external, sdk-cli)"),
    "ollama.chat": ("/api/chat", {"model": "qwen2.5:0.5b", "messages": [{"role": "wizard", "content": SECRET}]},
                    "ollama/0.5.4 (amd64 linux) Go/go1.23.4"),
}  # fmt: skip


def _logged(http) -> list[dict]:
    return http.get("/v1/requests").json()["requests"]


def test_a_bad_request_on_each_face_is_logged_with_status_reason_and_who_sent_it(gateway):
    with gateway.client() as http:
        for surface, (path, body, agent) in REFUSED.items():
            answer = http.post(path, json=body, headers={"User-Agent": agent})
            assert answer.status_code == 400, (surface, answer.text)
        entries = {e["surface"]: e for e in _logged(http)}
    for surface, (_path, _body, agent) in REFUSED.items():
        entry = entries[surface]
        assert entry["status"] == 400 and entry["outcome"] == "error" and entry["backend"] is None
        assert entry["client"] == "127.0.0.1" and entry["agent"] == agent
        assert entry["reason"] and len(entry["reason"]) <= REASON_CHARS
        assert SECRET not in json.dumps(entry), surface
    assert "role" in entries["openai.chat"]["reason"] and "role" in entries["ollama.chat"]["reason"]
    assert "max_tokens" in entries["anthropic"]["reason"]  # what Anthropic requires and the body lacked


def test_a_refusal_reaches_the_dashboard_live_on_ws(gateway):
    with connect(gateway.url.replace("http://", "ws://") + "/ws") as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "snapshot"
        with gateway.client() as http:
            http.post("/api/chat", json={"model": "qwen2.5:0.5b"})
        deadline = time.monotonic() + 5
        while True:
            message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message["type"] == "request":
                break
    entry = message["request"]
    assert entry["surface"] == "ollama.chat" and entry["status"] == 400 and "messages is required" in entry["reason"]


def test_the_reason_is_one_bounded_line_whatever_the_client_sent(gateway):
    with gateway.client() as http:
        role = "x" * 50_000 + "\n" * 10
        http.post("/api/chat", json={"model": "qwen2.5:0.5b", "messages": [{"role": role, "content": "hi"}]})
        (entry,) = _logged(http)
    assert len(entry["reason"]) <= REASON_CHARS and "\n" not in entry["reason"]
    assert entry["reason"].startswith("messages[0].role must be one of")


def test_a_body_over_the_limit_is_logged_as_a_413_and_one_refusal_is_logged_once(backends, make_gateway):
    gateway = make_gateway(backends, max_request_bytes=200_000)
    with gateway.client() as http:
        too_big = http.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x" * 300_000}]})
        assert too_big.status_code == 413
        # refused by the executor (past the face's checks): its trace records it; the handler must not again
        many = http.post("/v1/embeddings", json={"model": "auto", "input": ["hi"] * 20_000})
        assert many.status_code == 400
        entries = _logged(http)
    assert [(e["surface"], e["status"]) for e in entries] == [("openai.embeddings", 400), ("openai.chat", 413)]
    assert "at most 2048" in entries[0]["reason"] and "larger than the limit" in entries[1]["reason"]


def test_refusals_off_the_inference_surfaces_are_not_logged_as_requests(gateway):
    with gateway.client() as http:
        assert http.post("/api/show", json={}).status_code == 400
        assert http.post("/v1/integrations/ollama/warm", content=b"{").status_code == 400
        assert _logged(http) == []


def test_a_request_the_shutdown_drain_ended_is_logged_as_a_503_not_as_a_client_that_left(backends, make_gateway):
    backends.ollama.state.answer_delay = 30.0  # the stand-in takes its time before the first chunk
    gateway = make_gateway(backends)
    server = gateway._server
    hello = [{"role": "user", "content": "hi"}]
    with gateway.client(timeout=20) as http:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            streamed = pool.submit(http.post, "/api/chat", json={"model": "qwen2.5:0.5b", "messages": hello})
            whole = pool.submit(http.post, "/api/chat", json={"model": "qwen2.5:0.5b", "messages": hello, "stream": False})
            assert wait_until(lambda: backends.ollama.state.active == 2, 10), "the requests never reached the stand-in"
            server._loop.call_soon_threadsafe(server.app.state.drain.begin, 0.0)  # what SIGTERM does, at once
            answers = [streamed.result(), whole.result()]
        entries = _logged(http)
    assert [a.status_code for a in answers] == [503, 503]
    assert all("shutting down" in a.json()["error"] for a in answers)
    assert sorted((e["status"], e["stream"]) for e in entries) == [(503, False), (503, True)]
    assert all(e["reason"] == "the gateway shut down before the answer started" for e in entries)
