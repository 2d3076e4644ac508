"""Protocol-faithful HTTP emulators of Ollama and LlamaFarm (server and runtime).

They stand in for the real backends in tests, benchmarks and `atmosphere demo`;
every answer identifies itself as coming from an emulator.
"""

from atmosphere.standins.llamafarm import create_llamafarm_app
from atmosphere.standins.ollama import create_ollama_app
from atmosphere.standins.runtime import create_runtime_app
from atmosphere.standins.server import EmulatorServer, HangServer
from atmosphere.standins.state import FAULTS, EmulatorState, RecordedRequest
from atmosphere.standins.suite import EmulatorSuite, start_all_in_process

__all__ = [
    "FAULTS",
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
