"""What a person running a fleet sees: every request in the log and on /ws, Prometheus
metrics, per-host statistics, and model equivalents that fall back across backends."""

from __future__ import annotations

import json
import time
from typing import Any

from websockets.sync.client import connect

SECRET = "the secret plans are under the mattress"


def receive_until(ws: Any, predicate: Any, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "no matching message in time"
        message = json.loads(ws.recv(timeout=remaining))
        if predicate(message):
            return message


def test_a_request_appears_live_on_the_socket_and_in_the_log_without_its_prompt(backends, make_gateway) -> None:
    gateway = make_gateway(backends)
    with connect(gateway.url.replace("http://", "ws://") + "/ws") as ws, gateway.client() as client:
        receive_until(ws, lambda m: m["type"] == "snapshot")
        body = {"model": "llama3.2", "messages": [{"role": "user", "content": SECRET}]}
        sent = time.perf_counter()
        assert client.post("/v1/chat/completions", json=body).status_code == 200
        round_trip_ms = (time.perf_counter() - sent) * 1000
        entry = receive_until(ws, lambda m: m["type"] == "request")["request"]
        assert entry["surface"] == "openai.chat" and entry["backend"] == "ollama"
        assert entry["requested_model"] == "llama3.2" and entry["model"] == "llama3.2:latest"
        assert entry["status"] == 200 and entry["outcome"] == "ok" and entry["stream"] is False
        assert entry["client"] == "127.0.0.1" and entry["tokens_in"] > 0 and entry["tokens_out"] > 0
        # The backend's time and the gateway's own add up to no more than the client waited.
        assert entry["upstream_ms"] > 0 and entry["added_ms"] is not None
        assert entry["upstream_ms"] + entry["added_ms"] <= round_trip_ms
        assert SECRET not in json.dumps(entry)
        missing = client.post("/v1/chat/completions", json={**body, "model": "nope"})
        assert missing.status_code == 404
        failed = receive_until(ws, lambda m: m["type"] == "request" and m["request"]["outcome"] == "error")
        assert failed["request"]["status"] == 404
        logged = client.get("/v1/requests", params={"outcome": "ok"}).json()["requests"]
        assert [e["id"] for e in logged] == [entry["id"]]
        assert client.get("/v1/requests", params={"backend": "llamafarm"}).json()["requests"] == []
        assert client.get("/v1/requests", params={"limit": "0"}).status_code == 400


def test_a_stream_is_logged_when_it_ends_with_its_time_to_first_token(backends, make_gateway) -> None:
    gateway = make_gateway(backends)
    body = {"model": "llama3.2", "stream": True, "messages": [{"role": "user", "content": "hello there"}]}
    with gateway.client() as client:
        with client.stream("POST", "/v1/chat/completions", json=body) as answer:
            assert list(answer.iter_lines())[-2:] == ["data: [DONE]", ""] or answer.status_code == 200
        entry = client.get("/v1/requests").json()["requests"][0]
    assert entry["stream"] is True and entry["ttft_ms"] is not None and entry["tokens_out"] > 0


def test_prompts_are_kept_only_when_the_operator_asks(backends, make_gateway) -> None:
    gateway = make_gateway(backends, log_prompts=True)
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": SECRET}]}
    with gateway.client() as client:
        client.post("/v1/chat/completions", json=body)
        entry = client.get("/v1/requests").json()["requests"][0]
    assert entry["prompt"] == SECRET and entry["answer"]


def test_metrics_count_requests_tokens_and_show_each_hosts_load_and_probe(backends, make_gateway) -> None:
    gateway = make_gateway(backends)
    with gateway.client() as client:
        client.post("/v1/chat/completions", json={"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]})
        text = client.get("/metrics").text
        stats = next(i for i in client.get("/v1/integrations").json()["integrations"] if i["id"] == "ollama")["stats"]
    assert 'atmosphere_requests_total{backend="ollama",model="llama3.2:latest",outcome="ok",surface="openai.chat"} 1.0' in text
    assert 'atmosphere_upstream_latency_seconds_count{backend="ollama"} 1.0' in text
    assert 'atmosphere_added_latency_seconds_bucket{le="0.5",surface="openai.chat"}' not in text  # own buckets
    assert "atmosphere_tokens_out_total" in text and 'atmosphere_host_inflight{backend="ollama"} 0.0' in text
    assert 'atmosphere_host_status{backend="llamafarm",status="healthy"} 1.0' in text
    assert 'atmosphere_probe_latency_seconds{backend="ollama"}' in text
    assert stats["sparkline"][-1] == 1 and stats["p50_ms"] is not None and stats["error_rate"] == 0.0


def llamafarm_default(gateway: Any) -> str:
    """The LlamaFarm alias the emulator serves by default, under the id the adapter lists it."""
    items = gateway.client().get("/v1/integrations").json()["integrations"]
    return str(next(i for i in items if i["id"] == "llamafarm")["default_model"])


def test_a_shared_name_falls_back_to_its_equivalent_and_says_so(backends, make_gateway, tmp_path) -> None:
    models = tmp_path / "models.toml"
    probe = make_gateway(backends)
    alias = llamafarm_default(probe)
    probe.stop()
    models.write_text(f'[models.small-llama]\nllamafarm = "{alias}"\nollama = "llama3.2:latest"\n')
    gateway = make_gateway(backends, models_file=models)
    body = {"model": "small-llama", "messages": [{"role": "user", "content": "hi"}]}
    with gateway.client() as client:
        assert "small-llama" in [m["id"] for m in client.get("/v1/models").json()["data"]]
        first = client.post("/v1/chat/completions", json=body)
        assert first.headers["x-atmosphere-backend"] == "llamafarm"
        assert first.headers["x-atmosphere-model"] == alias and "x-atmosphere-substituted" not in first.headers
        backends.llamafarm.state.set_fault("error500")
        for requested in ("small-llama", alias):
            served = client.post("/v1/chat/completions", json={**body, "model": requested})
            assert served.status_code == 200, served.text
            assert served.headers["x-atmosphere-backend"] == "ollama"
            assert served.headers["x-atmosphere-model"] == "llama3.2:latest"
            assert served.headers["x-atmosphere-substituted"] == "true"
        entry = client.get("/v1/requests").json()["requests"][0]
        assert entry["substituted"] is True and entry["outcome"] == "fallback"
        assert entry["attempts"][0]["backend"] == "llamafarm"


def test_an_inferred_equivalent_is_only_suggested_until_the_operator_accepts_it(backends, make_gateway) -> None:
    gateway = make_gateway(backends)
    alias = llamafarm_default(gateway)
    with gateway.client() as client:
        suggestions = client.get("/v1/models/equivalents/suggestions").json()["suggestions"]
        assert all(set(s) == {"name", "members", "reason"} for s in suggestions)
        body = {"name": "tiny", "members": {"llamafarm": alias, "ollama": "qwen2.5:0.5b"}}
        assert client.post("/v1/models/equivalents", json=body).json() == {"equivalent": body}
        assert client.post("/v1/models/equivalents", json={"name": "x", "members": {"nowhere": "m"}}).status_code == 400
    gateway.restart()
    with gateway.client() as client:
        served = client.post("/v1/chat/completions", json={"model": "tiny", "messages": [{"role": "user", "content": "hi"}]})
        assert served.headers["x-atmosphere-model"] == alias
        assert client.get("/v1/models/equivalents").json()["equivalents"] == [body]


class _Integrations:
    def add_listener(self, listener: Any) -> None:
        self.listener = listener

    def all(self) -> list[dict[str, Any]]:
        return []


async def test_a_dashboard_that_reads_slowly_misses_request_messages_but_is_not_dropped() -> None:
    from atmosphere.api.admin.websocket import LiveUpdates, _Client
    from atmosphere.observe.requestlog import RequestEntry

    integrations = _Integrations()
    live = LiveUpdates(integrations, rescan=lambda: None)  # type: ignore[arg-type]
    stalled = _Client(websocket=None)  # type: ignore[arg-type]  # nobody sends its queue: it never reads
    live._clients.add(stalled)
    entry = RequestEntry("req-1", 0.0, "openai.chat", "m", "ollama", "m", False, [], 200, "ok", 1.0, 2.0, None, 1, 1, False, None)
    for _ in range(200):
        live.request_done(entry)
    assert live.client_count == 1 and stalled.queue.qsize() == 32
    integrations.listener.integration_changed({"id": "ollama", "status": "offline"})  # status still gets through
    assert live.client_count == 1 and stalled.queue.qsize() == 33
