"""The keep-alive pool on its own, against a raw-socket server that scripts every byte.

Each story states what a gateway user would meet if the pool got it wrong: a hung
request, a leaked socket, an unreachable https backend, a memory spike.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import trustme

from atmosphere.errors import BackendFailure
from atmosphere.http.client import failure_from_exception
from atmosphere.http.transport import MAX_HEADER_BYTES, CertificateError, HeadersTooLarge, PooledTransport, tls_context
from harness.raw import RawRequest, RawServer, chunked, response

Handler = Callable[[RawRequest, asyncio.StreamWriter], Awaitable[bool | None]]


async def ok(request: RawRequest, writer: asyncio.StreamWriter) -> None:
    writer.write(response(200, b"ok " + request.path.encode()))


def client_for(server: RawServer, transport: PooledTransport | None = None, **timeouts: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.url,
        transport=transport or PooledTransport(),
        timeout=httpx.Timeout(timeouts.pop("read", 5.0), **timeouts),
    )


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[RawServer]]]:
    servers: list[RawServer] = []

    async def start(handler: Handler, **kwargs: object) -> RawServer:
        server = await RawServer(handler, **kwargs).start()  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


async def test_a_chunked_answer_with_trailers_is_read_whole_and_its_connection_reused(serve):
    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(chunked([b"hello, ", b"world"], trailers={"X-Checksum": "abc"}))

    server = await serve(handler)
    async with client_for(server) as client:
        assert (await client.get("/a")).content == b"hello, world"
        assert (await client.get("/b")).content == b"hello, world"
    assert server.stats.accepted == 1


@pytest.mark.parametrize(
    "answer",
    [
        response(404, b'{"error":"model not found"}'),
        response(500, b"boom"),
        response(503, b"busy", {"Retry-After": "3"}),
        chunked([b'{"error":"x"}']),
        response(204),
    ],
    ids=["404", "500", "503", "chunked-error", "204-no-body"],
)
async def test_the_connection_is_reused_after_an_error_answer(serve, answer: bytes):
    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(answer if request.path == "/bad" else response(200, b"fine"))

    server = await serve(handler)
    async with client_for(server) as client:
        await client.get("/bad")
        assert (await client.get("/good")).content == b"fine"
    assert server.stats.accepted == 1


@pytest.mark.parametrize("fault", ["garbage", "cut-mid-body", "close-without-answer"])
async def test_after_a_broken_answer_the_next_request_gets_a_fresh_connection(serve, fault: str):
    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> bool | None:
        if request.path == "/good":
            writer.write(response(200, b"fine"))
            return None
        if fault == "garbage":
            writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        elif fault == "cut-mid-body":
            writer.write(response(200, b"x" * 100)[:-50])
        return False  # and close

    server = await serve(handler)
    async with client_for(server) as client:
        with pytest.raises(httpx.TransportError):
            await client.get("/bad")
        assert (await client.get("/good")).content == b"fine"
    assert server.stats.accepted == 2


async def test_a_keep_alive_connection_the_backend_closed_while_idle_is_retried_once_on_a_fresh_one(serve):
    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(200, b"fine"))
        return False  # answer, then close: the pooled connection is dead on arrival next time

    server = await serve(handler)
    transport = PooledTransport()
    async with client_for(server, transport) as client:
        assert (await client.get("/1")).content == b"fine"
        await server.wait_for(lambda s: s.open == 0)
        assert (await client.get("/2")).content == b"fine"


async def test_a_timed_out_answer_is_not_reused_and_the_next_request_is_served(serve):
    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        if request.path == "/slow":
            await asyncio.sleep(30)  # the client gives up first
        writer.write(response(200, b"fine"))

    server = await serve(handler)
    async with client_for(server, read=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/slow")
        assert (await client.get("/good")).content == b"fine"
    await server.wait_for(lambda s: s.open == 0)
    assert server.stats.accepted == 2


async def _cancel_when(server: RawServer, call: Awaitable[object], ready: Callable[[], Awaitable[None]]) -> None:
    task = asyncio.ensure_future(call)
    await ready()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize("stage", ["waiting-for-headers", "mid-body"])
async def test_a_cancelled_request_closes_its_socket_and_frees_its_slot(serve, stage: str):
    sent_part = asyncio.Event()

    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        if request.path == "/good":
            writer.write(response(200, b"fine"))
            return
        if stage == "mid-body":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
            await writer.drain()
        sent_part.set()
        await asyncio.sleep(30)

    server = await serve(handler)
    transport = PooledTransport(max_connections=1)
    async with client_for(server, transport, pool=1.0) as client:

        async def stream_it() -> None:
            async with client.stream("GET", "/hang") as resp:
                async for _ in resp.aiter_bytes():
                    pass

        await _cancel_when(server, stream_it(), sent_part.wait)
        await server.wait_for(lambda s: s.open == 0, timeout=1.0)  # the backend saw the socket close
        assert (await client.get("/good")).content == b"fine"  # with one slot: it was given back


async def test_a_cancelled_tls_handshake_leaves_no_socket_behind():
    hello, gone = asyncio.Event(), asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # the ClientHello began: the handshake is under way
        hello.set()
        while await reader.read(65536):
            pass  # never answer it
        gone.set()
        writer.close()

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    transport = PooledTransport(max_connections=1)
    try:
        async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", transport=transport, timeout=5.0) as client:
            task = asyncio.ensure_future(client.get("/"))
            await hello.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            async with asyncio.timeout(1.0):
                await gone.wait()
            assert not transport._limit.locked()
    finally:
        listener.close()


async def test_a_paused_answer_closed_unread_does_not_hang_the_next_request_on_its_connection(serve):
    big = b"x" * (1 << 20 | 1 << 17)  # 1.125 MiB: the read that completes it also crosses the 1 MiB pause

    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(response(200, big if request.path == "/big" else b"fine"))

    server = await serve(handler)
    async with client_for(server, read=2.0) as client:
        for _ in range(3):
            async with client.stream("GET", "/big") as resp:
                conn = resp.stream._stream._conn  # type: ignore[attr-defined]  # the pool's connection
                while not (conn.complete or conn._paused):  # the read that paused past 1 MiB also ended it
                    await conn.wait(2.0)
                assert resp.status_code == 200  # and closed without reading the body
            assert (await client.get("/small")).content == b"fine"
        assert len((await client.get("/big")).content) == len(big)  # and read whole when asked


async def test_headers_over_64_kib_are_refused_without_reading_them_to_the_end(serve):
    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nX-Huge: ")
        for _ in range(200):  # 200 MiB if anyone read it all
            writer.write(b"a" * (1 << 20))
            await writer.drain()
        return False

    server = await serve(handler)
    async with client_for(server) as client:
        with pytest.raises(HeadersTooLarge, match="64 KiB"):
            await client.get("/")
    await server.wait_for(lambda s: s.open == 0, timeout=2.0)


async def test_many_headers_over_64_kib_arriving_with_their_body_are_refused(serve):
    headers = {f"X-H{i}": "v" * 1000 for i in range(MAX_HEADER_BYTES // 1000 + 1)}

    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(response(200, b"body", headers))

    server = await serve(handler)
    async with client_for(server) as client:
        with pytest.raises(HeadersTooLarge) as caught:
            await client.get("/")
    assert "64 KiB" in failure_from_exception(caught.value, "chat").reason


async def test_head_is_answered_without_waiting_for_a_body_and_keeps_the_connection(serve):
    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        if request.method == "HEAD":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")
        else:
            writer.write(response(200, b"fine"))

    server = await serve(handler)
    async with client_for(server, read=2.0) as client:
        head = await client.head("/")
        assert head.headers["content-length"] == "1234" and head.content == b""
        assert (await client.get("/")).content == b"fine"
    assert server.stats.accepted == 1


async def test_an_informational_answer_before_the_real_one_is_skipped(serve):
    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + response(200, b"fine", {"X-Real": "1"}))

    server = await serve(handler)
    async with client_for(server) as client:
        resp = await client.get("/")
    assert (resp.status_code, resp.content, resp.headers.get("x-real"), resp.headers.get("link")) == (200, b"fine", "1", None)


async def test_waiting_for_a_free_connection_gives_up_at_the_pool_timeout(serve):
    release = asyncio.Event()

    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfi")
        await writer.drain()
        await release.wait()
        writer.write(b"ne")

    server = await serve(handler)
    async with client_for(server, PooledTransport(max_connections=1), pool=0.2) as client:
        async with client.stream("GET", "/holding") as held:
            with pytest.raises(httpx.PoolTimeout):
                await client.get("/waiting")
            release.set()
            assert await held.aread() == b"fine"
        assert (await client.get("/after")).content == b"fine"
    failure = failure_from_exception(httpx.PoolTimeout("x"), "chat")
    assert failure.kind == "timeout" and "busy" in failure.reason


# --- TLS -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_ca() -> trustme.CA:
    return trustme.CA()


def _tls_server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


async def test_an_https_backend_behind_a_private_ca_is_reached_with_the_ca_bundle(serve, private_ca, tmp_path: Path):
    server = await serve(ok, ssl_context=_tls_server_context(private_ca))
    bundle = tmp_path / "ca.pem"
    private_ca.cert_pem.write_to_path(str(bundle))
    async with client_for(server, PooledTransport(ssl_context=tls_context(bundle))) as client:
        assert (await client.get("/x")).content == b"ok /x"
        assert (await client.get("/y")).content == b"ok /y"
    assert server.stats.accepted == 1


async def test_an_untrusted_certificate_is_reported_as_such_not_as_connection_refused(serve, private_ca):
    server = await serve(ok, ssl_context=_tls_server_context(private_ca))
    async with client_for(server, PooledTransport(ssl_context=tls_context())) as client:
        with pytest.raises(CertificateError) as caught:
            await client.get("/")
    failure: BackendFailure = failure_from_exception(caught.value, "model list")
    assert "certificate" in failure.reason and "not trusted" in failure.reason
    assert "ATMOSPHERE_CA_BUNDLE" in failure.reason and "refused" not in failure.reason


async def test_a_json_post_on_the_hot_path_reaches_the_backend_as_httpx_sends_it_and_reuses_the_connection(serve):
    from atmosphere.http.client import post_json

    seen: list[RawRequest] = []

    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        seen.append(request)
        writer.write(response(200, b'{"ok": true}', {"Content-Type": "application/json"}))

    server = await serve(handler)
    headers = {"Content-Type": "application/json", "X-Session-ID": "s-1"}
    async with client_for(server) as fast, httpx.AsyncClient(base_url=server.url) as plain:
        assert await post_json(fast, "/api/chat", {"model": "m"}, "chat", headers) == {"ok": True}
        assert await post_json(fast, "/api/chat", {"model": "m"}, "chat", headers) == {"ok": True}
        assert await post_json(plain, "/api/chat", {"model": "m"}, "chat", headers) == {"ok": True}
    ours, again, theirs = seen
    expected = ("POST", "/api/chat", b'{"model":"m"}')
    assert (ours.method, ours.path, ours.body) == (theirs.method, theirs.path, theirs.body) == expected
    wanted = {"host", "accept", "content-length", "content-type", "x-session-id"}
    sent = {k.lower(): v for k, v in theirs.headers.items() if k.lower() in wanted}
    assert {k.lower(): v for k, v in ours.headers.items()} == sent
    assert again.connection == ours.connection  # kept alive


async def test_a_hot_path_answer_the_backend_compressed_unasked_is_still_decoded(serve):
    import gzip

    from atmosphere.http.client import post_json

    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        body = gzip.compress(b'{"message": "hi"}')
        writer.write(response(200, body, {"Content-Type": "application/json", "Content-Encoding": "gzip"}))

    server = await serve(handler)
    async with client_for(server) as client:
        assert await post_json(client, "/api/chat", {"model": "m"}, "chat") == {"message": "hi"}


async def test_a_streamed_answer_on_the_hot_path_comes_line_by_line_with_its_headers(serve):
    from atmosphere.http.client import iter_lines, open_post, retry_after

    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        parts = [b'{"a": 1}\n{"b"', b": 2}\n", b'{"c": 3}']
        writer.write(chunked(parts, headers={"Content-Type": "application/x-ndjson", "Retry-After": "2", "X-Two": "a"}))

    server = await serve(handler)
    async with client_for(server) as client:
        for _ in range(2):  # the connection is reused once the answer was read to its end
            async with open_post(client, "/api/chat", b"{}", {"Content-Type": "application/json"}, "chat") as resp:
                assert resp.status_code == 200
                assert resp.headers.get("content-type") == "application/x-ndjson"
                assert resp.headers.get("x-missing", "none") == "none"
                assert retry_after(resp) == 2.0
                assert [line async for line in iter_lines(resp, "chat")] == [b'{"a": 1}', b'{"b": 2}', b'{"c": 3}']
    assert server.stats.accepted == 1
