"""Serving beyond loopback: only with a key, only under this service's own names, and a
flood of idle sockets cannot lock out real clients. Most of these run the real
``atmosphere serve`` process, since the point is what that process does."""

from __future__ import annotations

import resource
import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from raw_support import read_all, read_response

KEY = "exposure-test-key-0123456789"


def _open_files(soft: int, hard: int) -> Callable[[], None]:
    """For the child: at most this many open files (RLIMIT_NOFILE)."""
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_serving_beyond_loopback_without_a_key_is_refused_in_one_line(serve):
    cases = [("serve", ["--host", "0.0.0.0"], {}), ("serve", [], {"ATMOSPHERE_HOST": "0.0.0.0"}), ("demo", ["--host", "::"], {})]
    for command, args, env in cases:
        process = serve(*args, env=env, command=command)
        assert process.proc.wait(20) == 2
        process.wait_for("<exited>")
        lines = [line for line in process.lines if line != "<exited>"]
        assert len(lines) == 1, lines
        assert "ATMOSPHERE_API_KEY" in lines[0] and "--insecure-no-auth" in lines[0] and "Traceback" not in lines[0]
        with pytest.raises(OSError):  # it never bound the port
            socket.create_connection(("127.0.0.1", process.port), timeout=1).close()


def test_insisting_without_a_key_starts_with_a_warning(serve):
    process = serve("--host", "0.0.0.0", "--insecure-no-auth").started()
    assert "WITHOUT an API key" in process.wait_for("WARNING")
    with httpx.Client(base_url=process.url) as client:
        assert client.get("/v1/integrations").status_code == 200


def test_beyond_loopback_with_a_key_file_the_key_is_required_and_never_logged(serve, tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    process = serve("--host", "0.0.0.0", "--api-key-file", str(key_file), "--access-log", "--log-level", "debug").started()
    with httpx.Client(base_url=process.url, timeout=10) as client:
        assert client.get("/v1/models").status_code == 401
        assert client.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
        assert client.get("/v1/models", headers={"Authorization": f"Bearer {KEY}-wrong"}).status_code == 401
        assert client.get("/health").json()["auth_required"] is True
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{process.port}/ws?key={KEY}&other=1") as ws:
        assert '"snapshot"' in ws.recv(timeout=5)
    process.wait_for(r'"WebSocket /ws\?other=1"')  # the access log shows the socket, without its key
    process.wait_for(r'"GET /v1/models HTTP/1.1" 401')
    process.stop()
    assert KEY not in process.log


def test_beyond_loopback_the_host_check_refuses_rebinding_but_knows_its_own_names(backends, make_gateway):
    gateway = make_gateway(backends, host="0.0.0.0", api_key=KEY, allowed_hosts="ai.example.org, .corp.example")
    headers = {"Authorization": f"Bearer {KEY}"}
    with gateway.client(headers=headers) as client:
        for host in ("rebind.evil.example", "evil.example:8000", "corp.example.evil.example", "ai.example.org.evil.example"):
            refused = client.get("/v1/models", headers={"Host": host})
            assert refused.status_code == 403, host
            assert "ATMOSPHERE_ALLOWED_HOSTS" in refused.json()["error"]["message"]
        machine = socket.gethostname()
        for host in ("localhost:8000", "127.0.0.1", "192.168.1.20:8000", "[fe80::1]:8000", machine, f"{machine}:8000",
                     "ai.example.org", "AI.example.org:443", "gpu.corp.example"):  # fmt: skip
            assert client.get("/v1/models", headers={"Host": host}).status_code == 200, host


def test_bound_to_loopback_only_local_names_are_answered(gateway):
    with gateway.client() as client:
        assert client.get("/v1/models", headers={"Host": "192.168.1.20:8000"}).status_code == 403
        assert client.get("/v1/models", headers={"Host": "localhost:8000"}).status_code == 200


def _request(port: int, head: bytes = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        return read_all(sock)


def _open_files_limit(pid: int) -> int:
    line = next(line for line in Path(f"/proc/{pid}/limits").read_text().splitlines() if line.startswith("Max open files"))
    return int(line.split()[3])


def _with_fds(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"needs {needed} open files, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def test_a_thousand_idle_sockets_do_not_lock_out_real_clients(serve):
    _with_fds(1400)
    process = serve("--header-timeout", "120", preexec=_open_files(1024, 1024)).started()  # the limit the audit measured under
    idle: list[socket.socket] = []
    try:
        for _ in range(1100):
            idle.append(socket.create_connection(("127.0.0.1", process.port), timeout=10))
        answers = [_request(process.port) for _ in range(20)]
        assert all(answer.startswith(b"HTTP/1.1 200") for answer in answers), answers[:2]
        process.wait_for(r"connection limit of \d+ reached")
    finally:
        for sock in idle:
            sock.close()
    assert process.proc.poll() is None


def test_a_connection_that_never_finishes_its_request_head_is_closed(serve):
    process = serve("--header-timeout", "0.5", preexec=_open_files(1024, 2048)).started()
    assert _open_files_limit(process.proc.pid) == 2048  # the soft limit was raised to the hard one
    with socket.create_connection(("127.0.0.1", process.port), timeout=10) as silent:
        assert read_all(silent).startswith(b"HTTP/1.1 408")
    with socket.create_connection(("127.0.0.1", process.port), timeout=10) as slow:
        slow.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        assert read_all(slow).startswith(b"HTTP/1.1 408")
    with socket.create_connection(("127.0.0.1", process.port), timeout=10) as kept_alive:
        kept_alive.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_response(kept_alive).startswith(b"HTTP/1.1 200")
        kept_alive.sendall(b"GET /health HTTP/1.1\r\n")  # the next request's head never ends
        assert read_all(kept_alive).startswith(b"HTTP/1.1 408")
    process.wait_for("sent no complete request head within 0.5s")
    assert _request(process.port).startswith(b"HTTP/1.1 200")
