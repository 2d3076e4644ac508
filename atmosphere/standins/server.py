"""Run emulators as real HTTP servers on 127.0.0.1: in a thread, or as a process.

`EmulatorServer` binds its socket itself so a port-0 server knows its port
before uvicorn starts and can be restarted on the same port after `stop()`,
which also drops open connections (the "backend killed" case).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal, Self, cast

import uvicorn
from starlette.types import ASGIApp

from atmosphere.standins.common import hide_stream_cuts

HOST = "127.0.0.1"


def bind_socket(port: int, host: str = HOST) -> socket.socket:
    """A listening TCP socket with SO_REUSEADDR, so restarts can reuse the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _resolve_app(app_or_factory: ASGIApp | Callable[[], ASGIApp]) -> ASGIApp:
    """Accept an ASGI app (3 params) or a zero-argument factory of one."""
    try:
        params = inspect.signature(app_or_factory).parameters.values()
    except (TypeError, ValueError):
        return cast(ASGIApp, app_or_factory)
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.default is p.empty and p.kind in positional for p in params):
        return cast(ASGIApp, app_or_factory)
    return cast(Callable[[], ASGIApp], app_or_factory)()


class _Server(uvicorn.Server):
    """uvicorn.Server that can abort every connection and be woken to exit from another thread."""

    _wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        # uvicorn's loop polls `should_exit` every 0.1 s; a suite of tests stops four servers
        # per test, so it waits on an event `wake()` sets instead (same 0.1 s tick otherwise).
        self._wake = asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)
            should_exit = await self.on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown steps, less its fixed 0.1 s sleep after asking connections to close
        (the tests stop a gateway and three stand-ins per test): an emulator that "vanishes" has
        aborted its connections already; a gateway polls briefly until its idle keep-alive
        connections are gone, then waits for the rest and runs its lifespan shutdown as uvicorn does."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        if not self.force_exit:
            for connection in list(self.server_state.connections):
                connection.shutdown()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 0.1
            while self.server_state.connections and loop.time() < deadline:
                await asyncio.sleep(0.002)
            try:
                # uvicorn 0.54's own wait (pinned in constraints.txt): open connections, then tasks.
                await asyncio.wait_for(self._wait_tasks_to_complete(), timeout=self.config.timeout_graceful_shutdown)
            except TimeoutError:
                for task in self.server_state.tasks:
                    task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
            await self.lifespan.shutdown()
            return
        for server in self.servers:
            await server.wait_closed()

    def wake(self) -> None:
        """On the server's loop: look at `should_exit` now rather than at the next tick."""
        if self._wake is not None:
            self._wake.set()

    def abort_connections(self) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()


class EmulatorServer:
    """An ASGI app served by uvicorn (uvloop + httptools) in a background thread."""

    def __init__(
        self,
        app: ASGIApp | Callable[[], ASGIApp],
        port: int = 0,
        host: str = HOST,
        *,
        lifespan: Literal["on", "off"] = "off",
        http: Any = "httptools",  # the gateway's tests pass its own protocol class (connections.py)
    ) -> None:
        self.app = _resolve_app(app)
        self.http = http
        self.lifespan = lifespan  # "on" to serve an app that needs its startup (the gateway itself)
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def state(self) -> Any:
        """The app's `EmulatorState` when it is one of our emulators, else None."""
        app_state = getattr(self.app, "state", None)
        return getattr(app_state, "emulator", None)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> Self:
        """Start serving and block until uvicorn accepts connections."""
        if self.running:
            return self
        hide_stream_cuts()
        sock = bind_socket(self.port, self.host)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            loop="uvloop",
            http=self.http,
            ws="none" if self.lifespan == "off" else "auto",
            lifespan=self.lifespan,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        server = _Server(config)
        self._server = server
        self._thread = threading.Thread(target=self._run, args=(server, sock), name=f"emulator-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError(f"emulator on port {self.port} failed to start")
            time.sleep(0.005)
        return self

    def _run(self, server: _Server, sock: socket.socket) -> None:
        loop_factory = server.config.get_loop_factory()
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            self._loop = runner.get_loop()
            runner.run(server.serve(sockets=[sock]))
        self._loop = None

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every open connection; later connects are refused."""
        self.signal_stop()
        self.wait_stopped(timeout)

    def signal_stop(self) -> None:
        """The first half of `stop()`: tell the server to go, without waiting for it (so several
        servers can shut down side by side, `EmulatorSuite.stop`)."""
        server, thread, loop = self._server, self._thread, self._loop
        if server is None or thread is None:
            return
        server.should_exit = True
        # The gateway (lifespan on) must run its shutdown; emulators just vanish.
        server.force_exit = self.lifespan == "off"
        if loop is not None and thread.is_alive():
            try:
                loop.call_soon_threadsafe(server.abort_connections)
                loop.call_soon_threadsafe(server.wake)
            except RuntimeError:  # loop already closed
                pass

    def wait_stopped(self, timeout: float = 5.0) -> None:
        """The second half of `stop()`: wait for the server's thread to end."""
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class HangServer:
    """A port that accepts TCP connections and never sends a byte."""

    def __init__(self, port: int = 0, host: str = HOST) -> None:
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 5.0) -> Self:
        sock = bind_socket(self.port, self.host)
        self.port = sock.getsockname()[1]
        self._ready.clear()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(sock),), daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"hang server on port {self.port} failed to start")
        return self

    async def _serve(self, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        writers: set[asyncio.StreamWriter] = set()

        async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.add(writer)
            try:
                while await reader.read(65536):
                    pass  # swallow the request, answer nothing
            except ConnectionError:
                pass
            finally:
                writers.discard(writer)
                writer.close()

        server = await asyncio.start_server(hold, sock=sock)
        self._ready.set()
        await self._stopping.wait()
        server.close()
        for writer in list(writers):
            writer.transport.abort()
        await asyncio.sleep(0)

    def stop(self, timeout: float = 5.0) -> None:
        if self._loop is not None and self._stopping is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(timeout)
        self._loop = self._thread = self._stopping = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
