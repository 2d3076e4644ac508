"""The processes a run needs: stand-in backends, the gateway, the trivial server.

Every one is a child process on 127.0.0.1, pinned to no core; the run stops them all
at the end (SIGTERM, then SIGKILL), and only them.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self, TypeVar

from harness.processes import EmulatorProcess, kill_process, terminate_process

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


def free_port() -> int:
    """A port nothing listens on right now (so connecting to it is refused)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def refused_url() -> str:
    return f"http://{HOST}:{free_port()}"


def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc/PID/status (VmRSS), in MB (2^20 bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _env(root: Path = ROOT) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    return env


async def wait_http(port: int, path: str = "/health", timeout: float = 20.0) -> None:
    """Poll until GET `path` answers 200."""
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode()
    deadline = time.monotonic() + timeout
    while True:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(request)
            line = await asyncio.wait_for(reader.readline(), 2.0)
            writer.close()
            if line.split(b" ")[1:2] == [b"200"]:
                return
        except (OSError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing answered 200 on port {port}{path} within {timeout:g}s")
        await asyncio.sleep(0.05)


class Child:
    """A child process that we started, stopped by its own pid only."""

    proc: subprocess.Popen[bytes] | subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL: the process vanishes without closing anything gracefully."""
        kill_process(self.proc)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`."""
        terminate_process(self.proc, timeout)


class StandIn(Child):
    """An emulator (`python -m harness KIND`) as a child process."""

    def __init__(self, kind: str, *extra: str) -> None:
        self.emulator = EmulatorProcess(kind, 0, list(extra))
        self.kind = kind

    async def start(self) -> Self:
        await asyncio.to_thread(self.emulator.start)
        self.proc = self.emulator.proc
        return self

    @property
    def port(self) -> int:
        return self.emulator.port

    @property
    def url(self) -> str:
        return self.emulator.url


class Trivial(Child):
    """`python -m bench.trivial`: the load generator's ceiling target."""

    port = 0

    async def start(self) -> Self:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.trivial", "--port", "0"], stdout=subprocess.PIPE, text=True, env=_env(), cwd=ROOT
        )
        self.proc = proc
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 15)
        match = re.search(r":(\d+)$", line.strip())
        if match is None:
            self.kill()
            raise RuntimeError(f"trivial server did not start: {line!r}")
        self.port = int(match.group(1))
        return self


class Gateway(Child):
    """`python -m atmosphere serve` on a free port, its stderr kept in a log file; ``root`` is the
    source tree it runs (a baseline commit's worktree, or this one)."""

    def __init__(
        self,
        *,
        root: Path = ROOT,
        llamafarm_url: str,
        ollama_url: str,
        runtime_url: str | None = None,
        probe_timeout: float = 1.0,
        health_interval: float = 5.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.root = root
        self.env = env or {}  # extra ATMOSPHERE_* settings
        self.workdir = Path(tempfile.mkdtemp(prefix="atmosphere-bench-"))
        self.log_path = self.workdir / "gateway.log"
        self.args = [
            sys.executable, "-m", "atmosphere", "serve",
            "--port", str(self.port),
            "--llamafarm-url", llamafarm_url,
            "--ollama-url", ollama_url,
            "--llamafarm-runtime-url", runtime_url or refused_url(),
            "--probe-timeout", f"{probe_timeout:g}",
            "--health-interval", f"{health_interval:g}",
            "--state-dir", str(self.workdir / "state"),
            "--log-level", "warning",
        ]  # fmt: skip
        self.started_at = 0.0

    async def start(self) -> Self:
        with open(self.log_path, "wb") as log:
            env = {**_env(self.root), **self.env}
            proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.root)
        self.proc = proc
        try:
            await wait_http(self.port)
        except RuntimeError:
            self.kill()
            raise RuntimeError(f"gateway did not start; log:\n{self.log_path.read_text()[-2000:]}") from None
        self.started_at = time.monotonic()
        return self

    def log_lines(self) -> int:
        try:
            return len(self.log_path.read_text().splitlines())
        except OSError:
            return 0


_C = TypeVar("_C", bound=Child)


class Children:
    """Everything a run started, so one `finally` stops it all."""

    def __init__(self) -> None:
        self.items: list[Child] = []

    async def add(self, child: _C) -> _C:
        """Start `child` and remember it (remembered first, so a failed start is still stopped)."""
        self.items.append(child)
        await child.start()  # type: ignore[attr-defined]
        return child

    def stop_all(self) -> None:
        for child in reversed(self.items):
            try:
                child.stop()
            except (OSError, subprocess.SubprocessError):
                pass
