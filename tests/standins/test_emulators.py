"""The backend emulators speak the wire formats in shared/reference, faults included."""

from __future__ import annotations

import base64
import socket
import struct
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

from atmosphere.standins import (
    EmulatorServer,
    EmulatorState,
    EmulatorSuite,
    HangServer,
    create_ollama_app,
    start_all_in_process,
)
from atmosphere.standins.llamafarm import APOLOGY
from harness.processes import EmulatorProcess

CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi there"}]}
LF_CHAT_PATH = "/v1/projects/default/chatbot/chat/completions"


@pytest.fixture(scope="module")
def suite() -> Iterator[EmulatorSuite]:
    with start_all_in_process() as running:
        yield running


@pytest.fixture
def emulators(suite: EmulatorSuite) -> Iterator[EmulatorSuite]:
    for server in suite.servers.values():
        server.state.reset()
    yield suite


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=3) as http:
        yield http


def _refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_ollama_chat_streams_ndjson_by_default_with_done_line_and_metrics(emulators: EmulatorSuite, client: httpx.Client) -> None:
    resp = client.post(emulators.ollama.url + "/api/chat", json=CHAT)

    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/x-ndjson"
    assert resp.text.endswith("}\n")
    lines = [orjson.loads(line) for line in resp.text.splitlines()]
    assert all(not line["done"] for line in lines[:-1])
    final = lines[-1]
    assert final["done"] is True and final["done_reason"] == "stop"
    for key in ("total_duration", "load_duration", "prompt_eval_count", "eval_count", "eval_duration"):
        assert isinstance(final[key], int) and final[key] > 0
    text = "".join(line["message"]["content"] for line in lines)
    assert text == "Hello from the Ollama emulator (llama3.2)! You said: hi there"


def test_ollama_non_stream_truncates_to_num_predict_and_records_the_request(
    emulators: EmulatorSuite, client: httpx.Client
) -> None:
    body = {**CHAT, "stream": False, "options": {"num_predict": 3}}
    resp = client.post(emulators.ollama.url + "/api/chat", json=body, headers={"X-Trace": "1"})

    assert resp.json()["message"]["content"] == "Hello from the"
    assert resp.json()["done_reason"] == "length"
    recorded = emulators.ollama.state.recorded("/api/chat")[-1]
    assert recorded.json["options"]["num_predict"] == 3
    assert recorded.headers["x-trace"] == "1"


def test_ollama_errors_use_the_real_statuses_and_bodies(emulators: EmulatorSuite, client: httpx.Client) -> None:
    url = emulators.ollama.url
    missing = client.post(url + "/api/chat", json={"model": "nope", "messages": []})
    embed_only = client.post(url + "/api/chat", json={**CHAT, "model": "nomic-embed-text"})
    bad_input = client.post(url + "/api/embed", json={"model": "nomic-embed-text", "input": [1]})

    assert (missing.status_code, missing.json()) == (404, {"error": "model 'nope' not found"})
    assert (embed_only.status_code, embed_only.json()) == (
        400,
        {"error": '"nomic-embed-text:latest" does not support chat'},
    )
    assert (bad_input.status_code, bad_input.json()) == (400, {"error": "invalid input type"})


def test_ollama_stream_error_fault_sends_an_error_line_with_status_200(emulators: EmulatorSuite, client: httpx.Client) -> None:
    emulators.ollama.state.set_fault("stream_error", cut_after=2)

    resp = client.post(emulators.ollama.url + "/api/chat", json=CHAT)

    assert resp.status_code == 200
    lines = [orjson.loads(line) for line in resp.text.splitlines()]
    assert len(lines) == 3
    assert "error" in lines[-1] and not any(line.get("done") for line in lines)


def test_cut_fault_drops_the_connection_before_the_done_line(emulators: EmulatorSuite, client: httpx.Client) -> None:
    emulators.ollama.state.set_fault("cut", cut_after=2)
    received: list[str] = []

    with pytest.raises(httpx.RemoteProtocolError):
        with client.stream("POST", emulators.ollama.url + "/api/chat", json=CHAT) as resp:
            received.extend(resp.iter_lines())

    assert len(received) == 2


def test_llamafarm_masked_fault_streams_a_canned_apology_with_status_200(emulators: EmulatorSuite, client: httpx.Client) -> None:
    emulators.llamafarm.state.set_fault("masked")
    body = {"messages": [{"role": "user", "content": "hi"}], "stream": True}

    resp = client.post(emulators.llamafarm.url + LF_CHAT_PATH, json=body, headers={"X-No-Session": "1"})

    assert resp.status_code == 200
    assert resp.headers["x-session-id"] == ""
    events = [e.removeprefix("data: ") for e in resp.text.split("\n\n") if e]
    assert events[-1] == "[DONE]" and len(events) == 2
    assert orjson.loads(events[0])["choices"][0]["delta"]["content"] == APOLOGY
    assert APOLOGY.startswith("I notice my previous response wasn't very helpful.")


def test_llamafarm_chat_answers_openai_shape_with_backend_model_and_session(
    emulators: EmulatorSuite, client: httpx.Client
) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "stream": True}

    stream = client.post(emulators.llamafarm.url + LF_CHAT_PATH, json=body)
    plain = client.post(emulators.llamafarm.url + LF_CHAT_PATH, json={**body, "stream": False})

    assert stream.headers["x-session-id"] != ""
    chunks = [orjson.loads(e.removeprefix("data: ")) for e in stream.text.split("\n\n")[:-2]]
    assert all("finish_reason" not in c["choices"][0] for c in chunks[:-1])
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    answer = plain.json()
    assert answer["model"] == "llama3.2:3b" and answer["usage"]["total_tokens"] > 0
    assert answer["choices"][0]["message"]["content"].startswith("Hello from the LlamaFarm emulator (chatbot/fast)!")


def test_llamafarm_has_no_top_level_openai_routes(emulators: EmulatorSuite, client: httpx.Client) -> None:
    for path in ("/v1/chat/completions", "/v1/embeddings"):
        resp = client.post(emulators.llamafarm.url + path, json={"model": "x"})
        assert (resp.status_code, resp.json()) == (404, {"detail": "Not Found"})
    emulators.llamafarm.state.set_fault("html")
    assert client.post(emulators.llamafarm.url + "/v1/chat/completions", json={}).status_code == 405
    page = client.get(emulators.llamafarm.url + "/v1/anything")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


def test_runtime_embeddings_base64_decodes_to_the_float_vector(emulators: EmulatorSuite, client: httpx.Client) -> None:
    body = {"model": "sentence-transformers/all-MiniLM-L6-v2", "input": "hello"}
    url = emulators.runtime.url + "/v1/embeddings"

    floats = client.post(url, json=body).json()["data"][0]["embedding"]
    packed = client.post(url, json={**body, "encoding_format": "base64"}).json()["data"][0]["embedding"]

    assert len(floats) == 384
    decoded = struct.unpack("<384f", base64.b64decode(packed))
    assert max(abs(a - b) for a, b in zip(decoded, floats, strict=True)) < 1e-6


def test_error500_and_malformed_faults_spare_the_control_endpoints(emulators: EmulatorSuite, client: httpx.Client) -> None:
    url = emulators.llamafarm.url
    client.post(url + "/_emulator/fault", json={"fault": "error500"})
    assert client.get(url + "/health").status_code == 500
    assert client.get(url + "/health").json()["error"] == "InternalServerError"
    client.post(url + "/_emulator/fault", json={"fault": "malformed"})
    assert client.get(url + "/health").text == "<html>garbage"
    assert client.post(url + "/_emulator/reset").json()["fault"] == "none"


def test_stopped_emulator_refuses_connections_and_restarts_on_the_same_port(client: httpx.Client) -> None:
    server = EmulatorServer(create_ollama_app).start()
    port = server.port
    try:
        assert client.get(server.url + "/").text == "Ollama is running"
        server.stop()
        assert _refuses(port)
        server.start()
        assert server.port == port
        assert client.get(server.url + "/").text == "Ollama is running"
    finally:
        server.stop()


def test_stop_aborts_a_request_that_is_still_hanging() -> None:
    server = EmulatorServer(create_ollama_app(EmulatorState(fault="hang"))).start()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.05)
    started = time.monotonic()
    server.stop()
    sock.settimeout(2)
    assert sock.recv(100) == b""  # closed without an answer
    assert time.monotonic() - started < 2
    sock.close()


def test_hang_server_times_out_a_client() -> None:
    with HangServer() as hang, httpx.Client(timeout=0.3) as http:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            http.get(hang.url + "/health")
        assert time.monotonic() - started < 1.5


def test_emulator_process_reports_its_port_and_dies_on_sigkill() -> None:
    proc = EmulatorProcess("ollama", extra_args=["--fault", "none"]).start()
    try:
        assert httpx.get(proc.url + "/api/version", timeout=3).json() == {"version": "0.12.3"}
    finally:
        proc.kill()
    assert _refuses(proc.port)
