"""All three HTTP emulators running in-process, for `atmosphere demo` and tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from atmosphere.standins.llamafarm import create_llamafarm_app
from atmosphere.standins.ollama import create_ollama_app
from atmosphere.standins.runtime import create_runtime_app
from atmosphere.standins.scenes import wire_llamafarm
from atmosphere.standins.server import EmulatorServer
from atmosphere.standins.state import EmulatorState


@dataclass
class EmulatorSuite:
    """Running Ollama, LlamaFarm-server and Universal-Runtime emulators."""

    ollama: EmulatorServer
    llamafarm: EmulatorServer
    runtime: EmulatorServer

    @property
    def servers(self) -> dict[str, EmulatorServer]:
        return {"ollama": self.ollama, "llamafarm": self.llamafarm, "runtime": self.runtime}

    @property
    def urls(self) -> dict[str, str]:
        return {name: server.url for name, server in self.servers.items()}

    def stop(self) -> None:
        # All three shut down side by side: each takes uvicorn's fixed 0.1 s grace.
        for server in self.servers.values():
            server.signal_stop()
        for server in self.servers.values():
            server.wait_stopped()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_all_in_process(
    ollama_port: int = 0,
    llamafarm_port: int = 0,
    runtime_port: int = 0,
    namespace: str = "default",
    *,
    wired: bool = True,
) -> EmulatorSuite:
    """Start the three emulators (port 0 = any free port), each with its own state.

    `wired`: the LlamaFarm emulator uses the other two as its Ollama and Universal Runtime,
    so stopping one shows in LlamaFarm's `/health` components and fails chat with the
    models it serves, as on a real install.
    """
    ollama = EmulatorServer(create_ollama_app(EmulatorState()), ollama_port)
    llamafarm = EmulatorServer(create_llamafarm_app(EmulatorState(), namespace), llamafarm_port)
    runtime = EmulatorServer(create_runtime_app(EmulatorState()), runtime_port)
    started: list[EmulatorServer] = []
    try:
        for server in (ollama, llamafarm, runtime):
            started.append(server.start())
    except BaseException:
        for server in started:
            server.stop()
        raise
    if wired:
        wire_llamafarm(llamafarm.state, ollama_url=ollama.url, runtime_url=runtime.url)
    return EmulatorSuite(ollama, llamafarm, runtime)
