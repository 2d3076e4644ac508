"""Shared fixtures: emulated backends on free ports, and the gateway serving real HTTP."""

from __future__ import annotations

import functools
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from atmosphere.app import create_app
from atmosphere.config import Settings
from atmosphere.connections import uvicorn_limits
from atmosphere.standins.server import EmulatorServer
from atmosphere.standins.suite import EmulatorSuite, start_all_in_process

if TYPE_CHECKING:
    from agent_support import RefusingProxy
    from postgres_support import PostgresServer


@pytest.fixture
def backends() -> Iterator[EmulatorSuite]:
    """Ollama, LlamaFarm and its Universal Runtime, emulated, each on a free port."""
    suite = start_all_in_process()
    try:
        yield suite
    finally:
        suite.stop()


@functools.cache
def _tls() -> ssl.SSLContext:
    return httpx.create_ssl_context()


class Gateway:
    """The Atmosphere app served by uvicorn on a free 127.0.0.1 port, restartable."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._server: EmulatorServer | None = None
        self.port = 0

    def start(self) -> Gateway:
        # uvicorn with the protocol `atmosphere serve` runs (connection limits, corked writes).
        limits = uvicorn_limits(max_connections=self.settings.max_connections, header_timeout=self.settings.header_timeout)
        self._server = EmulatorServer(create_app(self.settings), self.port, lifespan="on", http=limits["http"])
        self._server.start()
        self.port = self._server.port
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def restart(self) -> Gateway:
        """A new process-equivalent: a fresh app (fresh state) on the same port."""
        self.stop()
        return self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, **kwargs: Any) -> httpx.Client:
        # Plain HTTP to 127.0.0.1: one TLS context for all (httpx loads the CA bundle for each new one).
        kwargs.setdefault("verify", _tls())
        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 10.0), **kwargs)

    def openai(self, **kwargs: Any) -> Any:
        from openai import OpenAI

        return OpenAI(base_url=f"{self.url}/v1", api_key="not-needed", max_retries=0, timeout=10.0, **kwargs)


def gateway_settings(state_dir: Path, *, llamafarm: str, ollama: str, runtime: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "llamafarm_url": llamafarm,
        "ollama_url": ollama,
        "llamafarm_runtime_url": runtime,
        "state_dir": state_dir,
        "probe_timeout": 3.0,  # a probe of an in-process stand-in under a loaded machine still answers
        "request_timeout": 5.0,
        "health_interval": 0.5,
        "log_level": "warning",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def make_gateway(tmp_path: Path) -> Iterator[Any]:
    """Start gateways pointed at given URLs (default: the emulators, when passed)."""
    started: list[Gateway] = []

    def make(suite: EmulatorSuite | None = None, **overrides: Any) -> Gateway:
        urls = suite.urls if suite is not None else {}
        settings = gateway_settings(
            tmp_path / "state",
            llamafarm=overrides.pop("llamafarm_url", urls.get("llamafarm", "http://127.0.0.1:9")),
            ollama=overrides.pop("ollama_url", urls.get("ollama", "http://127.0.0.1:9")),
            runtime=overrides.pop("llamafarm_runtime_url", urls.get("runtime", "http://127.0.0.1:9")),
            **overrides,
        )
        gateway = Gateway(settings).start()
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        gateway.stop()


@pytest.fixture
def gateway(backends: EmulatorSuite, make_gateway: Any) -> Gateway:
    """The gateway in front of healthy emulated backends."""
    return make_gateway(backends)


@pytest.fixture(scope="module")
def shared_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """One gateway and one set of stand-ins for a whole module, for tests whose requests change
    nothing (refusals of bad input): four servers per module instead of per test. A module opts
    in by defining ``gateway`` as this; a test there that reads what the gateway kept starts its own."""
    with start_all_in_process() as suite:
        urls = suite.urls
        state = tmp_path_factory.mktemp("state")
        served = Gateway(gateway_settings(state, llamafarm=urls["llamafarm"], ollama=urls["ollama"], runtime=urls["runtime"]))
        served.start()
        try:
            yield served
        finally:
            served.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Debian chromium for the browser tests of a module. Not for the session: while
    Playwright's sync API is alive, the asyncio tests that follow cannot start their event loop."""
    from browser_support import launch_chromium

    yield from launch_chromium()


@pytest.fixture
def outside() -> Iterator[RefusingProxy]:
    """The loopback port a coding agent's proxy variables name (tests/agent_support.py): it refuses
    every connection and records its first line, so a test sees anything that tried to leave."""
    from agent_support import RefusingProxy

    proxy = RefusingProxy()
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session (tests/postgres_support.py); fails, naming
    `make postgres`, when Debian's postgresql is not installed. Mark its tests `postgres`."""
    from postgres_support import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer.start()
    except PostgresUnavailable as exc:
        unavailable = str(exc)
    else:
        unavailable = ""
    if unavailable:  # failed outside the except block, so the report is the one line alone
        pytest.fail(unavailable, pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """postgresql://atmosphere@127.0.0.1:PORT/atmosphere — shared by the whole session."""
    return postgres_server.url


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty database of its own for one test, dropped after it."""
    with postgres_server.fresh_database() as url:
        yield url


@pytest.fixture
def serve(tmp_path: Path, unused_tcp_port_factory: Any) -> Iterator[Any]:
    """Start ``atmosphere serve`` processes (harness/processes.py) on free ports, stopped after the test."""
    from harness.processes import ServeProcess

    started: list[ServeProcess] = []

    def start(*args: str, **kwargs: Any) -> ServeProcess:
        env = {"ATMOSPHERE_STATE_DIR": str(tmp_path / "state"), **kwargs.pop("env", {})}
        process = ServeProcess(*args, port=unused_tcp_port_factory(), env=env, **kwargs)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
