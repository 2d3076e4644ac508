"""Waiting for the upstream on the client's behalf, for every face.

Two things a face cannot do alone while the executor is still choosing a backend:

- **Notice the client leaving.** Nothing is sent yet, so nothing fails: ``until_disconnected``
  watches the connection and cancels the upstream call the moment the client goes (the
  transport then closes its socket, and the backend stops working on it).
- **Keep a slow start alive.** Cold model loads take tens of seconds before the first
  token, and clients with short read timeouts give up. ``stream_with_heartbeat`` waits
  ``ATMOSPHERE_STREAM_HEARTBEAT`` seconds; if the stream has not started by then it sends
  the response head and the face's keep-alive (an SSE comment ``: waiting for <backend>``,
  Anthropic's ``ping`` event) every few seconds while fallback goes on unseen.

  Documented consequence: before the heartbeat a request whose every backend fails gets
  its proper status (502/503/504, or 404 for an unknown model); after it the status is
  already 200, so the failure comes in-band as the face's error event and terminator,
  and the ``X-Atmosphere-Backend`` headers are not sent (the head left before the choice).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from atmosphere.api.common import served_headers
from atmosphere.api.streaming.sse import SSE_MEDIA_TYPE, STREAM_HEADERS
from atmosphere.errors import AtmosphereError, ClientClosedRequest, UpstreamError
from atmosphere.lifecycle.drain import BEFORE_START, Drain, ShuttingDown
from atmosphere.observe import context
from atmosphere.router.executor import Served, StartedStream
from atmosphere.router.streams import PROGRESS, Progress

T = TypeVar("T")
KEEPALIVE_EVERY = 5.0  # seconds between keep-alives once the head is sent
WATCH_AFTER = 0.02  # seconds before the disconnect watcher starts; a client gone sooner is noticed then


@dataclass(frozen=True, slots=True)
class StreamForm:
    """How one face frames a stream whose head left before its backend answered."""

    # given "waiting for Ollama"; None = no heartbeat (NDJSON has no comment line: wait, watching the client)
    keepalive: Callable[[str], bytes] | None
    failure: Callable[[AtmosphereError], bytes]  # the in-band error event and the terminator
    media_type: str = SSE_MEDIA_TYPE


async def until_disconnected(request: Request, work: Awaitable[T]) -> T:
    """``await work``, cancelled as soon as the client disconnects (then ``ClientClosedRequest``).

    The work runs in the request's own task, and the watcher starts only if it is still
    running after ``WATCH_AFTER``: most answers come sooner, and then cost no task at all."""
    current = asyncio.current_task()
    assert current is not None  # noqa: S101 - always called from a request's task
    watch = _Watch(request.receive, current.cancel)
    drain: Drain | None = getattr(request.app.state, "drain", None)
    stop = drain.on_stop(_shut_down(current.cancel)) if drain is not None else None
    try:
        return await work
    except asyncio.CancelledError:
        ours = int(watch.fired) + int(stop is not None and stop.fired)  # the cancels we asked for
        if ours and _uncancel(current, ours) == 0:
            if watch.fired:
                raise ClientClosedRequest("The client closed the connection before the answer.") from None
            raise ShuttingDown(BEFORE_START) from None
        raise
    finally:
        if stop is not None:
            stop.remove()
        await watch.stop()


def _shut_down(then: Callable[[], object]) -> Callable[[], None]:
    """What the drain calls to end this request before its answer: note it in the request's
    context (its log entry is a 503, not a client that left), then ``then``. The context is
    taken now: the drain calls from outside the request."""
    request_context = context.current()

    def stop() -> None:
        request_context.shutting_down = True
        then()

    return stop


def _uncancel(task: asyncio.Task[Any], times: int) -> int:
    remaining = 0
    for _ in range(times):
        remaining = task.uncancel()
    return remaining


async def stream_with_heartbeat(
    request: Request,
    starting: Awaitable[Served[StartedStream]],
    events: Callable[[Served[StartedStream]], AsyncIterator[bytes]],
    form: StreamForm,
) -> Response:
    """The response for a stream: proper errors before the heartbeat, keep-alives after it."""
    heartbeat: float = request.app.state.settings.stream_heartbeat
    progress = Progress()
    token = PROGRESS.set(progress)
    try:
        task = asyncio.ensure_future(starting)  # the task copies the context: it reports to `progress`
    finally:
        PROGRESS.reset(token)
    loop = asyncio.get_running_loop()
    left: asyncio.Future[None] = loop.create_future()
    watch = _Watch(request.receive, functools.partial(left.set_result, None))  # fires once at most
    drain: Drain | None = getattr(request.app.state, "drain", None)
    stopped: asyncio.Future[None] = loop.create_future()
    stop = drain.on_stop(_shut_down(functools.partial(stopped.set_result, None))) if drain is not None else None
    try:
        timeout = heartbeat if form.keepalive is not None else None
        waited: set[asyncio.Future[Any]] = {task, left, stopped}
        await asyncio.wait(waited, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        await _cancel(task)
        raise
    finally:
        if stop is not None:
            stop.remove()
        await watch.stop()
    if stopped.done() and not task.done():  # SIGTERM's grace is ending: nothing sent yet, say why
        await _cancel(task)
        raise ShuttingDown(BEFORE_START)

    def drained(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        return drain.guarded(body, form.failure) if drain is not None else body

    if task.done():
        served = task.result()  # a failure raises here, with its own status
        return WatchedStream(drained(events(served)), form.media_type, {**STREAM_HEADERS, **served_headers(served)})
    if watch.fired:
        await _cancel(task)
        raise ClientClosedRequest("The client closed the connection before the stream started.")
    return WatchedStream(drained(_late(task, events, form, progress)), form.media_type, STREAM_HEADERS)


async def _late(
    task: asyncio.Future[Served[StartedStream]],
    events: Callable[[Served[StartedStream]], AsyncIterator[bytes]],
    form: StreamForm,
    progress: Progress,
) -> AsyncIterator[bytes]:
    assert form.keepalive is not None  # only a form with a keep-alive sends its head early
    try:
        while True:
            yield form.keepalive(f"waiting for {progress.backend or 'an integration'}")
            done, _ = await asyncio.wait({task}, timeout=KEEPALIVE_EVERY)
            if done:
                break
        try:
            served = task.result()
        except AtmosphereError as error:
            yield form.failure(error)
            return
        except Exception as exc:  # noqa: BLE001 - the head is sent: whatever broke goes in-band
            yield form.failure(UpstreamError(f"The stream failed before it started: {type(exc).__name__}", []))
            return
        async for part in events(served):
            yield part
    finally:
        await _cancel(task)  # the client left (WatchedStream cancels us) or we are done


class WatchedStream(StreamingResponse):
    """A streamed answer, sent as its parts come, that stops when the client leaves.

    Starlette's own runs the body in a task group beside a disconnect listener: a task, a
    cancel scope and anyio's bookkeeping per stream (~14 % of a quick stream's CPU,
    bench/NOTES.md). This one sends from the request's own task and watches the client
    like ``until_disconnected`` (a timer first, a task only for a stream still open after
    ``WATCH_AFTER``); a client that leaves ends the stream quietly, as Starlette's does."""

    def __init__(self, content: AsyncIterator[bytes], media_type: str, headers: Mapping[str, str]) -> None:
        super().__init__(content, media_type=media_type, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        current = asyncio.current_task()
        assert current is not None  # noqa: S101 - always called from a request's task
        watch = _Watch(receive, current.cancel)
        try:
            await self.stream_response(send)
        except asyncio.CancelledError:
            if watch.fired and current.uncancel() == 0:
                return  # the client left: nobody to tell
            raise
        finally:
            await watch.stop()


class _Watch:
    """Calls ``on_leave`` when the client disconnects, watching from ``WATCH_AFTER`` on
    (a timer until then, not a task: a quick answer never pays for the watcher)."""

    __slots__ = ("_receive", "_on_leave", "_timer", "_task", "fired")

    def __init__(self, receive: Receive, on_leave: Callable[[], object]) -> None:
        self._receive = receive
        self._on_leave = on_leave
        self._task: asyncio.Task[None] | None = None
        self.fired = False
        self._timer = asyncio.get_running_loop().call_later(WATCH_AFTER, self._start)

    def _start(self) -> None:
        self._task = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        await _disconnected(self._receive)
        self.fired = True
        self._on_leave()

    async def stop(self) -> None:
        self._timer.cancel()
        if self._task is not None:
            await _cancel(self._task)


async def _disconnected(receive: Receive) -> None:
    """Until the client disconnects; the body has been read, so nothing else can arrive."""
    while True:
        message: MutableMapping[str, Any] = await receive()
        if message["type"] == "http.disconnect":
            return


async def _cancel(task: asyncio.Future[Any]) -> None:
    if not task.done():
        task.cancel()
    with contextlib.suppress(BaseException):
        await task
