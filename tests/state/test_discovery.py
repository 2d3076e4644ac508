"""Discovery: honest status for every way a backend can be, within a probe timeout."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from atmosphere.standins.server import HangServer


def integrations(gateway, refresh: bool = False) -> dict[str, dict]:
    with gateway.client() as client:
        body = client.get("/v1/integrations", params={"refresh": "true"} if refresh else None).json()
    assert isinstance(body["timestamp"], float)
    return {item["id"]: item for item in body["integrations"]}


def test_healthy_backends_are_described_in_full(gateway, backends):
    found = integrations(gateway)
    assert list(found) == ["llamafarm", "ollama"]
    ollama, llamafarm = found["ollama"], found["llamafarm"]
    assert ollama["status"] == "healthy" and ollama["error"] is None
    assert ollama["version"] == "0.12.3"
    assert ollama["url"] == backends.ollama.url
    assert ollama["enabled"] is True
    assert ollama["model_count"] == len(ollama["models"]) == 4
    llama = next(m for m in ollama["models"] if m["id"] == "llama3.2:latest")
    assert (llama["family"], llama["parameter_size"], llama["quantization"], llama["size"]) == (
        "llama",
        "3.2B",
        "Q4_K_M",
        2019393189,
    )
    assert set(ollama["capabilities"]) == {"chat", "generate", "embeddings", "vision", "tools"}
    assert ollama["latency_ms"] > 0 and ollama["last_checked"] > time.time() - 60
    assert llamafarm["status"] == "healthy" and llamafarm["version"] == "0.0.27"
    assert {m["id"] for m in llamafarm["models"]} >= {"fast", "smart", "coder-small"}
    assert {(p["name"], p["default_model"]) for p in llamafarm["projects"]} == {("chatbot", "fast"), ("coder", "coder-small")}
    assert "embeddings" in llamafarm["capabilities"]  # its Universal Runtime answers


def test_nothing_listening_is_offline_quickly(make_gateway):
    gateway = make_gateway()  # every URL points at a closed port
    started = time.perf_counter()
    found = integrations(gateway, refresh=True)
    assert time.perf_counter() - started < 0.5
    for item in found.values():
        assert item["status"] == "offline"
        assert "refused" in item["error"]
        assert item["models"] == [] and item["capabilities"] == []


def test_a_port_that_never_answers_is_offline_within_the_probe_timeout(backends, make_gateway):
    with HangServer() as hang:
        gateway = make_gateway(backends, llamafarm_url=hang.url, probe_timeout=0.5)
        started = time.perf_counter()
        found = integrations(gateway, refresh=True)
        elapsed = time.perf_counter() - started
    assert elapsed < 0.5 + 0.3
    assert found["llamafarm"]["status"] == "offline"
    assert "0.5" in found["llamafarm"]["error"]
    assert found["ollama"]["status"] == "healthy"  # one hung backend does not hold up the other


@pytest.mark.parametrize(
    "fault, words",
    [("error500", "HTTP 500"), ("malformed", "not JSON"), ("unhealthy", "unhealthy")],
)
def test_a_backend_that_answers_wrongly_is_error_with_the_reason(backends, make_gateway, fault, words):
    backends.llamafarm.state.set_fault(fault)
    found = integrations(make_gateway(backends))
    assert found["llamafarm"]["status"] == "error"
    assert words in found["llamafarm"]["error"]


def test_ollama_answering_garbage_is_error(backends, make_gateway):
    backends.ollama.state.set_fault("malformed")
    assert integrations(make_gateway(backends))["ollama"]["status"] == "error"


def test_old_ollama_without_capabilities_is_still_described(backends, make_gateway):
    backends.ollama.state.with_capabilities = False
    models = {m["id"]: m for m in integrations(make_gateway(backends))["ollama"]["models"]}
    assert models["nomic-embed-text:latest"]["capabilities"] == ["embeddings"]
    assert "chat" in models["llama3.2:latest"]["capabilities"]


def test_refresh_rescans_now(backends, make_gateway):
    gateway = make_gateway(backends, health_interval=60)
    assert integrations(gateway)["ollama"]["status"] == "healthy"
    backends.ollama.stop()
    assert integrations(gateway, refresh=True)["ollama"]["status"] == "offline"


def test_disable_takes_a_backend_out_of_routing_and_survives_a_restart(gateway):
    with gateway.client() as client:
        response = client.post("/v1/integrations/ollama/disable")
        assert response.status_code == 200 and response.json()["integration"]["enabled"] is False
        models = {m["id"] for m in client.get("/v1/models").json()["data"]}
        assert "qwen2.5:0.5b" not in models and "fast" in models
        refused = client.post(
            "/v1/chat/completions", json={"model": "qwen2.5:0.5b", "messages": [{"role": "user", "content": "x"}]}
        )
        assert refused.status_code == 404
        assert "disabled" in refused.json()["error"]["message"]
        hidden = client.get("/v1/models/qwen2.5:0.5b")
        assert hidden.status_code == 404 and "disabled integration(s): ollama" in hidden.json()["error"]["message"]
    gateway.restart()
    found = integrations(gateway)
    assert found["ollama"]["enabled"] is False
    assert found["ollama"]["status"] == "healthy"  # still probed and shown
    with gateway.client() as client:
        assert client.post("/v1/integrations/ollama/enable").json()["integration"]["enabled"] is True
        ok = client.post("/v1/chat/completions", json={"model": "qwen2.5:0.5b", "messages": [{"role": "user", "content": "x"}]})
        assert ok.status_code == 200
    gateway.restart()
    assert integrations(gateway)["ollama"]["enabled"] is True


def test_enable_or_disable_of_an_unknown_integration_is_404(gateway):
    with gateway.client() as client:
        response = client.post("/v1/integrations/openai/disable")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


class Babbler:
    """A port that answers every request with 200 and a chunked body that never ends."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._babble, args=(conn,), daemon=True).start()

    def _babble(self, conn: socket.socket) -> None:
        chunk = b"4000\r\n" + b"[" * 0x4000 + b"\r\n"
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            while not self._stop.is_set():
                conn.sendall(chunk)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._sock.close()


def test_a_babbling_backend_is_cut_off_not_buffered(backends, make_gateway):
    babbler = Babbler()
    try:
        gateway = make_gateway(backends, ollama_url=babbler.url, probe_timeout=1.0)
        started = time.perf_counter()
        found = integrations(gateway, refresh=True)
        assert time.perf_counter() - started < 1.3
    finally:
        babbler.stop()
    assert found["ollama"]["status"] == "error"
    assert "larger than" in found["ollama"]["error"]
    assert found["llamafarm"]["status"] == "healthy"
