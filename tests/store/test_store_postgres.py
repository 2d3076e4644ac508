"""Two gateways, one PostgreSQL database: what a team behind a load balancer gets. Each gateway is a
real ``atmosphere serve`` process with its own state directory; they share only
ATMOSPHERE_DATABASE_URL. A key made on one works on the other at once, a revocation reaches the
other within the cache's second, a per-key rate limit holds across both (one counter row per key and
minute), and one /v1/usage answer holds the history both wrote."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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

    def start(count: int = 2) -> list[ServeProcess]:
        for number in range(count):
            env = {
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


def _chat(replica: ServeProcess, secret: str) -> httpx.Response:
    with _client(replica, secret) as client:
        return client.post("/v1/chat/completions", json=CHAT)


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
