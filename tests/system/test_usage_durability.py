"""kill -9 under load: the usage history loses at most what was gathered since its last write, and
the SQLite file is never corrupt. A real ``atmosphere serve`` process, eight clients chatting
without pause, SIGKILL mid-stream of requests, a fresh process on the same state directory."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from atmosphere.store.usage import INTERVAL
from harness.polling import wait_until
from harness.processes import ServeProcess

CHAT = {"model": "llama3.2:latest", "messages": [{"role": "user", "content": "hi"}]}
CLIENTS = 8


def _serve(backends: Any, state: Path, port: int) -> ServeProcess:
    urls = backends.urls
    env = {
        "ATMOSPHERE_STATE_DIR": str(state),
        "ATMOSPHERE_OLLAMA_URL": urls["ollama"],
        "ATMOSPHERE_LLAMAFARM_URL": urls["llamafarm"],
        "ATMOSPHERE_LLAMAFARM_RUNTIME_URL": urls["runtime"],
    }
    return ServeProcess(port=port, env=env).started()


def test_a_kill_9_under_load_loses_at_most_the_last_unwritten_batch_and_never_corrupts_the_file(
    backends, tmp_path, unused_tcp_port_factory
):
    state, port = tmp_path / "state", unused_tcp_port_factory()
    gateway = _serve(backends, state, port)
    served: list[float] = []  # when each 200 came back
    lock, stop = threading.Lock(), threading.Event()

    def client() -> None:
        with httpx.Client(base_url=gateway.url, timeout=5.0) as http:
            while not stop.is_set():
                try:
                    answer = http.post("/v1/chat/completions", json=CHAT)
                except httpx.HTTPError:
                    return  # the gateway is gone
                if answer.status_code == 200:
                    with lock:
                        served.append(time.monotonic())

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        # Several writes' worth of load: seconds of it, so most of it was written before the kill.
        assert wait_until(lambda: len(served) >= 200 and time.monotonic() - served[0] > 20 * INTERVAL, 30), len(served)
        gateway.proc.kill()  # SIGKILL: no shutdown, no last flush
        killed = time.monotonic()
        gateway.proc.wait(timeout=5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        gateway.stop()
    with lock:
        answered = len(served)
        recent = sum(1 for moment in served if moment > killed - 2 * INTERVAL - 0.5)

    connection = sqlite3.connect(state / "atmosphere.db")  # opening recovers the WAL, as a restart would
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = connection.execute("SELECT count(*) FROM usage").fetchone()[0]
        summed = connection.execute("SELECT sum(requests) FROM usage_hourly").fetchone()[0] or 0
    finally:
        connection.close()
    lost = answered - rows
    # Lost: at most what the clients got in the last write interval or two before the kill
    # (plus the requests in flight, which may have a row without an answer read).
    assert -CLIENTS <= lost <= recent < answered / 2, (answered, rows, recent)
    assert summed == rows, "the hourly sums disagree with the rows they sum"

    restarted = _serve(backends, state, port)
    try:
        with httpx.Client(base_url=restarted.url, timeout=5.0) as http:
            report = http.get("/v1/usage").json()
            assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
    finally:
        restarted.stop()
    assert sum(point["requests"] for point in report["series"]) == rows
    assert report["recording"]["ok"] is True
