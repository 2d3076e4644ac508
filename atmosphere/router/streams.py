"""Time limits on upstream work, in one place: what a backend may keep a request waiting for.

- A stream is committed at its first *content* chunk (text, reasoning, a tool call or a
  finish), which must come within ``first_token_timeout``; until then a failure, a
  timeout or an endless run of empty deltas still falls back. Empty chunks before it are
  not kept (only the role they announce), so they cost no memory however many come.
- Once committed, ``idle_timeout`` is the longest gap between content chunks; empty
  deltas and keep-alives in between are dropped and do not count as progress.
- ``OfflineWatch`` releases work waiting on a backend the monitor has just marked
  offline, so it moves to the next backend at once instead of waiting out its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from atmosphere.domain import ChatChunk
from atmosphere.errors import BackendFailure
from atmosphere.state.registry import Registry


@dataclass(slots=True)
class Progress:
    """Which backend a request is waiting on now, for a face that keeps its client company."""

    backend: str | None = None


_UNPACED = 86_400.0  # the idle limit of a stream nothing paced: a day

PROGRESS: ContextVar[Progress | None] = ContextVar("atmosphere_progress", default=None)


def attempting(backend: str) -> None:
    """Record the backend being tried (read by ``api.waiting`` for its keep-alive lines)."""
    progress = PROGRESS.get()
    if progress is not None:
        progress.backend = backend


@dataclass(frozen=True, slots=True)
class StreamLimits:
    first_token_timeout: float = 120.0
    idle_timeout: float = 60.0
    # Empty chunks tolerated before the first content: a backend that sends nothing else
    # is babbling, and fails over long before the first-token timeout.
    max_empty_before_content: int = 10_000


@dataclass(slots=True)
class StartedStream:
    """A stream whose first content chunk has already arrived, so the backend is committed."""

    first: ChatChunk
    rest: AsyncIterator[ChatChunk]  # paced (the idle limit), not yet started
    upstream: AsyncIterator[ChatChunk] | None = None  # what ``rest`` paces, for ``watched``
    idle_timeout: float = 0.0

    def watched(self, watcher: StreamWatcher) -> None:
        """``rest`` paced as before, ``watcher`` told of each chunk and of the end, in one pass."""
        if self.upstream is None:  # made by hand, not by ``start_stream``: nothing paces it
            self.rest = committed(self.rest, _UNPACED, watcher)
        else:
            self.rest, self.upstream = committed(self.upstream, self.idle_timeout, watcher), None


async def start_stream(stream: AsyncIterator[ChatChunk], limits: StreamLimits) -> StartedStream:
    """Wait for the first content chunk: until it arrives, a failure can still fall back."""
    iterator = aiter(stream)
    role: str | None = None
    empty = 0
    last: ChatChunk | None = None
    try:
        async with asyncio.timeout(limits.first_token_timeout):
            while True:
                chunk = await anext(iterator)
                if chunk.has_content:
                    break
                if chunk.usage is not None:  # a usage report with no answer before it
                    last = chunk
                    continue
                role = role or chunk.role
                last = chunk
                empty += 1
                if empty > limits.max_empty_before_content:
                    raise BackendFailure(f"sent {empty - 1} empty chunks and no content", kind="error")
    except StopAsyncIteration:
        await close_quietly(iterator)
        if last is None:
            raise BackendFailure("stream ended before its first chunk", kind="error") from None
        last.role = last.role or role
        nothing = _nothing()
        return StartedStream(last, nothing, nothing, limits.idle_timeout)  # an answer with no content at all: as it came
    except TimeoutError:
        await close_quietly(iterator)
        raise BackendFailure(
            f"no content within the first-token timeout ({limits.first_token_timeout:g}s)", kind="timeout"
        ) from None
    except BaseException:
        await close_quietly(iterator)
        raise
    if role and not chunk.role:
        chunk.role = role
    return StartedStream(chunk, paced(iterator, limits.idle_timeout), iterator, limits.idle_timeout)


def paced(iterator: AsyncIterator[ChatChunk], idle_timeout: float) -> AsyncIterator[ChatChunk]:
    """The rest of a committed stream: content and usage chunks, each within ``idle_timeout``
    of the last content; empty deltas are dropped and do not reset the clock."""
    return committed(iterator, idle_timeout, None)


class StreamWatcher(Protocol):
    """What a committed stream tells the one who committed to it (``Executor._served``)."""

    def chunk(self, chunk: ChatChunk) -> None: ...  # each chunk passed on, before it is
    def ended(self, error: BaseException | None) -> None: ...  # once: done (None), failed or abandoned


async def committed(
    iterator: AsyncIterator[ChatChunk], idle_timeout: float, watcher: StreamWatcher | None
) -> AsyncIterator[ChatChunk]:
    """``paced``, and the watcher told of each chunk and of the end, in one pass.

    A stream's chunks went through three generators (the idle limit, the breaker's verdict,
    the recorder's count) and an ``asyncio.timeout_at`` each (~10 % of a quick stream's CPU,
    bench/NOTES.md); here one generator and one ``IdleTimer`` for the whole stream do it."""
    timer = IdleTimer(idle_timeout)
    error: BaseException | None = None
    try:
        while True:
            task = timer.waiting()
            try:
                chunk = await anext(iterator)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if timer.expired(task):
                    raise BackendFailure(f"no new content for {idle_timeout:g}s (stream idle timeout)", kind="timeout") from None
                raise
            finally:
                timer.task = None
            if chunk.has_content:
                timer.progress()
            elif chunk.usage is None:
                continue
            if watcher is not None:
                watcher.chunk(chunk)
            yield chunk
    except BaseException as exc:
        error = exc
        raise
    finally:
        timer.cancel()
        await close_quietly(iterator)
        if watcher is not None:
            watcher.ended(error)


class IdleTimer:
    """One timer per stream for its idle limit, moved lazily: progress only moves the
    deadline, and the timer, when it comes due early, sets itself again for the new one.

    It cancels the task waiting for the next chunk, as ``asyncio.timeout_at`` does, and only
    while one waits (``waiting`` .. ``task = None``): a deadline that passes while the
    consumer is busy ends the next wait that has to wait."""

    __slots__ = ("_loop", "_timeout", "deadline", "_handle", "task", "_cancelling", "_fired")

    def __init__(self, timeout: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._timeout = timeout
        self.deadline = self._loop.time() + timeout
        self._handle: asyncio.Handle | None = self._loop.call_at(self.deadline, self._due)
        self.task: asyncio.Task[Any] | None = None
        self._cancelling = 0
        self._fired = False

    def waiting(self) -> asyncio.Task[Any] | None:
        """The wait for the next chunk begins (in the task that reads it); returns that task."""
        task = self.task = asyncio.current_task()
        if task is not None:
            self._cancelling = task.cancelling()
        if self._handle is None:  # overdue: like timeout_at entered late, fire at the first suspension
            self._handle = self._loop.call_soon(self._due)
        return task

    def progress(self) -> None:
        self.deadline = self._loop.time() + self._timeout
        if self._handle is None:
            self._handle = self._loop.call_at(self.deadline, self._due)

    def _due(self) -> None:
        if self._loop.time() < self.deadline:
            self._handle = self._loop.call_at(self.deadline, self._due)
            return
        self._handle = None
        if self.task is not None and not self._fired:
            self._fired = True
            self.task.cancel()

    def expired(self, task: asyncio.Task[Any] | None) -> bool:
        """Whether a cancellation of ``task`` was ours alone (then it is taken back)."""
        if not self._fired:
            return False
        self._fired = False
        return task is not None and task.uncancel() <= self._cancelling

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


async def _nothing() -> AsyncIterator[ChatChunk]:
    return
    yield  # pragma: no cover - makes this an async generator


async def close_quietly(iterator: AsyncIterator[Any]) -> None:
    """Close an upstream stream (so its connection goes back or is dropped) when it has an
    ``aclose``; closing a broken stream may fail again, and its reason is already known."""
    closer = getattr(iterator, "aclose", None)
    if closer is not None:
        with contextlib.suppress(Exception):
            await closer()


class OfflineWatch:
    """Cancels work waiting on a backend as soon as the monitor reports it offline.

    Use ``async with watch.released(backend_id):`` around a call that has sent nothing to
    the client yet; when the backend goes offline meanwhile, the call is cancelled and a
    retryable ``BackendFailure`` leaves the block (the pattern of ``asyncio.timeout``: a
    cancellation of our own becomes an error, anyone else's stays a cancellation).
    """

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._waiting: dict[str, set[_Released]] = {}
        registry.add_listener(self)

    def released(self, backend_id: str) -> _Released:
        return _Released(self, backend_id)

    def host_changed(self, host_id: str) -> None:
        waiting = self._waiting.get(host_id)
        result = self._registry.result(host_id)
        if not waiting or result is None or result.status != "offline":
            return
        for scope in list(waiting):
            scope.fire(result.error or "offline")

    def hosts_changed(self) -> None:
        pass  # a removed host's calls end on their own (its client is closed)


class _Released:
    def __init__(self, watch: OfflineWatch, backend_id: str) -> None:
        self._watch = watch
        self._backend = backend_id
        self._task: asyncio.Task[Any] | None = None
        self._reason: str | None = None

    def fire(self, reason: str) -> None:
        if self._task is not None and self._reason is None:
            self._reason = reason
            self._task.cancel()

    async def __aenter__(self) -> _Released:
        self._task = asyncio.current_task()
        self._watch._waiting.setdefault(self._backend, set()).add(self)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        waiting = self._watch._waiting.get(self._backend)
        if waiting is not None:
            waiting.discard(self)
            if not waiting:
                del self._watch._waiting[self._backend]
        if self._reason is not None and exc_type is asyncio.CancelledError and self._task is not None:
            if self._task.uncancel() == 0:
                raise BackendFailure(f"went offline while we waited ({self._reason})", kind="unreachable") from None
