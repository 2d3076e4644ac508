"""Stand-ins as child processes, for tests and the bench: killable with SIGKILL like a real
backend that dies, started through ``python -m harness KIND`` and its ready line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Self

from atmosphere.standins.server import HOST
from harness.cli import READY_PATTERN

ROOT = Path(__file__).resolve().parents[1]
NOWHERE = "http://127.0.0.1:9"  # a closed port: a backend that is not there


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


class ServeProcess:
    """``atmosphere serve`` (or ``command``) as a child process of this tree, its log lines
    collected as they come; settings come from ``env`` (no ``ATMOSPHERE_*`` of the caller's
    leaks in) and ``args``, and both backends point nowhere unless given."""

    def __init__(
        self,
        *args: str,
        port: int,
        env: dict[str, str] | None = None,
        preexec: Callable[[], None] | None = None,
        command: str = "serve",
    ) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("ATMOSPHERE_")}
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), full_env.get("PYTHONPATH")]))
        full_env.update({"ATMOSPHERE_OLLAMA_URL": NOWHERE, "ATMOSPHERE_LLAMAFARM_URL": NOWHERE, **(env or {})})
        self.port = port
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "atmosphere", command, "--port", str(port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=full_env,
            cwd=ROOT,
            preexec_fn=preexec,  # e.g. resource limits, set in the child before it starts
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.lines.append("<exited>")
            self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = 20) -> str:
        """The first log line matching ``pattern``; fails if the process exits or stays silent."""
        regex = re.compile(pattern)
        with self._changed:
            found = self._changed.wait_for(
                lambda: any(regex.search(line) for line in self.lines) or "<exited>" in self.lines, timeout
            )
            match = next((line for line in self.lines if regex.search(line)), None)
        assert found and match is not None, f"no log line matching {pattern!r}:\n" + "\n".join(self.lines)
        return match

    def started(self) -> Self:
        self.wait_for(r"Uvicorn running on")
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def stop(self) -> None:
        """SIGTERM (the drain and the last usage write), SIGKILL if it is not gone in 10 s."""
        terminate_process(self.proc, 10)

    def kill(self) -> None:
        """SIGKILL: no lifespan shutdown, no last write."""
        kill_process(self.proc)


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
