"""CLI: `python -m harness {ollama,llamafarm,runtime,hang,hostile} [--port N] ...`.

Prints exactly one ready line (with the real port, so `--port 0` works) and
serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

from atmosphere.standins.catalog import Project, ProjectModel
from atmosphere.standins.llamafarm import create_llamafarm_app
from atmosphere.standins.ollama import create_ollama_app
from atmosphere.standins.runtime import create_runtime_app
from atmosphere.standins.scenes import SCENES
from atmosphere.standins.server import EmulatorServer, HangServer
from atmosphere.standins.state import FAULTS, EmulatorState, normalize_model
from harness.hostile import MODES, HostileBackend

READY_PATTERN = re.compile(r"^EMULATOR (\S+) ready on (http://[\d.]+:(\d+))")

DISCLAIMERS = {
    "ollama": "stand-in, not a real Ollama",
    "llamafarm": "stand-in, not a real LlamaFarm server",
    "runtime": "stand-in, not a real LlamaFarm Universal Runtime",
    "hang": "stand-in, accepts connections and never answers",
    "hostile": "stand-in with a green health check and hostile answers",
}


def ready_line(kind: str, url: str) -> str:
    """The one line a parent process waits for; `EmulatorProcess` parses it."""
    return f"EMULATOR {kind} ready on {url} ({DISCLAIMERS[kind]})"


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m harness", description="Run a backend emulator.")
    parser.add_argument("kind", choices=sorted(DISCLAIMERS))
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--fault", choices=sorted(FAULTS), default="none")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds, for --fault slow")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between chunks")
    parser.add_argument("--cut-after", type=int, default=2, help="chunks before a cut")
    parser.add_argument("--dialect", choices=["ollama", "llamafarm"], default="ollama", help="hostile: who it pretends to be")
    parser.add_argument("--mode", choices=sorted(MODES), default="none", help="hostile: how its work answers misbehave")
    parser.add_argument("--namespace", default="default", help="LlamaFarm project namespace")
    parser.add_argument(
        "--shared-alias",
        action="append",
        default=[],
        metavar="NAME",
        help="LlamaFarm: also serve NAME (e.g. llama3.2:latest) from an extra project 'shared', so a model "
        "both backends have can be tested (repeatable)",
    )
    parser.add_argument(
        "--loaded",
        action="append",
        default=[],
        metavar="MODEL",
        help="Ollama: report MODEL as loaded in /api/ps from the start (repeatable; for a fleet of hosts)",
    )
    parser.add_argument(
        "--scene",
        action="append",
        default=[],
        choices=sorted(SCENES),
        help="a ready-made real-world setup (atmosphere/standins/scenes.py); repeatable",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KNOB=JSON",
        help="set one emulator knob, e.g. llamafarm_version='\"main\"' or health_delay=1.2 (repeatable)",
    )
    return parser.parse_args(argv)


def _settings(pairs: Sequence[str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set wants KNOB=JSON, got {pair!r}")
        try:
            values[name] = json.loads(raw)
        except json.JSONDecodeError:
            values[name] = raw  # a bare string: --set llamafarm_version=main
    return values


def _build(args: argparse.Namespace) -> EmulatorServer | HangServer | HostileBackend:
    if args.kind == "hang":
        return HangServer(args.port)
    if args.kind == "hostile":
        return HostileBackend(args.dialect, args.mode, port=args.port, shared_alias=args.shared_alias)
    state = EmulatorState()
    state.set_fault(args.fault, delay=args.delay, chunk_delay=args.chunk_delay, cut_after=args.cut_after)
    for scene in args.scene:
        SCENES[scene](state)
    state.apply_settings(_settings(args.set))
    for model in args.loaded:
        state.loaded[normalize_model(model)] = time.time()
    if args.shared_alias:
        models = [ProjectModel(name, "ollama", name, base_url="http://localhost:11434/v1") for name in args.shared_alias]
        state.projects.append(Project(name="shared", default_model=args.shared_alias[0], models=models))
    factories: dict[str, Callable[[], object]] = {
        "ollama": lambda: create_ollama_app(state),
        "llamafarm": lambda: create_llamafarm_app(state, args.namespace),
        "runtime": lambda: create_runtime_app(state),
    }
    return EmulatorServer(factories[args.kind](), args.port)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    server = _build(args)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    print(ready_line(args.kind, server.url), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
