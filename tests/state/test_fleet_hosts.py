"""A fleet of hosts through the running gateway: several Ollama hosts, each its own card;
hosts added, reordered and removed from the dashboard's API; requests go where the model
is loaded; a full host answers 503 with Retry-After."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from atmosphere.standins.ollama import create_ollama_app
from atmosphere.standins.server import EmulatorServer
from atmosphere.standins.state import EmulatorState

CHAT = {"model": "qwen2.5:0.5b", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def ollama_hosts() -> Iterator[list[EmulatorServer]]:
    """Three emulated Ollama hosts; only the second has qwen2.5:0.5b loaded."""
    servers = []
    try:
        for loaded in ({}, {"qwen2.5:0.5b": time.time()}, {}):
            servers.append(EmulatorServer(create_ollama_app(EmulatorState(loaded=dict(loaded)))).start())
        yield servers
    finally:
        for server in servers:
            server.stop()


def fresh_integrations(client: httpx.Client) -> list[dict[str, Any]]:
    """The integrations as probed after now: a refresh joins a scan already running, which may
    have read the hosts before the change, so the second refresh is surely a later scan."""
    client.get("/v1/integrations", params={"refresh": "true"})
    return list(client.get("/v1/integrations", params={"refresh": "true"}).json()["integrations"])


def fleet_urls(servers: list[EmulatorServer]) -> str:
    return f"{servers[0].url},gpu={servers[1].url},{servers[2].url}"


def test_each_ollama_host_is_an_integration_of_its_own_with_a_stable_id(ollama_hosts, make_gateway) -> None:
    gateway = make_gateway(ollama_url=fleet_urls(ollama_hosts))
    items = gateway.client().get("/v1/integrations").json()["integrations"]
    ollama = [i for i in items if i["type"] == "ollama"]
    third_port = ollama_hosts[2].port
    assert [i["id"] for i in ollama] == ["ollama", "gpu", f"ollama-127-0-0-1-{third_port}"]
    assert all(i["status"] == "healthy" for i in ollama)
    assert {i["priority"] for i in ollama} == {1} and items[0]["priority"] == 0  # LlamaFarm first
    gpu = ollama[1]
    assert gpu["removable"] is False and gpu["max_inflight"] is None and gpu["inflight"] == 0
    assert gpu["stats"]["sparkline"] == [0] * 15 and gpu["warmup_supported"] is True
    assert [m["id"] for m in gpu["models"] if m["loaded"]] == ["qwen2.5:0.5b"]


def test_requests_go_to_the_host_where_the_model_is_already_loaded(ollama_hosts, make_gateway) -> None:
    gateway = make_gateway(ollama_url=fleet_urls(ollama_hosts))
    with gateway.client() as client:
        served = [client.post("/v1/chat/completions", json=CHAT).headers["x-atmosphere-backend"] for _ in range(10)]
    assert served == ["gpu"] * 10


def test_a_conversation_stays_on_its_host(ollama_hosts, make_gateway) -> None:
    # No rescan mid-test: the first chat loads llama3.2 on one host, and a probe that saw it
    # there would rightly send everything to that host (the test above) instead of taking turns.
    gateway = make_gateway(ollama_url=fleet_urls(ollama_hosts), health_interval=3600)
    body = {**CHAT, "model": "llama3.2"}  # loaded nowhere: the hosts would take turns
    with gateway.client() as client:

        def host(payload: dict[str, Any], headers: dict[str, str] | None = None) -> str:
            return client.post("/v1/chat/completions", json=payload, headers=headers).headers["x-atmosphere-backend"]

        first = host({**body, "user": "alice"})
        again = {host({**body, "user": "alice"}) for _ in range(5)}
        by_header = {host(body, {"X-Atmosphere-Session": "s1"}) for _ in range(5)}
        anonymous = {host(body) for _ in range(6)}
    assert again == {first} and len(by_header) == 1
    assert len(anonymous) == 3  # round-robin among equals


def test_a_host_added_from_the_dashboard_is_probed_kept_across_restarts_and_removable(ollama_hosts, make_gateway) -> None:
    gateway = make_gateway(ollama_url=ollama_hosts[0].url)
    with gateway.client() as client:
        added = client.post("/v1/integrations", json={"kind": "ollama", "name": "Desk", "url": ollama_hosts[1].url})
        assert added.status_code == 201
        assert added.json()["integration"]["id"] == "desk" and added.json()["integration"]["removable"] is True
        items = fresh_integrations(client)
        assert {i["id"]: i["status"] for i in items}["desk"] == "healthy"
        assert client.post("/v1/integrations/desk/disable").status_code == 200
        duplicate = client.post("/v1/integrations", json={"kind": "ollama", "name": "desk", "url": ollama_hosts[2].url})
        assert duplicate.status_code == 400 and "exists already" in duplicate.json()["error"]["message"]
        bad = client.post("/v1/integrations", json={"kind": "ollama", "url": "file:///etc/passwd"})
        assert bad.status_code == 400
    gateway.restart()
    with gateway.client() as client:
        desk = next(i for i in client.get("/v1/integrations").json()["integrations"] if i["id"] == "desk")
        assert desk["enabled"] is False and desk["url"] == ollama_hosts[1].url
        refused = client.delete("/v1/integrations/ollama")
        assert refused.status_code == 400 and "settings" in refused.json()["error"]["message"]
        assert client.delete("/v1/integrations/desk").json() == {"removed": "desk"}
        assert client.delete("/v1/integrations/desk").status_code == 404
        # Added again, the host starts fresh: its old "disabled" went with its removal.
        again = client.post("/v1/integrations", json={"kind": "ollama", "name": "Desk", "url": ollama_hosts[1].url})
        assert again.json()["integration"]["enabled"] is True
        assert client.delete("/v1/integrations/desk").status_code == 200
    gateway.restart()
    with gateway.client() as client:
        ids = [i["id"] for i in client.get("/v1/integrations").json()["integrations"]]
        assert ids == ["llamafarm", "ollama"]


def test_the_operators_order_decides_priority_and_survives_a_restart(backends, make_gateway) -> None:
    gateway = make_gateway(backends)
    with gateway.client() as client:
        assert client.post("/v1/chat/completions", json={**CHAT, "model": "auto"}).headers["x-atmosphere-backend"] == "llamafarm"
        moved = client.post("/v1/integrations/order", json={"order": ["ollama", "llamafarm"]}).json()["integrations"]
        assert [(i["id"], i["priority"]) for i in moved] == [("ollama", 0), ("llamafarm", 1)]
        assert client.post("/v1/integrations/order", json={"order": ["nope"]}).status_code == 400
    gateway.restart()
    with gateway.client() as client:
        assert [i["id"] for i in client.get("/v1/integrations").json()["integrations"]] == ["ollama", "llamafarm"]
        assert client.post("/v1/chat/completions", json={**CHAT, "model": "auto"}).headers["x-atmosphere-backend"] == "ollama"


def test_a_full_host_answers_503_with_retry_after_in_the_callers_protocol(ollama_hosts, make_gateway) -> None:
    ollama_hosts[0].state.chunk_delay = 0.2
    gateway = make_gateway(ollama_url=ollama_hosts[0].url, max_inflight=1, queue_size=0)
    stream_body = {**CHAT, "stream": True, "messages": [{"role": "user", "content": "tell me a long story please"}]}
    with gateway.client() as client, client.stream("POST", "/v1/chat/completions", json=stream_body) as held:
        lines = held.iter_lines()
        assert next(lines).startswith("data: ")  # the only slot is taken while this stream runs
        busy = httpx.post(f"{gateway.url}/v1/chat/completions", json=CHAT, timeout=10)
        assert busy.status_code == 503 and busy.headers["retry-after"].isdigit()
        assert busy.json()["error"]["code"] == "hosts_busy"
    # The stream ended (or its client left): the slot is free again.
    after = _wait_for(lambda: httpx.post(f"{gateway.url}/v1/chat/completions", json=CHAT, timeout=10))
    assert after.status_code == 200


def _wait_for(call: Any) -> httpx.Response:
    """Retry until the gateway notices the closed stream (bounded; no fixed sleep)."""
    deadline = time.monotonic() + 5
    while True:
        response: httpx.Response = call()
        if response.status_code == 200 or time.monotonic() > deadline:
            return response


def test_warm_up_loads_a_model_on_an_ollama_host_and_is_not_offered_for_llamafarm(backends, make_gateway) -> None:
    from websockets.sync.client import connect

    gateway = make_gateway(backends)
    with connect(gateway.url.replace("http://", "ws://") + "/ws") as ws, gateway.client() as client:
        snapshot = json.loads(ws.recv(timeout=5))
        llamafarm = next(i for i in snapshot["integrations"] if i["id"] == "llamafarm")
        assert llamafarm["warmup_supported"] is False
        warmed = client.post("/v1/integrations/ollama/warm", json={"model": "llava"}).json()
        assert warmed["success"] is True and warmed["model"] == "llava:latest" and warmed["error"] is None
        deadline = time.monotonic() + 5
        while True:  # the scan the warm-up asked for publishes the card with the model resident
            message = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            card = message.get("integration") or {}
            if card.get("id") == "ollama" and any(m["loaded"] for m in card["models"]):
                break
        assert [m["id"] for m in card["models"] if m["loaded"]] == ["llava:latest"]
        refused = client.post("/v1/integrations/llamafarm/warm", json={"model": "chatbot/fast"}).json()
        assert refused["success"] is False and "preload" in refused["error"]
        assert client.post("/v1/integrations/ollama/warm", json={}).status_code == 400


def test_a_llamafarm_alias_shows_loaded_while_its_universal_runtime_holds_the_model(backends, make_gateway) -> None:
    from atmosphere.standins.runtime import cache_key

    gateway = make_gateway(backends)
    with gateway.client() as client:

        def loaded() -> list[str]:
            items = fresh_integrations(client)
            llamafarm = next(i for i in items if i["id"] == "llamafarm")
            return [m["id"] for m in llamafarm["models"] if m["loaded"]]

        assert loaded() == []
        backends.runtime.state.loaded[cache_key("language", "unsloth/Qwen3-1.7B-GGUF")] = time.time()
        assert loaded() == ["smart"]


async def test_requests_beyond_each_hosts_limit_wait_and_go_to_whichever_host_frees_first(make_gateway) -> None:
    servers = [EmulatorServer(create_ollama_app(EmulatorState(answer_delay=0.2))).start() for _ in range(2)]
    try:
        gateway = make_gateway(ollama_url=",".join(s.url for s in servers), max_inflight=1, queue_size=8)
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
            answers = await asyncio.gather(*(client.post("/v1/chat/completions", json=CHAT) for _ in range(6)))
        assert [a.status_code for a in answers] == [200] * 6
        assert [s.state.peak_active for s in servers] == [1, 1]
        served = [a.headers["x-atmosphere-backend"] for a in answers]
        assert 2 <= served.count("ollama") <= 4  # both hosts took queued work
    finally:
        for server in servers:
            server.stop()


def test_with_the_defaults_256_clients_at_once_on_one_host_are_all_served(make_gateway) -> None:
    """No limit of ours unless the host reports one: a burst the backend takes is never refused."""
    state = EmulatorState(loaded={"qwen2.5:0.5b": time.time()})
    state.answer_delay = 0.2  # every request is still running when the last one arrives
    server = EmulatorServer(create_ollama_app(state)).start()
    try:
        gateway = make_gateway(ollama_url=server.url)

        async def burst() -> list[httpx.Response]:
            limits = httpx.Limits(max_connections=256, max_keepalive_connections=0)
            async with httpx.AsyncClient(base_url=gateway.url, limits=limits, timeout=60) as client:
                return await asyncio.gather(*(client.post("/v1/chat/completions", json=CHAT) for _ in range(256)))

        answers = asyncio.run(burst())
        statuses = [a.status_code for a in answers]
        assert statuses == [200] * 256, {s: statuses.count(s) for s in set(statuses)}
        assert all(a.json()["choices"][0]["message"]["content"] for a in answers)
        assert state.peak_active > 20  # run side by side at the host, not four at a time behind a queue of 16
    finally:
        server.stop()
