"""GET /v1/requests read from the usage history: the requests a user filters for (key, model, host,
surface, status, a time range), paged newest first so a walk sees every row once even while new
ones arrive, exported as CSV that matches the JSON, still there after a restart. On the SQLite
file in the state directory and on a real PostgreSQL server. Plain GET /v1/requests stays the
live log the dashboard reads."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from conftest import Gateway
from sqlalchemy.engine import URL, make_url

from atmosphere.api.admin import requests as request_history
from atmosphere.store.engine import DEFAULT_FILE, make_engine
from atmosphere.store.migrations import migrate
from atmosphere.store.schema import usage as usage_table
from harness.polling import wait_until

# Two days ago, on the hour: inside the retention window, so the gateway keeps every seeded row.
BASE_MS = (int(time.time()) // 3600 - 48) * 3_600_000
KEYS = ("alice", "bob", "indexer")
HOSTS = ("ollama", "llamafarm", None)
SURFACES = ("openai.chat", "anthropic", "ollama.chat")
MODELS = (("llama3.2", "llama3.2:latest"), ("qwen3", "qwen3:8b"), ("gpt-4o", None))
STATUSES = (200, 200, 429, 404, 500, 200, 403)
ROWS = 61


def seeded_row(i: int) -> dict[str, Any]:
    requested, served = MODELS[i % 3]
    status = STATUSES[i % len(STATUSES)]
    return {
        "ts_ms": BASE_MS + (i // 2) * 1000,  # pairs share a millisecond: the cursor must tell them apart
        "request_id": f"req-{i:03d}",
        "key": KEYS[i % 3],
        "surface": SURFACES[(i // 3) % 3],
        "requested_model": requested,
        "model": served if status == 200 else None,
        "host": HOSTS[(i // 2) % 3] if status == 200 else None,
        "substituted": i % 5 == 0,
        "tokens_in": 10 + i if status == 200 else None,
        "tokens_out": 2 * i if status == 200 else None,
        "estimated": i % 4 == 0,
        "ttft_ms": 12.5 + i if status == 200 else None,
        "duration_ms": 100.25 + i,
        "status": status,
        "error": None if status == 200 else f"e{status}",
        "stream": i % 2 == 1,
        "bytes_in": 300 + i,
        "bytes_out": 900 + i,
        "replica": "r1",
    }


SEEDED = [seeded_row(i) for i in range(ROWS)]


@dataclass
class Database:
    """Where a test's history lives: the URL the gateway is given (None: its SQLite file)."""

    gateway_url: str | None
    engine_url: URL

    def run(self, work: Any) -> Any:
        async def go() -> Any:
            engine = make_engine(self.engine_url)
            try:
                await migrate(engine)
                async with engine.begin() as connection:
                    return await work(connection)
            finally:
                await engine.dispose()

        return asyncio.run(go())

    def insert(self, rows: list[dict[str, Any]]) -> None:
        async def work(connection: Any) -> None:
            await connection.execute(sa.insert(usage_table), rows)

        self.run(work)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        # make_gateway's state directory, so the gateway opens this very file
        return Database(None, URL.create("sqlite+aiosqlite", database=str(tmp_path / "state" / DEFAULT_FILE)))
    url = request.getfixturevalue("postgres_database")
    return Database(url, make_url(url).set(drivername="postgresql+asyncpg"))


@pytest.fixture
def history_gateway(database, backends, make_gateway) -> Iterator[Gateway]:
    """A gateway over a history already holding the SEEDED requests (its database outlives it)."""
    database.insert(SEEDED)
    overrides = {"database_url": database.gateway_url} if database.gateway_url else {}
    yield make_gateway(backends, **overrides)


def history(gateway: Gateway, **params: Any) -> httpx.Response:
    with gateway.client() as client:
        return client.get("/v1/requests", params=params)


def ids(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["object"] == "list" and body["source"] == "history"
    return [row["request_id"] for row in body["data"]]


def expected(match: Any) -> list[str]:
    """The seeded request ids a filter should keep, newest first."""
    chosen = [(row["ts_ms"], i, row["request_id"]) for i, row in enumerate(SEEDED) if match(row)]
    return [request_id for _, _, request_id in sorted(chosen, reverse=True)]


def rfc3339(seconds: int, zone: timezone) -> str:
    """BASE_MS plus ``seconds`` in RFC 3339, in ``zone``: ``...T20:00:20Z`` or ``...T22:00:20+02:00``."""
    return datetime.fromtimestamp(BASE_MS / 1000 + seconds, zone).isoformat().replace("+00:00", "Z")


def test_each_filter_narrows_the_history_to_the_requests_a_user_means(history_gateway):
    def at(i: int) -> str:
        return str((BASE_MS + i * 1000) / 1000)  # epoch seconds

    cases = [
        ({"key": "bob"}, lambda r: r["key"] == "bob"),
        # model (and limit) alone are the live log's filters too: source=history asks the history
        ({"model": "llama3.2", "source": "history"}, lambda r: r["requested_model"] == "llama3.2"),  # asked for
        ({"model": "qwen3:8b", "source": "history"}, lambda r: r["model"] == "qwen3:8b"),  # or what served it
        ({"host": "llamafarm"}, lambda r: r["host"] == "llamafarm"),
        ({"surface": "anthropic"}, lambda r: r["surface"] == "anthropic"),
        ({"status": "404"}, lambda r: r["status"] == 404),
        ({"status": "4xx"}, lambda r: 400 <= r["status"] < 500),
        ({"status": "2xx", "key": "indexer"}, lambda r: r["status"] == 200 and r["key"] == "indexer"),
        ({"since": at(10), "until": at(20)}, lambda r: BASE_MS + 10_000 <= r["ts_ms"] < BASE_MS + 20_000),
        ({"since": rfc3339(20, UTC)}, lambda r: r["ts_ms"] >= BASE_MS + 20_000),  # RFC 3339
        ({"until": rfc3339(20, timezone(timedelta(hours=2)))}, lambda r: r["ts_ms"] < BASE_MS + 20_000),  # an offset
        ({"key": "nobody"}, lambda r: False),
    ]
    for params, match in cases:
        want = expected(match)
        assert want or params == {"key": "nobody"}, params  # a filter that keeps nothing proves nothing
        assert len(want) < ROWS, params
        assert ids(history(history_gateway, limit=1000, **params)) == want, params


def test_a_history_row_says_what_happened_and_when(history_gateway):
    [row] = history(history_gateway, key="alice", status="2xx", limit=1).json()["data"]
    newest = next(r for r in reversed(SEEDED) if r["key"] == "alice" and r["status"] == 200)
    assert row["request_id"] == newest["request_id"]
    assert row["time"] == datetime.fromtimestamp(newest["ts_ms"] / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
    for name in ("surface", "requested_model", "model", "host", "substituted", "tokens_in", "tokens_out", "status", "stream"):
        assert row[name] == newest[name], name
    assert row["duration_ms"] == pytest.approx(newest["duration_ms"])
    assert "ts_ms" not in row and "id" not in row


def test_paging_walks_every_row_once_newest_first_even_while_new_requests_arrive(history_gateway, database):
    seen: list[str] = []
    times: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {"source": "history"})}
        body = history(history_gateway, **params).json()
        seen += [row["request_id"] for row in body["data"]]
        times += [row["time"] for row in body["data"]]
        cursor = body["next_cursor"]
        pages += 1
        if pages == 2:  # requests keep arriving while someone pages
            database.insert([{**seeded_row(ROWS + n), "request_id": f"new-{n}", "ts_ms": BASE_MS + 10**7 + n} for n in range(5)])
        if cursor is None:
            break
    assert seen == expected(lambda r: True)  # every seeded row exactly once, none of the new ones
    assert times == sorted(times, reverse=True)
    assert pages == -(-ROWS // 7)
    assert ids(history(history_gateway, limit=5, source="history")) == [f"new-{n}" for n in range(4, -1, -1)]


def _as_csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_the_csv_export_downloads_every_matching_row_and_matches_the_json(history_gateway, monkeypatch):
    monkeypatch.setattr(request_history, "_EXPORT_PAGE", 4)  # so the export is streamed in several pages
    answer = history(history_gateway, format="csv", status="2xx")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == 'attachment; filename="atmosphere-requests.csv"'
    table = list(csv.reader(io.StringIO(answer.text)))
    assert table[0] == list(request_history.COLUMNS)
    json_rows = history(history_gateway, format="json", status="2xx", limit=1000).json()["data"]
    assert len(json_rows) == len(expected(lambda r: r["status"] == 200)) > 4
    assert table[1:] == [[_as_csv_cell(row[name]) for name in request_history.COLUMNS] for row in json_rows]


def test_an_export_of_nothing_is_the_header_row_alone(history_gateway):
    answer = history(history_gateway, format="csv", key="nobody")
    assert answer.status_code == 200
    assert list(csv.reader(io.StringIO(answer.text))) == [list(request_history.COLUMNS)]


@pytest.mark.parametrize(
    "params, named",
    [
        ({"status": "4x"}, "status"),
        ({"status": "700"}, "status"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-05-28T20:27:00"}, "until"),  # no time zone
        ({"since": "200", "until": "100"}, "since"),
        ({"key": "bob", "limit": "0"}, "limit"),
        ({"key": "bob", "limit": "1001"}, "limit"),
        ({"key": "bob", "limit": "many"}, "limit"),
        ({"cursor": "not a cursor!"}, "cursor"),
        ({"format": "xml"}, "format"),
        ({"source": "elsewhere", "key": "bob"}, "source"),
    ],
)
def test_a_bad_parameter_is_refused_naming_it(backends, make_gateway, params, named):
    gateway = make_gateway(backends)
    answer = history(gateway, **params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == named


def chat_body(content: str) -> dict[str, Any]:
    return {"model": "llama3.2:latest", "messages": [{"role": "user", "content": content}]}


def test_plain_requests_is_still_the_live_log_the_dashboard_reads(backends, make_gateway):
    gateway = make_gateway(backends)
    with gateway.client() as client:
        chat = client.post("/v1/chat/completions", json=chat_body("hi"))
        live = client.get("/v1/requests", params={"limit": 500, "model": "llama3.2:latest"})
    assert live.status_code == 200
    assert set(live.json()) == {"requests"}
    [entry] = live.json()["requests"]
    assert entry["id"] == chat.headers["x-request-id"] and "attempts" in entry


def test_without_a_history_the_answer_is_503_usage_not_recorded_and_the_live_log_still_works(backends, make_gateway):
    gateway = make_gateway(backends, database_url="postgresql://atmosphere@127.0.0.1:9/none")  # nothing listens
    answer = history(gateway, key="bob")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "usage_not_recorded"
    assert history(gateway).status_code == 200


def test_the_history_asks_for_the_admin_key_when_one_is_set(backends, make_gateway):
    gateway = make_gateway(backends, api_key="admin-secret-1234567890")
    assert history(gateway, source="history").status_code == 401
    with gateway.client(headers={"Authorization": "Bearer admin-secret-1234567890"}) as client:
        assert client.get("/v1/requests", params={"source": "history"}).status_code == 200


def test_requests_served_before_a_restart_are_still_listed_after_it(database, backends, make_gateway):
    overrides = {"database_url": database.gateway_url} if database.gateway_url else {}
    gateway = make_gateway(backends, **overrides)
    served = []
    with gateway.client() as client:
        for content in ("one", "two", "three"):
            answer = client.post("/v1/chat/completions", json=chat_body(content))
            assert answer.status_code == 200, answer.text
            served.append(answer.headers["x-request-id"])
    gateway.restart()  # a fresh app: the live log is empty, the history is not
    with gateway.client() as client:
        assert client.get("/v1/requests").json()["requests"] == []
    assert wait_until(lambda: len(ids(history(gateway, surface="openai.chat"))) >= 3, 10)
    listed = history(gateway, surface="openai.chat", model="llama3.2:latest").json()["data"]
    assert [row["request_id"] for row in listed] == served[::-1]
    assert all(row["status"] == 200 and row["key"] == "local" and row["host"] for row in listed)
