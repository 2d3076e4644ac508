"""A minimal raw-asyncio WebSocket client for the fan-out measure.

Hundreds of clients live in the benchmark's one process, so each is a bare Protocol:
it stamps the arrival time in ``data_received`` before parsing anything, keeps only the
text messages that matter, and answers pings. No compression is offered, so frames
arrive as plain text.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections.abc import Callable

import orjson

_now = time.perf_counter


class WsClient(asyncio.Protocol):
    """One `/ws` connection; `messages` holds (arrival time, parsed JSON) of text frames."""

    def __init__(self, host: str, port: int, path: str = "/ws", keep: Callable[[bytes], bool] | None = None) -> None:
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.keep = keep
        self.transport: asyncio.Transport | None = None
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.messages: list[tuple[float, object]] = []
        self.got_message = asyncio.Event()
        self.closed = False
        self._buf = bytearray()
        self._fragments: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError(f"closed before the upgrade: {exc}"))
        self.got_message.set()

    def data_received(self, data: bytes) -> None:
        now = _now()
        buf = self._buf
        buf += data
        if not self.upgraded.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if buf[9:12] != b"101":
                self.upgraded.set_exception(ConnectionError(bytes(buf[:end]).decode(errors="replace")))
                return
            del buf[: end + 4]
            self.upgraded.set_result(None)
        while len(buf) >= 2:
            first, second = buf[0], buf[1]
            length, at = second & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, at = struct.unpack_from("!H", buf, 2)[0], 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, at = struct.unpack_from("!Q", buf, 2)[0], 10
            if len(buf) < at + length:
                return
            payload = bytes(buf[at : at + length])
            del buf[: at + length]
            self._frame(first & 0x80, first & 0x0F, payload, now)

    def _frame(self, fin: int, opcode: int, payload: bytes, now: float) -> None:
        if opcode == 0x9:  # ping → pong
            self._send(0xA, payload)
        elif opcode == 0x8:
            self.closed = True
            if self.transport is not None:
                self.transport.close()
        elif opcode in (0x1, 0x0):
            self._fragments.append(payload)
            if not fin:
                return
            text = b"".join(self._fragments)
            self._fragments = []
            if self.keep is None or self.keep(text):
                self.messages.append((now, orjson.loads(text)))
                self.got_message.set()

    def _send(self, opcode: int, payload: bytes) -> None:
        """Client frames must be masked (RFC 6455 §5.3)."""
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        length = len(payload)
        if length < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        if self.transport is not None and not self.closed:
            self.transport.write(head + mask + masked)

    def send_text(self, text: str) -> None:
        self._send(0x1, text.encode())

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self._send(0x8, struct.pack("!H", 1000))
            self.transport.close()
        self.closed = True


async def connect_many(host: str, port: int, count: int, keep: Callable[[bytes], bool], batch: int = 50) -> list[WsClient]:
    """`count` upgraded clients, opened `batch` at a time so the listen backlog never overflows."""
    loop = asyncio.get_running_loop()
    clients: list[WsClient] = []
    while len(clients) < count:
        size = min(batch, count - len(clients))
        made = await asyncio.gather(
            *(loop.create_connection(lambda: WsClient(host, port, keep=keep), host, port) for _ in range(size))
        )
        fresh = [protocol for _, protocol in made]
        await asyncio.gather(*(c.upgraded for c in fresh))
        clients.extend(fresh)
    return clients
