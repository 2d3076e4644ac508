"""What the coding-agent tests share: a loopback port that refuses (and records) every
connection an agent tries beyond 127.0.0.1, the environment that confines an agent to a
scratch HOME with that port as its proxy, a run of the real binary with a deadline, and the
gateway's request log.

Used by tests/agents/test_agent_claude_code.py and tests/agents/test_agent_codex.py; the `outside`
fixture that hands each test a RefusingProxy lives in tests/conftest.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any


class RefusingProxy:
    """A loopback port that accepts a connection, notes its first line and closes it."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1.0)
                try:
                    self.seen.append(conn.recv(512).split(b"\r\n", 1)[0].decode("latin-1"))
                except OSError:
                    self.seen.append("<no request line>")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._server.close()


def confined_env(home: Path, proxy: RefusingProxy, **env: str) -> dict[str, str]:
    """A minimal environment: only PATH from ours, a scratch HOME, and every proxy variable
    naming the refusing port (loopback excepted, where the gateway listens); `env` on top."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "HTTPS_PROXY": proxy.url,
        "HTTP_PROXY": proxy.url,
        "ALL_PROXY": proxy.url,
        "NO_PROXY": "127.0.0.1,localhost",
        **env,
    }


def run_agent(argv: list[str], environment: dict[str, str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run an agent binary to its end with no stdin; a run that loops fails at `timeout`, not the suite."""
    return subprocess.run(
        argv, env=environment, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def logged(gateway: Any) -> list[dict[str, Any]]:
    """The gateway's request log (GET /v1/requests), oldest first as it answers."""
    with gateway.client() as http:
        return http.get("/v1/requests").json()["requests"]
