"""Stand-ins as child processes, for tests and the bench: killable with SIGKILL like a real
backend that dies, started through ``python -m harness KIND`` and its ready line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

from atmosphere.standins.server import HOST
from harness.cli import READY_PATTERN

ROOT = Path(__file__).resolve().parents[1]


class EmulatorProcess:
    """`python -m harness KIND` as a child process (killable with SIGKILL)."""

    def __init__(self, kind: str, port: int = 0, extra_args: Sequence[str] = ()) -> None:
        self.kind = kind
        self.port = port
        self.extra_args = list(extra_args)
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 15.0) -> Self:
        """Spawn the child and wait for its ready line, which carries the real port."""
        root = str(ROOT)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        cmd = [sys.executable, "-m", "harness", self.kind, "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd + self.extra_args, stdout=subprocess.PIPE, text=True, env=env, cwd=root)
        line = _read_line(self.proc, timeout)
        match = READY_PATTERN.match(line)
        if match is None:
            self.kill()
            raise RuntimeError(f"emulator {self.kind} did not become ready: {line!r}")
        self.port = int(match.group(3))
        return self

    def kill(self) -> None:
        """SIGKILL: the backend vanishes without closing anything gracefully."""
        kill_process(self.proc)

    def terminate(self, timeout: float = 5.0) -> None:
        terminate_process(self.proc, timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.terminate()


def kill_process(proc: subprocess.Popen[Any] | None) -> None:
    """SIGKILL a child we started, if it still runs, and reap it."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)


def terminate_process(proc: subprocess.Popen[Any] | None, timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout``."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_process(proc)


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """First stdout line of `proc`, or "" if it exits or stays silent too long."""
    stdout = proc.stdout
    assert stdout is not None, "spawned with stdout=PIPE"
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0].strip() if result else ""
