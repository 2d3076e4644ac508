"""A hostile backend for the fault tests and the bench: green health, poisonous answers.

It fronts a real stand-in (Ollama, or LlamaFarm with its runtime) and forwards every
request to it, so probes, model lists and health checks stay exactly the stand-in's
(green); only the *work* routes (chat, generate, embeddings) misbehave, in one of the
``MODES`` below. The mode can be switched while it runs: from a test through
``state``, from another process with ``POST /_hostile {"mode": ..., ...}``.

The misbehaviours are written on raw sockets (``harness.raw``) because they are what
no well-behaved server framework can send: a head trickled a byte at a time, a header
that never ends, an endless stream of empty deltas.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Self

import httpx

from atmosphere.standins.catalog import Project, ProjectModel
from atmosphere.standins.llamafarm import create_llamafarm_app
from atmosphere.standins.ollama import create_ollama_app
from atmosphere.standins.server import EmulatorServer
from atmosphere.standins.state import EmulatorState
from harness.raw import RawRequest, RawServer, response

MODES: dict[str, str] = {
    "none": "forward everything: a healthy backend",
    "trickle": "work answers send their head at once, then the body one byte every `interval` s",
    "trickle_head": "work answers send even the status line and headers one byte every `interval` s",
    "empty_deltas": "streams send empty deltas (and SSE comments) without end, as fast as they are read",
    "huge_headers": "work answers start a header that grows to 100 MB",
    "busy503": "work answers are an instant 503 `server busy` (with Retry-After when `retry_after` is set)",
    "hang": "work requests are accepted and never answered",
    "hang_all": "every request hangs, probes too (the monitor sees it go offline)",
    "huge_body": "work answers are a valid answer of `body_mib` MiB",
}
_OLLAMA_BUSY = "server busy, please try again.  maximum pending requests exceeded"


@dataclass
class HostileState:
    mode: str = "none"
    interval: float = 1.0
    retry_after: int | None = None
    body_mib: int = 60
    work_requests: int = 0  # how many work requests reached it (whatever the mode)
    working: int = 0  # work requests being answered now (a hang ends when its client leaves)


class HostileBackend:
    """A stand-in of ``dialect`` ("ollama" or "llamafarm") behind the hostile front, in a thread."""

    def __init__(
        self,
        dialect: str = "ollama",
        mode: str = "none",
        *,
        ssl_context: ssl.SSLContext | None = None,
        port: int = 0,
        shared_alias: list[str] | None = None,
    ) -> None:
        if dialect not in ("ollama", "llamafarm"):
            raise ValueError(f"unknown dialect {dialect!r}")
        self.dialect = dialect
        self.state = HostileState(mode=mode)
        emulator = EmulatorState()
        if shared_alias:  # LlamaFarm: also serve these names (e.g. llama3.2:latest), to fall back between kinds
            models = [ProjectModel(name, "ollama", name, base_url="http://localhost:11434/v1") for name in shared_alias]
            emulator.projects.append(Project(name="shared", default_model=shared_alias[0], models=models))
        app = create_ollama_app(emulator) if dialect == "ollama" else create_llamafarm_app(emulator, "default")
        self.inner = EmulatorServer(app)
        self._ssl = ssl_context
        self._port = port
        self._server: RawServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return self._server.url

    def set_mode(self, mode: str, **params: Any) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        for key, value in params.items():
            setattr(self.state, key, value)
        self.state.mode = mode

    def start(self, timeout: float = 10.0) -> Self:
        self.inner.start()
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(),), name="hostile", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("hostile backend failed to start")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout)
        self._loop = self._thread = self._stop = None
        self.inner.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with httpx.AsyncClient(base_url=self.inner.url, timeout=None) as client:
            self._client = client
            self._server = await RawServer(self._handle, ssl_context=self._ssl, port=self._port).start()
            self._ready.set()
            await self._stop.wait()
            await self._server.stop()

    # --- answering -------------------------------------------------------------------

    async def _handle(self, request: RawRequest, writer: asyncio.StreamWriter) -> bool | None:
        if request.path == "/_hostile":
            return self._control(request, writer)
        if self.state.mode == "hang_all":
            await asyncio.Event().wait()  # cancelled when the client leaves
        if not _is_work(request):
            return await self._forward(request, writer)
        self.state.work_requests += 1
        self.state.working += 1
        try:
            behave = _BEHAVIOURS.get(self.state.mode)
            if behave is None:
                return await self._forward(request, writer)
            return await behave(self, request, writer)
        finally:
            self.state.working -= 1

    def _control(self, request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        try:
            if request.method == "POST":
                params = json.loads(request.body or b"{}")
                self.set_mode(params.pop("mode", self.state.mode), **params)
            writer.write(response(200, json.dumps(asdict(self.state)).encode(), {"Content-Type": "application/json"}))
        except (ValueError, TypeError) as exc:
            writer.write(response(400, json.dumps({"error": str(exc)}).encode(), {"Content-Type": "application/json"}))
        return True

    async def _forward(self, request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        """Pass the request to the stand-in; stream its answer back chunk by chunk."""
        headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length", "connection")}
        outgoing = self._client.build_request(request.method, request.path, content=request.body, headers=headers)
        upstream = await self._client.send(outgoing, stream=True)
        try:
            head = [f"HTTP/1.1 {upstream.status_code} {upstream.reason_phrase}", "Transfer-Encoding: chunked"]
            skip = ("content-length", "transfer-encoding", "connection")
            head += [f"{k}: {v}" for k, v in upstream.headers.items() if k.lower() not in skip]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
            async for part in upstream.aiter_raw():
                writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                await writer.drain()
            writer.write(b"0\r\n\r\n")
        finally:
            await upstream.aclose()
        return True

    def _answer_body(self, request: RawRequest, content: str) -> bytes:
        """A complete, valid non-streamed answer in this dialect with ``content``."""
        if self.dialect == "ollama":
            message = {"role": "assistant", "content": content}
            return json.dumps({"model": _model(request), "message": message, "done": True, "done_reason": "stop"}).encode()
        choice = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        return json.dumps({"id": "chatcmpl-hostile", "object": "chat.completion", "choices": [choice]}).encode()

    def _empty_delta(self, request: RawRequest) -> bytes:
        if self.dialect == "ollama":
            line = {"model": _model(request), "message": {"role": "assistant", "content": ""}, "done": False}
            return json.dumps(line).encode() + b"\n"
        chunk = {"id": "chatcmpl-hostile", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}}]}
        return b": keep-alive\n\ndata: " + json.dumps(chunk).encode() + b"\n\n"


Behaviour = Callable[[HostileBackend, RawRequest, asyncio.StreamWriter], Awaitable[bool | None]]


async def _trickle(backend: HostileBackend, request: RawRequest, writer: asyncio.StreamWriter) -> bool:
    body = backend._answer_body(request, "trickled " * 8)
    writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode())
    await _dribble(writer, body, backend.state.interval)
    return True


async def _trickle_head(backend: HostileBackend, request: RawRequest, writer: asyncio.StreamWriter) -> bool:
    await _dribble(
        writer, response(200, backend._answer_body(request, "late"), {"Content-Type": "application/json"}), backend.state.interval
    )
    return True


async def _dribble(writer: asyncio.StreamWriter, data: bytes, interval: float) -> None:
    for index in range(len(data)):
        writer.write(data[index : index + 1])
        await writer.drain()
        await asyncio.sleep(interval)


async def _empty_deltas(backend: HostileBackend, request: RawRequest, writer: asyncio.StreamWriter) -> bool | None:
    if not _streamed(request, backend.dialect):
        return await backend._forward(request, writer)
    kind = "application/x-ndjson" if backend.dialect == "ollama" else "text/event-stream"
    writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
    piece = backend._empty_delta(request) * 64
    frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    while True:  # until the client leaves (RawServer cancels us then)
        writer.write(frame)
        await writer.drain()


async def _huge_headers(backend: HostileBackend, request: RawRequest, writer: asyncio.StreamWriter) -> bool:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Huge: ")
    block = b"h" * (1 << 20)
    for _ in range(100):
        writer.write(block)
        await writer.drain()
    writer.write(b"\r\nContent-Length: 2\r\n\r\n{}")
    return False


async def _busy(backend: HostileBackend, request: RawRequest, writer: asyncio.StreamWriter) -> bool:
    headers = {"Content-Type": "application/json"}
    if backend.state.retry_after is not None:
        headers["Retry-After"] = str(backend.state.retry_after)
    if backend.dialect == "ollama":
        body = {"error": _OLLAMA_BUSY}
    else:
        body = {"detail": "server busy"}
    writer.write(response(503, json.dumps(body).encode(), headers, reason="Service Unavailable"))
    return True


async def _hang(backend: HostileBackend, request: RawRequest, writer: asyncio.StreamWriter) -> bool:
    await asyncio.Event().wait()  # cancelled when the client leaves
    return False


async def _huge_body(backend: HostileBackend, request: RawRequest, writer: asyncio.StreamWriter) -> bool:
    body = backend._answer_body(request, "x" * (backend.state.body_mib << 20))
    writer.write(response(200, body, {"Content-Type": "application/json"}))
    return True


_BEHAVIOURS: dict[str, Behaviour] = {
    "trickle": _trickle,
    "trickle_head": _trickle_head,
    "empty_deltas": _empty_deltas,
    "huge_headers": _huge_headers,
    "busy503": _busy,
    "hang": _hang,
    "huge_body": _huge_body,
}


def _is_work(request: RawRequest) -> bool:
    path = request.path.split("?", 1)[0]
    return request.method == "POST" and path.endswith(("/chat", "/generate", "/embed", "/embeddings", "/chat/completions"))


def _body(request: RawRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _model(request: RawRequest) -> str:
    return str(_body(request).get("model") or "hostile")


def _streamed(request: RawRequest, dialect: str) -> bool:
    stream = _body(request).get("stream")
    return stream is not False if dialect == "ollama" else bool(stream)  # Ollama streams unless told not to
