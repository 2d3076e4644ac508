"""A real PostgreSQL server for the tests: Debian's `postgresql` binaries (`make postgres` installs
them), a throwaway data directory, a free 127.0.0.1 port, trust authentication for the role
`atmosphere`. Started once per test session (the `postgres_url` fixture in tests/conftest.py) and
stopped after it, also when tests fail; each test that writes rows gets its own database
(`fresh_database`) so no test sees another's.

initdb and postgres refuse to run as root. As root (CI is), every server binary runs as the
`postgres` system user that the Debian package creates, and the temporary directory belongs to it.

A watchdog (`sh`, in its own session) holds a pipe from this process: if pytest dies without its
cleanup (SIGKILL, or the SIGTERM of an expired `timeout`, which skips `finally`), the pipe closes
and the watchdog stops the server and removes its directory, so no stray server outlives the run.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, TypeVar

import asyncpg

PG_ROOT = Path("/usr/lib/postgresql")
ROLE = "atmosphere"
DATABASE = "atmosphere"
SYSTEM_USER = "postgres"  # created by Debian's postgresql-common; owns the server when we are root
READY_TIMEOUT = 30.0  # a busy two-core machine; a healthy start takes well under a second
STOP_TIMEOUT = 30
PORT_ATTEMPTS = 3  # a free port can be taken between our probe and the server's bind
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    # Durability buys nothing for a throwaway cluster; these make commits and CREATE DATABASE cheap.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
INSTALL_HINT = "`make postgres` installs Debian's postgresql"

T = TypeVar("T")


class PostgresUnavailable(Exception):
    """The server cannot be found or started; the message is one line that says what to do."""


class _PopenOwner(TypedDict, total=False):
    user: int
    group: int
    extra_groups: list[int]


@dataclass(frozen=True)
class _Owner:
    """Who runs the server binaries: the Popen user/group, or None for ourselves."""

    user: int | None = None
    group: int | None = None

    def popen_args(self) -> _PopenOwner:
        if self.user is None or self.group is None:
            return {}
        return {"user": self.user, "group": self.group, "extra_groups": []}


def find_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb, pg_ctl and postgres."""
    candidates = [
        path.parent
        for path in PG_ROOT.glob("*/bin/initdb")
        if (path.parent / "pg_ctl").exists() and (path.parent / "postgres").exists()
    ]

    def version(bin_dir: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in bin_dir.parent.name.split(".") if part.isdigit())

    return max(candidates, key=version, default=None)


def _owner() -> _Owner:
    if os.geteuid() != 0:
        return _Owner()
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise PostgresUnavailable(
            f"running as root and there is no '{SYSTEM_USER}' user to run PostgreSQL as: {INSTALL_HINT}"
        ) from None
    return _Owner(entry.pw_uid, entry.pw_gid)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on a private loop in a worker thread, so callers inside an async test work too."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class PostgresServer:
    """One running server. `start()` returns it ready for connections; `stop()` removes every trace."""

    def __init__(self, bin_dir: Path, owner: _Owner, root: Path, watchdog: subprocess.Popen[bytes]):
        self.bin_dir = bin_dir
        self.root = root
        self.data_dir = root / "data"
        self.port = 0
        self.startup_seconds = 0.0
        self._owner = owner
        self._watchdog = watchdog
        self._process: subprocess.Popen[bytes] | None = None
        self._log = root / "server.log"

    @classmethod
    def start(cls) -> PostgresServer:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise PostgresUnavailable(f"PostgreSQL is not installed (no {PG_ROOT}/*/bin/initdb): {INSTALL_HINT}")
        owner = _owner()
        began = time.monotonic()
        root = Path(tempfile.mkdtemp(prefix="atmosphere-pg-"))
        if owner.user is not None:
            os.chown(root, owner.user, -1 if owner.group is None else owner.group)
        server = cls(bin_dir, owner, root, _start_watchdog(bin_dir, root, owner))
        try:
            server._initdb()
            server._launch()
            _run(server._execute("postgres", f'CREATE DATABASE "{DATABASE}"'))
        except BaseException:
            server.stop()
            raise
        server.startup_seconds = time.monotonic() - began
        return server

    def url_for(self, database: str) -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self.url_for(DATABASE)

    @contextmanager
    def fresh_database(self) -> Iterator[str]:
        """A new, empty database for one test; dropped after it, with any connections it left open."""
        name = f"test_{uuid.uuid4().hex[:16]}"
        _run(self._execute("postgres", f'CREATE DATABASE "{name}"'))
        try:
            yield self.url_for(name)
        finally:
            _run(self._execute("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def stop(self) -> None:
        """Fast shutdown (open sessions are ended), then the directory goes. Safe to call twice."""
        if self._process is not None:
            if self._process.poll() is None:
                stopped = subprocess.run(
                    [self.bin_dir / "pg_ctl", "stop", "-D", self.data_dir, "-m", "fast", "-w", "-t", str(STOP_TIMEOUT)],
                    capture_output=True,
                    cwd=self.root,
                    **self._owner.popen_args(),
                )
                if stopped.returncode != 0:
                    self._process.kill()
            self._process.wait(timeout=STOP_TIMEOUT)
            self._process = None
        shutil.rmtree(self.root, ignore_errors=True)
        if self._watchdog.stdin is not None and not self._watchdog.stdin.closed:
            self._watchdog.stdin.close()  # nothing left for it to clean: it exits at once
            self._watchdog.wait(timeout=STOP_TIMEOUT)

    def _initdb(self) -> None:
        done = subprocess.run(
            [
                self.bin_dir / "initdb",
                "-D", self.data_dir,
                "-U", ROLE,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",  # the C locale: present on every machine, no locale package needed
                "--no-sync",
                "--no-instructions",
            ],
            capture_output=True,
            text=True,
            cwd=self.root,
            **self._owner.popen_args(),
        )  # fmt: skip
        if done.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {_last_line(done.stderr or done.stdout)}")

    def _launch(self) -> None:
        """Start postgres on a free port and return once it accepts connections."""
        for _ in range(PORT_ATTEMPTS):
            self.port = _free_port()
            args: list[str | Path] = [self.bin_dir / "postgres", "-D", self.data_dir, "-p", str(self.port), "-k", self.root]
            for name, value in SERVER_SETTINGS.items():
                args += ["-c", f"{name}={value}"]
            with self._log.open("ab") as log:
                self._process = subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.root,
                    start_new_session=True,  # a Ctrl-C in the terminal is pytest's to handle, not the server's
                    **self._owner.popen_args(),
                )
            if _run(self._wait_ready(time.monotonic() + READY_TIMEOUT)):
                return
            if "could not bind" not in self._log.read_text(errors="replace"):
                break
        raise PostgresUnavailable(f"postgres did not start: {_last_line(self._log.read_text(errors='replace'))}")

    async def _wait_ready(self, deadline: float) -> bool:
        """Poll a real connection until one succeeds (True) or the server exits (False)."""
        assert self._process is not None
        while self._process.poll() is None:
            try:
                connection = await asyncpg.connect(host="127.0.0.1", port=self.port, user=ROLE, database="postgres", timeout=2)
            except (TimeoutError, OSError, asyncpg.CannotConnectNowError):
                if time.monotonic() > deadline:
                    self._process.kill()
                    raise PostgresUnavailable(
                        f"postgres did not accept connections within {READY_TIMEOUT:.0f} s: "
                        f"{_last_line(self._log.read_text(errors='replace'))}"
                    ) from None
                await asyncio.sleep(0.02)  # a poll interval, not a guess at how long start-up takes
            else:
                await connection.close()
                return True
        return False

    async def _execute(self, database: str, statement: str) -> None:
        connection = await asyncpg.connect(host="127.0.0.1", port=self.port, user=ROLE, database=database, timeout=10)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()


def _start_watchdog(bin_dir: Path, root: Path, owner: _Owner) -> subprocess.Popen[bytes]:
    """A shell that waits for its stdin to close (our exit, however it comes), then stops the
    server immediately and removes its directory. On a normal stop both are already gone."""
    script = 'cat >/dev/null; "$0" stop -D "$1/data" -m immediate -w -t 10 >/dev/null 2>&1; rm -rf "$1"'
    return subprocess.Popen(
        ["sh", "-c", script, str(bin_dir / "pg_ctl"), str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=root,
        start_new_session=True,
        **owner.popen_args(),
    )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"
