"""SIGTERM while streams are open: the real `atmosphere serve` process, a slow Ollama stand-in."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import orjson

from atmosphere.lifecycle.drain import Drain
from harness.polling import wait_until
from harness.processes import EmulatorProcess, ServeProcess

WORDS = " ".join(f"word{i}" for i in range(40))  # the stand-in echoes it: ~50 chunks, 0.3 s apart


def _gateway(ollama: EmulatorProcess, state: Path, port: int, *args: str) -> ServeProcess:
    """The real `atmosphere serve` on the Ollama stand-in, draining for at most 2 s on SIGTERM."""
    env = {"ATMOSPHERE_OLLAMA_URL": ollama.url, "ATMOSPHERE_SHUTDOWN_GRACE": "2", "ATMOSPHERE_STATE_DIR": str(state)}
    return ServeProcess(*args, port=port, env=env)


async def _ten_streams(gateway: ServeProcess) -> tuple[list[str], Exception | None]:
    started = asyncio.Event()
    begun = 0
    body = {"model": "qwen2.5:0.5b", "stream": True, "messages": [{"role": "user", "content": WORDS}]}

    async def one(client: httpx.AsyncClient) -> str:
        nonlocal begun
        text = ""
        async with client.stream("POST", "/v1/chat/completions", json=body) as resp:
            assert resp.status_code == 200
            async for part in resp.aiter_text():
                if not text:
                    begun += 1
                    if begun == 10:
                        started.set()
                text += part
        return text

    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        streams = [asyncio.ensure_future(one(client)) for _ in range(10)]
        await asyncio.wait_for(started.wait(), 15)
        gateway.proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.2)  # let the signal reach the listener: the refusal is what we check next
        refused: Exception | None = None
        try:
            await httpx.AsyncClient(timeout=2).get(f"{gateway.url}/health")
        except httpx.TransportError as exc:
            refused = exc
        return list(await asyncio.gather(*streams)), refused


def test_sigterm_during_ten_streams_leaves_ten_well_ended_streams_and_refuses_new_connections(
    tmp_path: Path, unused_tcp_port: int
):
    ollama = EmulatorProcess("ollama", extra_args=["--chunk-delay", "0.3"]).start()
    gateway = _gateway(ollama, tmp_path, unused_tcp_port, "--max-inflight", "16")
    try:
        gateway.started()
        bodies, refused = asyncio.run(_ten_streams(gateway))
        assert gateway.proc.wait(10) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has drained
    finally:
        gateway.stop()
        ollama.terminate()
    assert refused is not None, "a new connection was accepted after SIGTERM"
    for text in bodies:  # each read to its end: a cut chunked body would have raised
        events = [e for e in text.split("\n\n") if e]
        assert events[-1] == "data: [DONE]"
        assert '"code":"shutting_down"' in events[-2]
        assert '"content":"' in text


# path, body, what the drain's ending looks like on that face. The generation faces
# (/v1/completions, /api/generate) share the same wrapper and forms, but the stand-in's
# generate answer is too short to still be open at SIGTERM.
FACE_STREAMS = {
    "/v1/responses": ({"input": WORDS}, "event: response.failed"),
    "/v1/messages": ({"messages": [{"role": "user", "content": WORDS}], "max_tokens": 200}, "event: error"),
    "/api/chat": ({"messages": [{"role": "user", "content": WORDS}]}, '{"error":"The gateway is shutting down'),
}


async def _one_stream_per_face(gateway: ServeProcess) -> dict[str, str]:
    started = asyncio.Event()
    begun: set[str] = set()

    async def one(client: httpx.AsyncClient, path: str) -> str:
        text = ""
        body = {**FACE_STREAMS[path][0], "model": "qwen2.5:0.5b", "stream": True}
        async with client.stream("POST", path, json=body) as resp:
            assert resp.status_code == 200, path
            async for part in resp.aiter_text():
                begun.add(path)
                if len(begun) == len(FACE_STREAMS):
                    started.set()
                text += part
        return text

    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        streams = {path: asyncio.ensure_future(one(client, path)) for path in FACE_STREAMS}
        await asyncio.wait_for(started.wait(), 15)
        gateway.proc.send_signal(signal.SIGTERM)
        return {path: await stream for path, stream in streams.items()}


def test_sigterm_ends_an_open_stream_on_every_face_with_that_face_s_error_ending(tmp_path: Path, unused_tcp_port: int):
    ollama = EmulatorProcess("ollama", extra_args=["--chunk-delay", "0.3"]).start()
    gateway = _gateway(ollama, tmp_path, unused_tcp_port)
    try:
        gateway.started()
        bodies = asyncio.run(_one_stream_per_face(gateway))
        assert gateway.proc.wait(10) in (0, -signal.SIGTERM)
    finally:
        gateway.stop()
        ollama.terminate()
    for path, text in bodies.items():  # each read to its end: a cut chunked body would have raised
        ending = [e for e in text.replace("\n\n", "\n").split("\n") if e][-2:]
        assert FACE_STREAMS[path][1] in "\n".join(ending), (path, ending)


# Requests whose answer has not started at SIGTERM: the stand-in takes 30 s before its first chunk.
NOT_STARTED = {
    "chat stream": ("/api/chat", {"messages": [{"role": "user", "content": "hi"}]}),
    "generate stream": ("/api/generate", {"prompt": "hi"}),
    "chat, not streamed": ("/api/chat", {"messages": [{"role": "user", "content": "hi"}], "stream": False}),
    "OpenAI chat, not streamed": ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
}


async def _not_yet_answered(gateway: ServeProcess, ollama: EmulatorProcess) -> dict[str, httpx.Response]:
    async def one(client: httpx.AsyncClient, path: str, body: dict[str, object]) -> httpx.Response:
        return await client.post(path, json={**body, "model": "qwen2.5:0.5b"})

    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        answers = {name: asyncio.ensure_future(one(client, *call)) for name, call in NOT_STARTED.items()}

        def all_at_the_backend() -> bool:
            seen = httpx.get(f"{ollama.url}/_emulator/requests", timeout=2).json()["requests"]
            return sum(r["path"] in ("/api/chat", "/api/generate") for r in seen) >= len(NOT_STARTED)

        assert await asyncio.to_thread(wait_until, all_at_the_backend, 15), "the requests never reached the stand-in"
        gateway.proc.send_signal(signal.SIGTERM)
        return {name: await answer for name, answer in answers.items()}


def test_sigterm_before_an_answer_starts_ends_it_with_the_face_s_error_not_a_cut_connection(tmp_path: Path, unused_tcp_port: int):
    ollama = EmulatorProcess("ollama", extra_args=["--set", "answer_delay=30"]).start()
    gateway = _gateway(ollama, tmp_path, unused_tcp_port)
    try:
        gateway.started()
        answers = asyncio.run(_not_yet_answered(gateway, ollama))
        assert gateway.proc.wait(10) in (0, -signal.SIGTERM)
        gateway.wait_for("<exited>")  # the whole log read
        log = gateway.log
    finally:
        gateway.stop()
        ollama.terminate()
    for name, answer in answers.items():
        assert answer.status_code == 503, (name, answer.status_code, answer.text)
    for name in ("chat stream", "generate stream", "chat, not streamed"):  # Ollama's own error line
        (line,) = answers[name].text.splitlines()
        assert set(orjson.loads(line)) == {"error"} and "shutting down" in orjson.loads(line)["error"], name
    assert answers["OpenAI chat, not streamed"].json()["error"]["code"] == "shutting_down"
    assert "CancelledError" not in log and "Traceback" not in log, log


def test_a_request_that_moved_on_before_the_drain_hook_runs_is_left_alone():
    async def scenario() -> list[str]:
        drain = Drain()
        stopping = asyncio.Event()
        drain.on_stop(stopping.set)
        drain.begin(0.0)
        await stopping.wait()
        called: list[str] = []
        late = drain.on_stop(lambda: called.append("answered already"))  # fires on the next turn...
        late.remove()  # ...but its answer started first: it must not be cancelled
        drain.on_stop(lambda: called.append("still waiting"))
        last = asyncio.Event()
        drain.on_stop(last.set)
        await last.wait()
        return called

    assert asyncio.run(scenario()) == ["still waiting"]
