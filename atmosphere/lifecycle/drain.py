"""SIGTERM drain for streams: every open stream ends well-formed before the process goes.

On SIGTERM uvicorn stops accepting connections at once and gives the requests in flight
``ATMOSPHERE_SHUTDOWN_GRACE`` seconds; whatever is still open then is cut, which for a
stream means a chunked body without its end and a client that cannot tell a crash from a
finished answer. So, just before the grace runs out, ``Drain`` stops every stream still
open: each sends its face's error event and terminator (``[DONE]`` for OpenAI), then ends
its body properly, and the connection closes cleanly before uvicorn would cut it.

Streams register only while they wait for the next upstream chunk; a stream that is
writing to its client is told by a flag and stops before its next wait, so the
cancellation never lands inside Starlette's own send.

A request whose answer has not started yet (no head sent: a non-streamed answer, or a
stream still waiting for its first chunk, as an Ollama stream does) is told by a hook
(``on_stop``) and answers ``ShuttingDown``, a 503 in its face's error shape (Ollama's
``{"error": "..."}``), instead of being cancelled by uvicorn with nothing sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from atmosphere.errors import AtmosphereError
from atmosphere.router.streams import close_quietly

_MARGIN_S = 0.5  # end the streams this long before uvicorn's own deadline


BEFORE_START = "The gateway is shutting down; this request was ended before its answer started."


class ShuttingDown(AtmosphereError, status=503, code="shutting_down"): ...


class StopHook:
    """Calls ``callback`` once when the drain stops (or soon, if it already has), unless
    removed first; ``fired`` after."""

    __slots__ = ("_hooks", "_callback", "_removed", "fired")

    def __init__(self, hooks: set[StopHook], callback: Callable[[], object]) -> None:
        self._hooks = hooks
        self._callback = callback
        self._removed = False
        self.fired = False

    def fire(self) -> None:
        if not self.fired and not self._removed:  # a removed hook's request has moved on: never cancel it
            self.fired = True
            self._callback()

    def remove(self) -> None:
        self._removed = True
        self._hooks.discard(self)


class Drain:
    def __init__(self) -> None:
        self.stopping = False
        self._waiting: dict[asyncio.Task[object], bool] = {}  # streams waiting for a chunk → fired
        self._hooks: set[StopHook] = set()  # requests whose answer has not started

    def begin(self, grace: float) -> None:
        """Called on SIGTERM (in the loop's thread): stop the streams near the end of ``grace``."""
        asyncio.get_running_loop().call_later(max(0.0, grace - _MARGIN_S), self._stop)

    def _stop(self) -> None:
        self.stopping = True
        for task in list(self._waiting):
            self._waiting[task] = True
            task.cancel()
        for hook in list(self._hooks):
            hook.fire()

    def on_stop(self, callback: Callable[[], object]) -> StopHook:
        """Call ``callback`` when the streams are stopped (a request still waiting for its
        answer to start); ``remove()`` the hook once the answer has started."""
        hook = StopHook(self._hooks, callback)
        if self.stopping:
            asyncio.get_running_loop().call_soon(hook.fire)
        else:
            self._hooks.add(hook)
        return hook

    async def guarded(self, parts: AsyncIterator[bytes], failure: Callable[[AtmosphereError], bytes]) -> AsyncIterator[bytes]:
        """``parts`` as they come, until the drain ends them with ``failure(ShuttingDown)``."""
        iterator = aiter(parts)
        task = asyncio.current_task()
        assert task is not None
        try:
            while not self.stopping:
                self._waiting[task] = False
                try:
                    part = await anext(iterator)
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    if self._waiting.get(task) and task.uncancel() == 0:
                        break  # our own cancellation: end the stream properly below
                    raise
                finally:
                    self._waiting.pop(task, None)
                yield part
            yield failure(ShuttingDown("The gateway is shutting down; this stream was ended before its answer finished."))
        finally:
            await close_quietly(iterator)
