"""/ws: live integration status for the dashboard.

Each client has its own bounded queue and sender task, and every message is
serialised once for all clients, so a slow or dead client never stalls the others:
when its queue is full it is dropped (the dashboard reconnects and gets a snapshot).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from atmosphere import jsonfast
from atmosphere.observe.requestlog import RequestEntry
from atmosphere.router.integrations import Integration, Integrations

log = logging.getLogger("atmosphere.ws")
router = APIRouter()

_QUEUE_SIZE = 64


class _Client:
    def __init__(self, websocket: WebSocket):
        self.websocket = websocket
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(_QUEUE_SIZE)

    def offer(self, text: str) -> bool:
        """Queue a message without waiting; False when the client has fallen too far behind."""
        try:
            self.queue.put_nowait(text)
            return True
        except asyncio.QueueFull:
            return False


class LiveUpdates:
    """Fans card changes out to every connected WebSocket client; ``rescan`` is what a
    client's ``{"type": "refresh"}`` asks for."""

    def __init__(self, integrations: Integrations, *, rescan: Callable[[], None], ping_interval: float = 15.0):
        self.integrations = integrations
        self.rescan = rescan
        self.ping_interval = ping_interval
        self._clients: set[_Client] = set()
        integrations.add_listener(self)

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def integration_changed(self, integration: Integration) -> None:
        self.broadcast({"type": "integration", "integration": integration})

    def integrations_replaced(self, integrations: list[Integration]) -> None:
        """Everyone gets the whole list again (a host was added, removed or moved)."""
        self.broadcast(_snapshot(integrations))

    def request_done(self, entry: RequestEntry) -> None:
        """A finished request, for the dashboard's live log (serialised only when someone listens).

        Lossy on purpose: under load there may be thousands a second, so a client whose queue
        is half full skips them (``GET /v1/requests`` has them all) instead of being dropped;
        status messages keep the other half of the queue."""
        if not self._clients:
            return
        text = jsonfast.dumps({"type": "request", "request": entry.to_dict()}).decode()
        for client in list(self._clients):
            if client.queue.qsize() < _QUEUE_SIZE // 2:
                client.offer(text)

    def broadcast(self, message: dict[str, Any]) -> None:
        text = jsonfast.dumps(message).decode()
        for client in list(self._clients):
            if not client.offer(text):
                log.warning("dropping a websocket client that stopped reading")
                self._clients.discard(client)
                client.queue = asyncio.Queue(1)
                client.queue.put_nowait(None)  # tell its sender to close

    async def serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        client = _Client(websocket)
        client.offer(jsonfast.dumps(_snapshot(self.integrations.all())).decode())
        self._clients.add(client)
        sender = asyncio.create_task(self._send_loop(client))
        try:
            await self._receive_loop(client)
        finally:
            self._clients.discard(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    async def _send_loop(self, client: _Client) -> None:
        ping = jsonfast.dumps({"type": "ping"}).decode()
        try:
            while True:
                try:
                    text = await asyncio.wait_for(client.queue.get(), self.ping_interval)
                except TimeoutError:
                    text = ping
                if text is None:
                    await client.websocket.close(code=1013)  # try again later: it will reconnect
                    return
                await client.websocket.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return

    async def _receive_loop(self, client: _Client) -> None:
        """Read what the client sends; anything but a JSON text message is answered with an
        error message on the socket and otherwise ignored (one bad frame is not fatal)."""
        while True:
            try:
                frame = await client.websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if frame["type"] == "websocket.disconnect":
                return
            text = frame.get("text")
            if text is None:
                client.offer(_error('Binary frames are not understood; send JSON text such as {"type": "refresh"}.'))
                continue
            try:
                message = jsonfast.loads(text)
            except jsonfast.JSONDecodeError:
                client.offer(_error('Messages must be JSON text such as {"type": "refresh"}.'))
                continue
            if isinstance(message, dict) and message.get("type") == "refresh":
                self.rescan()


def _snapshot(integrations: list[Integration]) -> dict[str, Any]:
    return {"type": "snapshot", "integrations": integrations, "timestamp": time.time()}


def _error(message: str) -> str:
    return jsonfast.dumps({"type": "error", "message": message}).decode()


@router.websocket("/ws")
async def live_socket(websocket: WebSocket) -> None:
    await websocket.app.state.live.serve(websocket)
