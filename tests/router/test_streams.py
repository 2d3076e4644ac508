"""A committed stream's idle limit (``streams.committed``, one timer per stream): a backend
that goes quiet mid-answer is cut at the limit, steady progress never is, a slow client is
never interrupted outside the wait for the backend, and the end is told exactly once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from atmosphere.domain import ChatChunk, Usage
from atmosphere.errors import BackendFailure
from atmosphere.router.streams import committed


def _chunk(content: str = "", usage: Usage | None = None) -> ChatChunk:
    return ChatChunk("c", 1, "m", content=content, usage=usage)


class _Watcher:
    def __init__(self) -> None:
        self.seen: list[ChatChunk] = []
        self.ends: list[BaseException | None] = []

    def chunk(self, chunk: ChatChunk) -> None:
        self.seen.append(chunk)

    def ended(self, error: BaseException | None) -> None:
        self.ends.append(error)


async def test_a_backend_that_goes_quiet_mid_answer_is_cut_at_the_idle_limit() -> None:
    async def quiet() -> AsyncIterator[ChatChunk]:
        yield _chunk("Hel")
        await asyncio.sleep(30)
        yield _chunk("lo")

    watcher = _Watcher()
    started = time.monotonic()
    got = []
    with pytest.raises(BackendFailure, match="stream idle timeout") as failure:
        async for chunk in committed(quiet(), 0.2, watcher):
            got.append(chunk.content)
    assert 0.15 < time.monotonic() - started < 2.0
    assert failure.value.kind == "timeout"
    assert got == ["Hel"]
    assert watcher.ends == [failure.value]


async def test_empty_deltas_are_not_progress_but_steady_content_is() -> None:
    async def babbling() -> AsyncIterator[ChatChunk]:
        yield _chunk("a")
        while True:
            await asyncio.sleep(0.02)
            yield _chunk()  # an empty delta: dropped, and the clock runs on

    with pytest.raises(BackendFailure, match="stream idle timeout"):
        async for _ in committed(babbling(), 0.2, None):
            pass

    async def steady() -> AsyncIterator[ChatChunk]:
        for _ in range(12):  # 0.6 s in all, each gap well inside the limit
            await asyncio.sleep(0.05)
            yield _chunk("x")
        yield _chunk(usage=Usage(1, 12))

    watcher = _Watcher()
    got = [chunk async for chunk in committed(steady(), 0.2, watcher)]
    assert len(got) == 13 and got[-1].usage == Usage(1, 12)
    assert watcher.seen == got and watcher.ends == [None]


async def test_a_slow_client_is_not_interrupted_and_a_chunk_already_there_still_comes() -> None:
    async def ready() -> AsyncIterator[ChatChunk]:
        yield _chunk("a")
        yield _chunk("b")  # ready at once: no wait for the backend

    got = []
    async for chunk in committed(ready(), 0.1, None):
        got.append(chunk.content)
        await asyncio.sleep(0.25)  # the client is busy past the limit: this sleep is not cut
    assert got == ["a", "b"]


async def test_someone_elses_cancellation_stays_a_cancellation() -> None:
    async def hanging() -> AsyncIterator[ChatChunk]:
        yield _chunk("a")
        await asyncio.sleep(30)
        yield _chunk("b")  # pragma: no cover - never reached

    watcher = _Watcher()

    async def consume() -> None:
        async for _ in committed(hanging(), 10.0, watcher):
            pass

    task = asyncio.ensure_future(consume())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(watcher.ends) == 1 and isinstance(watcher.ends[0], asyncio.CancelledError)
