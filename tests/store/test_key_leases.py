"""A key's limit of requests at once on PostgreSQL, in process: two stores on one database (two
replicas) admitting the same key at the same moment let exactly the limit through; a request's
lease is gone before its answer's last byte goes out; one that ends without it (cancelled, failed)
still gives its slot back; and a key without that limit is admitted with the one statement it
always took, no lock, no lease."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from atmosphere.api.middleware import key_scope
from atmosphere.config import Settings
from atmosphere.store.keys import ClientKey
from atmosphere.store.limits import Limiter
from atmosphere.store.schema import key_leases
from atmosphere.store.service import Store

pytestmark = pytest.mark.postgres


@pytest.fixture
async def replicas(tmp_path: Path, postgres_database: str) -> AsyncIterator[list[Store]]:
    stores = [Store(Settings(state_dir=tmp_path / name, database_url=postgres_database)) for name in ("a", "b")]
    for store in stores:
        await store.open()
        assert store.available, store.reason
    yield stores
    for store in stores:
        await store.close()


def _limiter(store: Store) -> Limiter:
    assert store.limiter is not None
    return store.limiter


async def _key(store: Store, **limits: Any) -> ClientKey:
    assert store.keys is not None
    key, _ = await store.keys.create(name="indexer", **limits)
    return key


async def _leases(store: Store) -> int:
    assert store.engine is not None
    async with store.engine.connect() as connection:
        return int((await connection.execute(sa.select(sa.func.count()).select_from(key_leases))).scalar_one())


async def test_two_replicas_admitting_one_key_at_the_same_moment_let_exactly_its_limit_through(replicas):
    key = await _key(replicas[0], concurrent=3)
    limiters = [_limiter(store) for store in replicas]
    # Each counted in a minute of its own (as at a minute's turn), so the minute's counter row, which
    # admissions in one minute update in turn, does not make them take turns: only the key's lock does.
    start = time.time()
    answers = await asyncio.gather(*(limiters[n % 2].admit(key, now=start + 60 * n) for n in range(16)))
    admitted = [answer for answer in answers if answer is None]
    assert len(admitted) == 3 and await _leases(replicas[0]) == 3
    assert {answer.message for answer in answers if answer is not None} == {
        "Key 'indexer' already has 3 requests in flight, its limit."
    }


async def test_a_requests_lease_is_gone_before_its_answers_last_byte_goes_out(replicas):
    store = replicas[0]
    limiter = _limiter(store)
    key = await _key(store, concurrent=1)
    assert await limiter.admit(key) is None
    leases_seen: list[tuple[str, int]] = []

    async def client(message: Any) -> None:  # what the client would see, and the leases at that moment
        leases_seen.append((message["type"], await _leases(store)))

    send = key_scope.answer_send(key, limiter, client)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{", "more_body": True})
    await send({"type": "http.response.body", "body": b"}"})
    limiter.release(key, 0)
    assert leases_seen == [("http.response.start", 1), ("http.response.body", 1), ("http.response.body", 0)]
    other = _limiter(replicas[1])
    assert await other.admit(key) is None  # the other replica finds the slot free, with nothing to wait for
    assert await limiter.admit(key) is not None  # and now it is taken again


async def test_a_request_that_ends_without_its_last_byte_still_gives_its_slot_back(replicas):
    store = replicas[0]
    limiter = _limiter(store)
    key = await _key(store, concurrent=1)
    assert await limiter.admit(key) is None
    limiter.release(key, 0)  # the client left, or the answer failed before its end
    await limiter.leases.close()  # waits for the deletion under way
    assert await _leases(store) == 0
    assert await _limiter(replicas[1]).admit(key) is None


async def test_a_key_without_a_concurrency_limit_is_admitted_with_one_statement_and_no_lease(replicas):
    store = replicas[0]
    limiter = _limiter(store)
    assert store.engine is not None
    statements: list[str] = []

    def seen(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # Only the limiter's own statements: the key cache's refresher and the usage writer share
        # this engine and may run a SELECT of their own at any moment.
        if not any(word in statement for word in ("key_counters", "key_leases", "pg_advisory_xact_lock")):
            return
        statements.append(statement.split()[0] + (" lock" if "pg_advisory_xact_lock" in statement else ""))

    unlimited = await _key(store, rpm=100)
    assert store.keys is not None
    capped, _ = await store.keys.create(name="alice", concurrent=2)
    event.listen(store.engine.sync_engine, "before_cursor_execute", seen)
    try:
        assert await limiter.admit(unlimited) is None
        plain, statements[:] = list(statements), []
        assert await limiter.admit(capped) is None
        leased = list(statements)
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", seen)
    assert plain == ["INSERT"]  # the minute's count, as before there were leases
    assert leased == ["INSERT", "SELECT lock", "INSERT"]  # the count, the key's lock, the lease
    assert await _leases(store) == 1
