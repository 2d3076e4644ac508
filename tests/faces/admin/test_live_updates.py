"""/ws: a snapshot on connect, then every change as it happens."""

from __future__ import annotations

import json
import time

from websockets.sync.client import connect


def receive_until(ws, predicate, timeout: float) -> dict:
    """The first message matching predicate; pings and unrelated changes are skipped."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "no matching message in time"
        message = json.loads(ws.recv(timeout=remaining))
        if predicate(message):
            return message


def status_of(backend_id: str, status: str):
    return lambda m: m["type"] == "integration" and m["integration"]["id"] == backend_id and m["integration"]["status"] == status


def ws_url(gateway) -> str:
    return gateway.url.replace("http://", "ws://") + "/ws"


def test_socket_sends_a_snapshot_then_changes_within_two_intervals(backends, make_gateway):
    interval = 0.5
    gateway = make_gateway(backends, health_interval=interval, probe_timeout=0.5)
    with connect(ws_url(gateway)) as ws:
        snapshot = json.loads(ws.recv(timeout=5))
        assert snapshot["type"] == "snapshot"
        assert {i["id"]: i["status"] for i in snapshot["integrations"]} == {"llamafarm": "healthy", "ollama": "healthy"}

        backends.llamafarm.stop()
        killed = time.monotonic()
        message = receive_until(ws, status_of("llamafarm", "offline"), timeout=2 * interval + 1)
        assert time.monotonic() - killed <= 2 * interval + 0.5
        assert message["integration"]["error"]

        backends.llamafarm.start()
        back = time.monotonic()
        receive_until(ws, status_of("llamafarm", "healthy"), timeout=2 * interval + 1)
        assert time.monotonic() - back <= 2 * interval + 0.5


def test_enable_and_disable_are_published_to_every_client(gateway):
    with connect(ws_url(gateway)) as first, connect(ws_url(gateway)) as second:
        first.recv(timeout=5)
        second.recv(timeout=5)
        with gateway.client() as client:
            client.post("/v1/integrations/llamafarm/disable")
        for ws in (first, second):
            message = receive_until(ws, lambda m: m["type"] == "integration", timeout=2)
            assert message["integration"]["id"] == "llamafarm" and message["integration"]["enabled"] is False


def test_refresh_message_triggers_a_scan(backends, make_gateway):
    gateway = make_gateway(backends, health_interval=60)
    with connect(ws_url(gateway)) as ws:
        ws.recv(timeout=5)
        backends.ollama.stop()
        ws.send(json.dumps({"type": "refresh"}))
        receive_until(ws, status_of("ollama", "offline"), timeout=3)


def test_a_client_that_stops_reading_does_not_stall_the_others(backends, make_gateway):
    gateway = make_gateway(backends, health_interval=60)
    # The stalled client never reads, so it cannot see the server's answer to its closing
    # handshake (its reading is paused behind the unread messages): it does not wait for it.
    with connect(ws_url(gateway), close_timeout=0.2) as stalled, connect(ws_url(gateway)) as reader:
        stalled.recv(timeout=5)
        reader.recv(timeout=5)
        with gateway.client() as client:
            for _ in range(40):  # far more changes than the stalled client reads
                client.post("/v1/integrations/ollama/disable")
                client.post("/v1/integrations/ollama/enable")
        seen = 0
        while seen < 80:
            message = json.loads(reader.recv(timeout=5))
            seen += message["type"] == "integration"
        assert seen == 80


def test_a_garbage_message_from_a_client_is_ignored(gateway):
    with connect(ws_url(gateway)) as ws:
        ws.recv(timeout=5)
        ws.send("this is not json")
        ws.send(json.dumps({"type": "refresh"}))
        with gateway.client() as client:
            client.post("/v1/integrations/ollama/disable")
        receive_until(ws, lambda m: m["type"] == "integration" and m["integration"]["enabled"] is False, timeout=3)
