"""The usage history on the real SQLite file in the state directory: every request (refused ones too)
becomes one row, written off the request path; the history survives a restart; /v1/usage aggregates
it; an unwritable state directory costs the history, never a request."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Gateway

from atmosphere.config import Settings
from atmosphere.observe.context import RequestContext
from atmosphere.observe.requestlog import RequestEntry
from atmosphere.store.engine import make_engine
from atmosphere.store.migrations import STEPS, migrate
from atmosphere.store.report import UsageQuery, usage_report
from atmosphere.store.schema import schema_version
from atmosphere.store.schema import usage as usage_table
from atmosphere.store.service import Store
from atmosphere.store.usage import UsageWriter
from harness.polling import wait_until

SECRET_PROMPT = "the-launch-code-is-4711"


def db_rows(state_dir: Path) -> list[dict[str, Any]]:
    connection = sqlite3.connect(state_dir / "atmosphere.db")
    connection.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in connection.execute("SELECT * FROM usage ORDER BY id")]
    finally:
        connection.close()


def usage(gateway: Gateway, **params: str) -> Any:
    with gateway.client() as client:
        return client.get("/v1/usage", params=params)


def requests_counted(gateway: Gateway, wanted: int) -> bool:
    answer = usage(gateway)
    return answer.status_code == 200 and sum(p["requests"] for p in answer.json()["series"]) >= wanted


def chat_everywhere(gateway: Gateway) -> list[str]:
    """One chat per client protocol, plus a bad request; the request ids the client got back."""
    ids = []
    with gateway.client() as client:
        for path, body in (
            ("/v1/chat/completions", {"model": "llama3.2:latest", "messages": [{"role": "user", "content": SECRET_PROMPT}]}),
            ("/v1/messages", {"model": "llama3.2:latest", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}),
            ("/api/chat", {"model": "llama3.2:latest", "stream": False, "messages": [{"role": "user", "content": "hi"}]}),
        ):
            answer = client.post(path, json=body)
            assert answer.status_code == 200, answer.text
            ids.append(answer.headers["x-request-id"])
        bad = client.post("/v1/chat/completions", json={"model": "llama3.2:latest"})  # no messages
        assert bad.status_code == 400
        ids.append(bad.headers["x-request-id"])
    return ids


def test_every_request_served_or_refused_is_one_row_with_what_happened_and_never_the_prompt(backends, make_gateway):
    gateway = make_gateway(backends)
    ids = chat_everywhere(gateway)
    assert wait_until(lambda: requests_counted(gateway, 4), 10)

    rows = {row["request_id"]: row for row in db_rows(gateway.settings.state_dir)}
    assert set(ids) <= set(rows)
    openai, anthropic, ollama, bad = (rows[i] for i in ids)
    assert (openai["surface"], anthropic["surface"], ollama["surface"]) == ("openai.chat", "anthropic", "ollama.chat")
    for row in (openai, anthropic, ollama):
        assert row["status"] == 200 and row["key"] == "local"
        assert row["requested_model"] == "llama3.2:latest" and row["model"] and row["host"]
        assert row["tokens_in"] > 0 and row["tokens_out"] > 0
        assert row["duration_ms"] > 0 and row["bytes_in"] > 0 and row["bytes_out"] > 0
    assert bad["status"] == 400 and bad["error"] == "invalid_request_error" and bad["model"] is None
    database = (gateway.settings.state_dir / "atmosphere.db").read_bytes()
    wal = gateway.settings.state_dir / "atmosphere.db-wal"
    assert SECRET_PROMPT.encode() not in database + (wal.read_bytes() if wal.exists() else b"")

    report = usage(gateway, group_by="host").json()
    assert report["recording"] == {"ok": True, "dropped": 0, "reason": None}
    assert {point["group"] for point in report["series"]} >= {openai["host"], "(none)"}
    assert report["top"]["keys"] == [{"name": "local", "requests": 4, "tokens": report["top"]["keys"][0]["tokens"]}]
    [hour] = report["latency"]
    assert hour["p50_ms"] is not None and hour["error_rate"] == 0.25


def test_the_history_is_still_there_after_a_restart(backends, make_gateway):
    gateway = make_gateway(backends)
    chat_everywhere(gateway)
    gateway.restart()  # a clean stop writes the last batch
    answer = usage(gateway, group_by="model")
    assert answer.status_code == 200
    assert sum(point["requests"] for point in answer.json()["series"]) == 4
    assert [entry["name"] for entry in answer.json()["top"]["models"]][0] != "(none)"


def _immutable(directory: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", "+i", str(directory)], capture_output=True).returncode == 0


@pytest.fixture
def unwritable_state(tmp_path: Path) -> Iterator[Path]:
    """A state directory nobody, root included, may write into (chattr +i)."""
    state = tmp_path / "state"
    state.mkdir()
    if not _immutable(state):
        pytest.skip("chattr +i is not available here")
    try:
        yield state
    finally:
        subprocess.run(["chattr", "-i", str(state)], capture_output=True)


def test_an_unwritable_state_directory_serves_every_request_and_says_usage_is_not_recorded(
    backends, make_gateway, unwritable_state, caplog
):
    caplog.set_level("WARNING", logger="atmosphere.store")
    gateway = make_gateway(backends)  # its state directory is the unwritable one
    assert gateway.settings.state_dir == unwritable_state
    chat_everywhere(gateway)  # each one 200 (the bad one its 400)

    answer = usage(gateway)
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "usage_not_recorded"
    assert "cannot be opened" in answer.json()["error"]["message"]
    with gateway.client() as client:
        health = client.get("/health").json()
    assert health["usage"]["ok"] is False and health["usage"]["reason"]
    assert health["usage"]["dropped"] == 4
    warnings = [r.getMessage() for r in caplog.records if r.name == "atmosphere.store"]
    assert len(warnings) == 1 and warnings[0].startswith("usage not recorded: "), warnings


def _set_immutable(paths: list[Path], on: bool) -> None:
    for path in paths:
        subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True, check=on)


def test_a_database_that_stops_taking_writes_costs_the_history_not_the_requests_and_recovers(backends, make_gateway, caplog):
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not available here")
    caplog.set_level("WARNING", logger="atmosphere.store")
    gateway = make_gateway(backends)
    chat_everywhere(gateway)
    assert wait_until(lambda: requests_counted(gateway, 4), 10)
    state = gateway.settings.state_dir
    files = [state / "atmosphere.db", state / "atmosphere.db-wal"]
    _set_immutable(files, True)
    try:
        chat_everywhere(gateway)  # still served
        assert wait_until(lambda: not usage(gateway).json()["recording"]["ok"], 10)
        recording = usage(gateway).json()["recording"]
        assert recording["dropped"] >= 1 and recording["reason"]
    finally:
        _set_immutable(files, False)
    chat_everywhere(gateway)
    assert wait_until(lambda: usage(gateway).json()["recording"]["ok"], 10), usage(gateway).json()["recording"]
    messages = [r.getMessage() for r in caplog.records if r.name == "atmosphere.store" and "usage" in r.getMessage()]
    assert messages[0].startswith("usage not recorded: ") and messages[-1].startswith("usage recorded again"), messages


def test_with_recording_off_requests_leave_no_rows_and_the_report_says_so(backends, make_gateway):
    gateway = make_gateway(backends, record_usage=False)
    chat_everywhere(gateway)
    answer = usage(gateway)
    assert answer.status_code == 200 and answer.json()["series"] == []
    assert answer.json()["recording"] == {"ok": False, "dropped": 0, "reason": "recording is off (ATMOSPHERE_RECORD_USAGE=false)"}
    assert db_rows(gateway.settings.state_dir) == []


# --- the writer and the report, on a database of their own ------------------------------


def _context(**fields: Any) -> RequestContext:
    context = RequestContext(fields.pop("id", "req_1"), fields.pop("surface", "openai.chat"), None, None)
    context.wall = fields.pop("wall", time.time())
    context.key = fields.pop("key", "local")
    if fields:
        context.entry = RequestEntry(
            id=context.id,
            time=context.wall,
            surface=context.surface,
            requested_model=fields.get("model"),
            backend=fields.get("host"),
            model=fields.get("model"),
            substituted=False,
            attempts=[],
            status=200,
            outcome="ok",
            added_ms=None,
            upstream_ms=None,
            ttft_ms=None,
            tokens_in=fields.get("tokens_in"),
            tokens_out=fields.get("tokens_out"),
            stream=False,
            client=None,
        )
    return context


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The settings that choose an engine: SQLite in the state directory, or a PostgreSQL database of its own."""
    return {"database_url": request.getfixturevalue("postgres_database")} if request.param == "postgres" else {}


async def _store(tmp_path: Path, **overrides: Any) -> Store:
    store = Store(Settings(state_dir=tmp_path, **overrides))
    await store.open()
    assert store.available
    return store


async def test_the_report_groups_requests_and_tokens_by_hour_and_key_with_percentiles(tmp_path, engine):
    store = await _store(tmp_path, **engine)
    hour = 3_600_000
    base = (int(time.time() * 1000) // hour - 3) * hour
    for minute, key, tokens, ms, status in (
        (1, "alice", 10, 100.0, 200),
        (2, "alice", 20, 100.0, 200),
        (3, "bob", 5, 1000.0, 429),
        (61, "bob", 7, 100.0, 200),
    ):
        context = _context(wall=(base + minute * 60_000) / 1000, key=key, model="m", host="h", tokens_in=tokens, tokens_out=1)
        store.usage.record(context, status, 10, 20, ms)
    await store.usage.flush()
    assert store.engine is not None
    report = await usage_report(store.engine, UsageQuery(base, base + 4 * hour, "hour", "key"))
    await store.close()

    first, second = (base, base + hour)
    assert [(p["t"], p["group"], p["requests"], p["tokens_in"], p["errors"]) for p in report["series"]] == [
        (_iso(first), "alice", 2, 30, 0),
        (_iso(first), "bob", 1, 5, 1),
        (_iso(second), "bob", 1, 7, 0),
    ]
    latency = report["latency"][0]
    assert 90 <= latency["p50_ms"] <= 110 and 900 <= latency["p95_ms"] <= 1100
    assert latency["error_rate"] == round(1 / 3, 4)
    assert report["top"]["keys"] == [{"name": "alice", "requests": 2, "tokens": 32}, {"name": "bob", "requests": 2, "tokens": 14}]


async def test_the_hourly_sums_agree_with_the_rows_by_the_hour_and_by_the_day(tmp_path, engine):
    store = await _store(tmp_path, **engine)
    day = 86_400_000
    today = int(time.time() * 1000) // day * day
    for n in range(40):  # two days, three keys, two hosts, one error in ten
        wall = (today - day + n * 3_600_000 + 1000) / 1000
        context = _context(wall=wall, key=f"k{n % 3}", model="m", host=f"h{n % 2}", tokens_in=n, tokens_out=1)
        store.usage.record(context, 500 if n % 10 == 0 else 200, 10, 20, 10.0 * (n + 1))
    await store.usage.flush()
    assert store.engine is not None
    span = UsageQuery(today - day, today + day, "day", "key")
    by_day = await usage_report(store.engine, span)
    by_hour = await usage_report(store.engine, UsageQuery(span.start_ms, span.end_ms, "hour", "key"))
    errors = sa.func.sum(sa.case((usage_table.c.status >= 400, 1), else_=0))
    per_key = sa.select(usage_table.c.key, sa.func.count(), sa.func.sum(usage_table.c.tokens_in), errors).group_by(
        usage_table.c.key
    )
    async with store.engine.connect() as connection:  # what the rows themselves say
        from_rows = {key: (int(n), int(tokens), int(e)) for key, n, tokens, e in (await connection.execute(per_key)).all()}
    await store.close()

    def totals(report: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
        found: dict[str, tuple[int, int, int]] = {}
        for point in report["series"]:
            requests, tokens, errors = found.get(point["group"], (0, 0, 0))
            found[point["group"]] = (requests + point["requests"], tokens + point["tokens_in"], errors + point["errors"])
        return found

    assert totals(by_day) == totals(by_hour) == from_rows and sum(r for r, _, _ in from_rows.values()) == 40
    assert [point["t"] for point in by_day["latency"]] == [_iso(today - day), _iso(today)]
    assert sum(point["errors"] for point in by_day["series"]) == 4
    assert by_day["top"] == by_hour["top"]


async def test_a_database_from_before_the_hourly_sums_gets_them_filled_from_its_rows(tmp_path):
    from atmosphere.store import migrations, rollup

    store = Store(Settings(state_dir=tmp_path))
    engine = make_engine(store.url)
    async with engine.begin() as connection:  # the schema as the first two steps left it, with rows in it
        await connection.run_sync(lambda c: schema_version.create(c))
        for step in STEPS[:2]:
            await connection.run_sync(step.apply)
            await connection.execute(sa.insert(schema_version).values(version=step.version, name=step.name, applied_at=0.0))
        now = int(time.time() * 1000)
        await connection.execute(
            sa.insert(usage_table),
            [dict(ts_ms=now, request_id=f"r{n}", key="old", surface="openai.chat", status=200, tokens_in=2) for n in range(3)],
        )
    assert await migrations.migrate(engine) == STEPS[-1].version
    async with engine.connect() as connection:
        [row] = (await connection.execute(sa.select(rollup.usage_hourly))).all()
    await engine.dispose()
    assert (row.key, row.model, row.host, row.requests, row.tokens_in) == ("old", "(none)", "(none)", 3, 6)


def _iso(ms: int) -> str:
    from atmosphere.store.report import iso

    return iso(ms)


async def test_a_full_queue_drops_and_counts_instead_of_waiting():
    writer = UsageWriter(capacity=3, retention_days=30, max_rows=1000)
    for _ in range(5):
        writer.record(_context(), 200, None, 0, 1.0)
    assert writer.dropped == 2
    assert writer.status() == {"ok": True, "dropped": 2, "reason": None}


async def test_retention_removes_rows_past_their_age_and_past_the_row_cap(tmp_path, engine):
    store = await _store(tmp_path, usage_retention_days=1, usage_max_rows=1000, **engine)
    now = int(time.time() * 1000)
    old = _context(id="req_old", wall=(now - 2 * 86_400_000) / 1000)
    store.usage.record(old, 200, None, 0, 1.0)
    for n in range(1005):
        store.usage.record(_context(id=f"req_{n}", wall=now / 1000), 200, None, 0, 1.0)
    await store.usage.flush()
    await store.usage.apply_retention(now)
    assert store.engine is not None
    async with store.engine.connect() as connection:
        ids = list((await connection.execute(sa.select(usage_table.c.request_id).order_by(usage_table.c.id))).scalars())
    await store.close()
    assert len(ids) == 1000 and "req_old" not in ids and ids[0] == "req_5"


async def test_migrations_run_once_and_a_second_start_finds_the_schema_current(tmp_path):
    store = await _store(tmp_path)
    await store.close()
    engine = make_engine(store.url)
    try:
        assert await migrate(engine) == STEPS[-1].version
    finally:
        await engine.dispose()
    connection = sqlite3.connect(tmp_path / "atmosphere.db")
    try:
        versions = [row[0] for row in connection.execute("SELECT version FROM schema_version ORDER BY version")]
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        connection.close()
    assert versions == [step.version for step in STEPS]
    assert mode == "wal"


def test_the_writer_lets_the_event_loop_run_between_and_during_its_writes(tmp_path):
    """Another task keeps running while 20,000 rows are written: each batch's INSERT is awaited
    (aiosqlite's thread does the work), so requests are served meanwhile."""

    async def scenario() -> tuple[int, int]:
        store = await _store(tmp_path, usage_queue=50_000)
        for n in range(20_000):
            store.usage.record(_context(id=f"req_{n}"), 200, None, 0, 1.0)
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0)
                ticks += 1

        ticker = asyncio.create_task(tick())
        await store.usage.flush()
        ticker.cancel()
        await store.close()
        return ticks, store.usage.written

    ticks, written = asyncio.run(scenario())
    assert written == 20_000
    assert ticks >= 20_000 // 500, "the loop did not run between the batches"


async def test_under_steady_requests_a_flush_writes_what_was_waiting_in_one_write_not_one_per_few_rows(tmp_path):
    """Requests keep finishing while a batch is written: those wait for the next flush. A flush that
    took them too never ended under load, and wrote a transaction for every few requests."""
    store = await _store(tmp_path)
    await store.close()  # the schema; the writer here is this test's alone
    writer = UsageWriter(capacity=10_000, retention_days=30, max_rows=10**6, batch=100_000, interval=3600)  # no flush but ours
    engine = make_engine(store.url)
    writer.start(engine)
    for n in range(300):
        writer.record(_context(id=f"req_{n}"), 200, None, 0, 1.0)
    flush = asyncio.ensure_future(writer.flush())
    await asyncio.sleep(0)  # the flush has taken what was waiting
    arrived = 0
    while not flush.done() and arrived < 5_000:  # a request finishing at every turn of the loop
        writer.record(_context(id=f"new_{arrived}"), 200, None, 0, 1.0)
        arrived += 1
        await asyncio.sleep(0)
    await flush
    assert (writer.writes, writer.written) == (1, 300)
    assert writer.queued == arrived > 0  # the next flush's
    await writer.close()
    await engine.dispose()
    assert writer.written == 300 + arrived
