"""Client request heads are capped like backend answers are: 32 KiB in all, 16 KiB in one line;
past either the client gets a 431 with a short JSON body (not a dropped connection), and the
gateway keeps serving. Run against the real ``atmosphere serve`` process, whose HTTP protocol
applies the caps (the in-process test gateway uses uvicorn's own)."""

from __future__ import annotations

import json
import socket

import httpx
from raw_support import read_all, read_response

from atmosphere.connections import MAX_HEAD_BYTES, MAX_LINE_BYTES

HEAD = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def _send(port: int, *chunks: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused mid-send: what was answered is still to be read
        return read_all(sock)


def _refused(answer: bytes) -> dict[str, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"connection: close" in head.lower()
    error = json.loads(body)["error"]
    assert error["code"] == "request_headers_too_large" and "32 KiB" in error["message"]
    return dict(error)


def test_oversized_request_heads_get_a_431_and_the_gateway_keeps_serving(serve) -> None:  # noqa: F811
    process = serve().started()
    port = process.port
    one_huge = HEAD + b"X-Big: " + b"a" * (1024 * 1024) + b"\r\n\r\n"
    many = HEAD + b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 1000) for i in range(40)) + b"\r\n"
    long_line = HEAD + b"X-Line: " + b"c" * (MAX_LINE_BYTES + 10) + b"\r\n\r\n"
    long_url = b"GET /health?" + b"q" * (MAX_LINE_BYTES + 10) + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    for head in (one_huge, many, long_line, long_url):
        _refused(_send(port, head))
    # A header that never ends, trickled in small pieces: refused once it passes the cap.
    trickle = [HEAD + b"X-Slow: "] + [b"d" * 1024] * (MAX_HEAD_BYTES // 1024 + 4)
    _refused(_send(port, *trickle))
    within = HEAD + b"".join(b"X-Ok%d: %s\r\n" % (i, b"e" * 9000) for i in range(3)) + b"Connection: close\r\n\r\n"
    assert _send(port, within).startswith(b"HTTP/1.1 200")
    process.wait_for(r"refused a request head over 32 KiB")
    assert process.proc.poll() is None


def test_a_kept_alive_connection_gets_a_431_for_its_oversized_second_request(serve) -> None:  # noqa: F811
    process = serve().started()
    with socket.create_connection(("127.0.0.1", process.port), timeout=10) as sock:
        sock.sendall(HEAD + b"\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200")
        try:
            sock.sendall(HEAD + b"Cookie: " + b"f" * (MAX_HEAD_BYTES + 1) + b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        _refused(read_all(sock))


def test_an_sdk_style_client_reads_the_431_as_an_error_body(serve) -> None:  # noqa: F811
    process = serve().started()
    with httpx.Client(base_url=process.url, timeout=10) as client:
        answer = client.get("/v1/models", headers={"X-Trace": "t" * (MAX_LINE_BYTES + 1)})
        assert answer.status_code == 431
        assert answer.json()["error"]["code"] == "request_headers_too_large"
        assert client.get("/health").status_code == 200


def test_the_431_comes_in_the_callers_protocol(serve) -> None:  # noqa: F811
    process = serve().started()
    huge = b"X-Big: " + b"g" * (MAX_HEAD_BYTES + 1) + b"\r\n\r\n"

    def body(path: bytes) -> dict[str, object]:
        answer = _send(process.port, b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + huge)
        head, _, content = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 431 "), answer[:200]
        return dict(json.loads(content))

    ollama = body(b"/api/chat")
    assert set(ollama) == {"error"} and "32 KiB" in str(ollama["error"])  # the ollama client reads a string
    anthropic = body(b"/v1/messages")
    assert anthropic["type"] == "error" and anthropic["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    openai = body(b"/v1/chat/completions")
    assert openai["error"]["code"] == "request_headers_too_large"  # type: ignore[index]
