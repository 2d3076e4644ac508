"""The usage history when the disk fails: the real `atmosphere serve` process on the real SQLite
file, in front of an Ollama stand-in process. A disk that fills up while serving, a file-size limit
and a read-only state directory cost the history ("usage not recorded": /health, /metrics, one log
line), never a request; recording comes back with the space. (kill -9 under load:
test_usage_durability.py.)
"""

from __future__ import annotations

import contextlib
import errno
import re
import resource
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.polling import wait_until
from harness.processes import NOWHERE, EmulatorProcess, ServeProcess

MODEL = "qwen2.5:0.5b"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hello"}]}
NOT_RECORDED = "usage not recorded: "


class ServedGateway(ServeProcess):
    """`atmosphere serve` on one state directory and the Ollama stand-in, and what these tests
    read of it. Its log comes through a pipe: a file-size limit on the child cannot cost it."""

    def __init__(self, state_dir: Path, ollama_url: str, port: int, preexec: Callable[[], None] | None = None):
        env = {"ATMOSPHERE_STATE_DIR": str(state_dir), "ATMOSPHERE_OLLAMA_URL": ollama_url}
        super().__init__(port=port, env={**env, "ATMOSPHERE_LLAMAFARM_RUNTIME_URL": NOWHERE}, preexec=preexec)

    def get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(self.url + path, params=params, timeout=10)

    def chat(self) -> httpx.Response:
        return httpx.post(f"{self.url}/v1/chat/completions", json=CHAT, timeout=10)

    def log_lines(self, start: str) -> list[str]:
        return [line for line in self.log.splitlines() if start in line]

    def metric(self, name: str) -> float:
        match = re.search(rf"^{name} (\S+)$", self.get("/metrics").text, re.MULTILINE)
        assert match is not None, f"{name} is not on /metrics"
        return float(match.group(1))


@pytest.fixture
def ollama() -> Iterator[EmulatorProcess]:
    standin = EmulatorProcess("ollama").start()
    try:
        yield standin
    finally:
        standin.terminate()


@pytest.fixture
def serve(tmp_path: Path, ollama: EmulatorProcess, unused_tcp_port_factory: Any) -> Iterator[Callable[..., ServedGateway]]:
    started: list[ServedGateway] = []

    def make(state_dir: Path | None = None, preexec: Callable[[], None] | None = None) -> ServedGateway:
        gateway = ServedGateway(state_dir or tmp_path / "state", ollama.url, unused_tcp_port_factory(), preexec)
        started.append(gateway)
        return gateway.started()

    yield make
    for gateway in started:
        gateway.stop()


def _database(state_dir: Path) -> tuple[str, dict[str, int]]:
    """``PRAGMA integrity_check`` and the rows' request ids, read the way a restart reads the file."""
    connection = sqlite3.connect(state_dir / "atmosphere.db")
    try:
        check = connection.execute("PRAGMA integrity_check").fetchone()[0]
        ids = dict(connection.execute("SELECT request_id, id FROM usage"))
        return check, ids
    finally:
        connection.close()


def _requests_in_report(gateway: ServedGateway) -> int:
    answer = gateway.get("/v1/usage")
    assert answer.status_code == 200, answer.text
    return sum(point["requests"] for point in answer.json()["series"])


# --- a disk that fills up, a file-size limit, a read-only state directory ---------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs of its own (needs root and mount; skipped where neither is there)."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mountpoint)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)


def _fill(directory: Path) -> Path:
    """Write a file until the file system has no space left."""
    filler = directory / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with contextlib.suppress(OSError), open(filler, "ab", buffering=0) as out:  # the last partial block
        while True:
            out.write(b"\0" * 512)
    return filler


def _every_chat_served(gateway: ServedGateway, count: int) -> None:
    statuses = [gateway.chat().status_code for _ in range(count)]
    assert statuses == [200] * count


def _accounted(gateway: ServedGateway) -> float:
    """Requests the writer has settled: written or counted as dropped, none still queued."""
    if gateway.metric("atmosphere_usage_queue_depth"):
        return -1
    return gateway.metric("atmosphere_usage_rows_written_total") + gateway.metric("atmosphere_usage_rows_dropped_total")


def test_a_disk_that_fills_up_costs_the_history_not_the_requests_and_recording_comes_back(serve, small_disk):
    gateway = serve(small_disk / "state")
    _every_chat_served(gateway, 10)
    assert wait_until(lambda: gateway.metric("atmosphere_usage_rows_written_total") == 10, 10)

    filler = _fill(small_disk)
    _every_chat_served(gateway, 30)  # still answered, while nothing can be written
    assert wait_until(lambda: _accounted(gateway) == 40, 10)
    usage = gateway.get("/health").json()["usage"]
    assert usage["ok"] is False and usage["reason"] == "the disk is full" and usage["dropped"] >= 1
    assert gateway.metric("atmosphere_usage_recording") == 0
    assert gateway.metric("atmosphere_usage_rows_dropped_total") == usage["dropped"]
    report = gateway.get("/v1/usage")  # what was written before can still be read
    assert report.status_code == 200 and report.json()["recording"]["ok"] is False
    assert sum(p["requests"] for p in report.json()["series"]) == 10
    _every_chat_served(gateway, 30)
    assert wait_until(lambda: _accounted(gateway) == 70, 10)
    [line] = gateway.log_lines(NOT_RECORDED)  # one line, not one per failed batch
    assert "the disk is full" in line and "requests are still served" in line

    filler.unlink()
    _every_chat_served(gateway, 5)
    assert wait_until(lambda: gateway.get("/health").json()["usage"]["ok"], 10)
    assert wait_until(lambda: _accounted(gateway) == 75, 10), "every request is either written or counted as dropped"
    assert gateway.metric("atmosphere_usage_recording") == 1
    assert len(gateway.log_lines("usage recorded again")) == 1
    written = gateway.metric("atmosphere_usage_rows_written_total")
    assert written >= 15  # the first 10 and the 5 after the space came back
    gateway.stop()
    check, rows = _database(small_disk / "state")
    assert check == "ok" and len(rows) == written


def _file_size_limit(limit: int) -> Callable[[], None]:
    """For the child: files may not grow past ``limit`` bytes, and a write past it fails (EFBIG)
    instead of killing the process with SIGXFSZ."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_gateway_that_cannot_write_any_file_serves_every_request_and_says_usage_is_not_recorded(serve):
    gateway = serve(preexec=_file_size_limit(0))  # like a disk that was full before it started
    _every_chat_served(gateway, 20)

    answer = gateway.get("/v1/usage")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "usage_not_recorded"
    usage = gateway.get("/health").json()["usage"]
    assert usage["ok"] is False and usage["reason"] and usage["dropped"] == 20
    assert gateway.metric("atmosphere_usage_rows_dropped_total") == 20
    assert gateway.metric("atmosphere_usage_recording") == 0
    [line] = gateway.log_lines(NOT_RECORDED)
    assert "requests are still served" in line and "Traceback" not in gateway.log


def test_a_read_only_state_directory_keeps_serving_and_says_usage_is_not_recorded(serve, small_disk):
    state = small_disk / "state"
    gateway = serve(state)
    _every_chat_served(gateway, 5)
    gateway.stop()  # the history holds 5 rows
    remount = subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], capture_output=True)
    assert remount.returncode == 0, remount.stderr

    gateway = serve(state)
    _every_chat_served(gateway, 20)
    answer = gateway.get("/v1/usage")
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "usage_not_recorded"
    usage = gateway.get("/health").json()["usage"]
    assert usage["ok"] is False and usage["dropped"] == 20
    assert usage["reason"] in ("the database file cannot be opened", "the database is read-only"), usage
    assert gateway.metric("atmosphere_usage_recording") == 0
    assert gateway.metric("atmosphere_usage_rows_dropped_total") == 20
    [line] = gateway.log_lines(NOT_RECORDED)
    assert "requests are still served" in line and "Traceback" not in gateway.log
    gateway.stop()

    remount = subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], capture_output=True)
    assert remount.returncode == 0, remount.stderr
    gateway = serve(state)  # writable again: the earlier history is intact and recording resumes
    assert _requests_in_report(gateway) == 5
    _every_chat_served(gateway, 1)
    gateway.stop()
    check, rows = _database(state)
    assert check == "ok" and len(rows) == 6
