"""Two gateways, one PostgreSQL database: what a team behind a load balancer gets. Each gateway is a
real ``atmosphere serve`` process with its own state directory; they share only
ATMOSPHERE_DATABASE_URL. A key made on one works on the other at once, a revocation reaches the
other within the cache's second, a per-key rate limit holds across both (one counter row per key and
minute), so does its limit of requests at once (a lease row per request in flight), also when a
replica is killed mid-request (its lease lapses), and one /v1/usage answer holds the history both
wrote."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from atmosphere.standins.suite import EmulatorSuite
from harness.polling import wait_until
from harness.processes import ServeProcess

pytestmark = pytest.mark.postgres

MODEL = "llama3.2:latest"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def replicas(backends: EmulatorSuite, postgres_database: str, tmp_path: Path, unused_tcp_port_factory: Any) -> Iterator[Any]:
    """Start ``count`` gateways on the test's database, all at once (so their migrations race)."""
    started: list[ServeProcess] = []
    urls = backends.urls

    def start(count: int = 2, **settings: str) -> list[ServeProcess]:
        for number in range(count):
            env = {
                **settings,
                "ATMOSPHERE_STATE_DIR": str(tmp_path / f"replica-{number}"),
                "ATMOSPHERE_DATABASE_URL": postgres_database,
                "ATMOSPHERE_OLLAMA_URL": urls["ollama"],
                "ATMOSPHERE_LLAMAFARM_URL": urls["llamafarm"],
                "ATMOSPHERE_LLAMAFARM_RUNTIME_URL": urls["runtime"],
            }
            started.append(ServeProcess(port=unused_tcp_port_factory(), env=env))
        return [process.started() for process in started[-count:]]

    yield start
    for process in started:
        process.stop()


def _client(replica: ServeProcess, secret: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return httpx.Client(base_url=replica.url, headers=headers, timeout=10.0)


def _make_key(replica: ServeProcess, **fields: Any) -> dict[str, Any]:
    with _client(replica) as client:
        answer = client.post("/v1/keys", json={"name": "team-indexer", **fields})
    assert answer.status_code == 201, answer.text
    return answer.json()


def _chat(replica: ServeProcess, secret: str, timeout: float = 10.0) -> httpx.Response:
    with _client(replica, secret) as client:
        return client.post("/v1/chat/completions", json=CHAT, timeout=timeout)


def test_a_key_made_on_one_replica_works_on_the_other_at_once(replicas):
    first, second = replicas(2)
    made = _make_key(first)
    answer = _chat(second, made["secret"])  # no wait: the second looks a secret it does not know up
    assert answer.status_code == 200, answer.text
    with _client(second) as client:
        [listed] = client.get("/v1/keys").json()["data"]
    assert listed["id"] == made["id"] and "secret" not in listed


def test_a_key_revoked_on_one_replica_is_refused_on_the_other_within_two_seconds(replicas):
    first, second = replicas(2)
    made = _make_key(first)
    assert _chat(second, made["secret"]).status_code == 200
    with _client(first) as client:
        assert client.delete(f"/v1/keys/{made['id']}").status_code == 200
    assert _chat(first, made["secret"]).status_code == 401  # at once where it was revoked
    assert wait_until(lambda: _chat(second, made["secret"]).status_code == 401, 2.5)
    assert _chat(second, made["secret"]).json()["error"]["message"] == "The API key 'team-indexer' was revoked."


def test_a_per_key_rate_limit_holds_across_both_replicas(replicas):
    first, second = replicas(2)
    made = _make_key(first, limits={"requests_per_minute": 4})
    assert wait_until(lambda: time.time() % 60 < 45, 16)  # the window is the clock's minute: all of it in one
    served = [_chat(replica, made["secret"]).status_code for replica in (first, second, first, second, first, second)]
    # Both replicas count on one row: four in all, then 429s, whichever replica is asked.
    assert served == [200, 200, 200, 200, 429, 429]
    refused = _chat(second, made["secret"])
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60


def test_the_history_of_both_replicas_is_one_usage_answer(replicas):
    first, second = replicas(2)
    made = _make_key(first)
    for replica, count in ((first, 2), (second, 3)):
        for _ in range(count):
            assert _chat(replica, made["secret"]).status_code == 200

    def totals() -> dict[str, int]:
        with _client(second) as client:
            report = client.get("/v1/usage", params={"group_by": "key"}).json()
        return {point["group"]: point["requests"] for point in report["series"]}

    assert wait_until(lambda: totals().get("team-indexer") == 5, 10), totals()
    with _client(first) as client:
        report = client.get("/v1/usage", params={"group_by": "host"}).json()
    assert sum(point["requests"] for point in report["series"]) == 5
    assert report["recording"]["ok"] is True


def test_replicas_starting_together_on_an_empty_database_migrate_it_once(replicas):
    first, second, third = replicas(3)
    for replica in (first, second, third):
        with _client(replica) as client:
            assert client.get("/health").json()["usage"]["ok"] is True
    applied = sum(replica.log.count("database schema: applied step 1 ") for replica in (first, second, third))
    assert applied == 1, "\n".join(replica.log for replica in (first, second, third))


def test_a_per_key_limit_of_requests_at_once_holds_across_both_replicas(replicas, backends):
    first, second = replicas(2)
    made = _make_key(first, limits={"concurrent": 2})
    backends.ollama.state.answer_delay = 5.0  # each answer takes its time: both are in flight together
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        held = [pool.submit(_chat, replica, made["secret"], 30.0) for replica in (first, second)]
        assert wait_until(lambda: backends.ollama.state.active == 2, 10), "the requests never reached the stand-in"
        # Each replica has one in flight, under the limit of two by its own count: only the shared count refuses.
        refused = [_chat(replica, made["secret"]) for replica in (first, second)]
        backends.ollama.state.answer_delay = 0.0
        assert [answer.result().status_code for answer in held] == [200, 200]
    assert [answer.status_code for answer in refused] == [429, 429]
    assert refused[0].json()["error"]["message"] == "Key 'team-indexer' already has 2 requests in flight, its limit."
    assert refused[0].headers["retry-after"] == "1"
    # A slot is free once its answer has arrived: the next request goes at once, on either replica.
    assert [_chat(replica, made["secret"]).status_code for replica in (second, first)] == [200, 200]


def _lease_times(database: str) -> list[tuple[float, float]]:
    """(expires_at, the database's now) of every lease row."""

    async def read() -> list[tuple[float, float]]:
        connection = await asyncpg.connect(database)
        try:
            rows = await connection.fetch("SELECT expires_at, extract(epoch from now())::float8 AS now FROM key_leases")
        finally:
            await connection.close()
        return [(row["expires_at"], row["now"]) for row in rows]

    return asyncio.run(read())


def test_a_replica_killed_mid_request_frees_its_keys_slot_within_the_lease_time(replicas, backends, postgres_database):
    first, second = replicas(2, ATMOSPHERE_KEY_LEASE_SECONDS="2")
    made = _make_key(first, limits={"concurrent": 1})
    backends.ollama.state.answer_delay = 30.0
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        doomed = pool.submit(_chat, first, made["secret"], 40.0)
        assert wait_until(lambda: backends.ollama.state.active == 1, 10), "the request never reached the stand-in"
        backends.ollama.state.answer_delay = 0.0
        [(expires, _)] = _lease_times(postgres_database)
        # A request that runs past its lease's first expiry keeps its slot: its replica renews the lease.
        assert wait_until(lambda: all(now > expires + 0.5 for _, now in _lease_times(postgres_database)), 10)
        assert [later > expires for later, _ in _lease_times(postgres_database)] == [True]
        assert _chat(second, made["secret"]).status_code == 429
        first.proc.kill()  # kill -9: no shutdown, no lease deleted
        killed = time.monotonic()
        with pytest.raises(httpx.TransportError):
            doomed.result()
    # Nobody renews the dead replica's lease: it lapses within the lease time, and the slot is free.
    assert wait_until(lambda: _chat(second, made["secret"]).status_code == 200, 10)
    assert time.monotonic() - killed < 2 + 1.5  # the lease time, and a second of slack for a busy machine
