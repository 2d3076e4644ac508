"""Protocol-faithful HTTP emulators of Ollama and LlamaFarm (server and runtime).

They stand in for the real backends in tests, benchmarks and `atmosphere demo`;
every answer identifies itself as coming from an emulator.
"""

from atmosphere.emulators.llamafarm import create_llamafarm_app
from atmosphere.emulators.ollama import create_ollama_app
from atmosphere.emulators.runtime import create_runtime_app
from atmosphere.emulators.server import EmulatorProcess, EmulatorServer, HangServer
from atmosphere.emulators.state import FAULTS, EmulatorState, RecordedRequest
from atmosphere.emulators.suite import EmulatorSuite, start_all_in_process

__all__ = [
    "FAULTS",
    "EmulatorProcess",
    "EmulatorServer",
    "EmulatorState",
    "EmulatorSuite",
    "HangServer",
    "RecordedRequest",
    "create_llamafarm_app",
    "create_ollama_app",
    "create_runtime_app",
    "start_all_in_process",
]
