"""Choosing a host among equals, and keeping each host within its concurrency.

A *pool* is the hosts of one priority that can serve a request's model (the executor
makes pools from its plan). ``rank`` orders a pool, best first:

1. the host a conversation is stuck to (same ``user`` / ``X-Atmosphere-Session``), while
   it is not saturated: its prompt cache is warm;
2. hosts with a free slot before saturated ones;
3. hosts where the model is loaded (read by the monitor, never asked per request);
4. the least busy by Atmosphere's own in-flight count;
5. round-robin among what is still tied.

A host's limit is what the host itself reports (LlamaFarm's ``optimal_concurrency``), else
the operator's ``max_inflight``, else none: by default nothing is refused that the backend
would serve (Ollama queues on its own, up to ``OLLAMA_MAX_QUEUE``), and ranking by the
in-flight count still spreads the load.

``acquire`` takes a slot on the first ranked host that has one, without awaiting. When
every host of the pool is at its limit the request joins the shortest bounded queue (512
deep by default, like Ollama's) and takes the first slot that frees on *any* host of its
pool; a full queue, or a wait past the request's deadline, is ``HostsBusy`` (503 with
``Retry-After``). Nothing here waits for a probe or does I/O, so a decision costs
microseconds (see bench/).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from atmosphere.errors import HostsBusy

DEFAULT_QUEUE_SIZE = 512  # Ollama's OLLAMA_MAX_QUEUE default
_STICKY_LIMIT = 10_000  # remembered conversations (least recently used forgotten first)


class Choice(Protocol):
    """What rank needs to know of a candidate host."""

    @property
    def host_id(self) -> str: ...

    @property
    def loaded(self) -> bool: ...


C = TypeVar("C", bound=Choice)


@dataclass(slots=True)
class HostLoad:
    """Atmosphere's own view of one host's load (not the host's word)."""

    max_inflight: int | None = None  # None: no limit of ours
    inflight: int = 0
    queued: int = 0
    peak: int = 0  # most requests ever in flight at once (the bench checks the limit held)

    @property
    def saturated(self) -> bool:
        return self.max_inflight is not None and self.inflight >= self.max_inflight


@dataclass(slots=True, eq=False)
class _Waiter:
    hosts: frozenset[str]
    home: str
    future: asyncio.Future[str] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Lease:
    """A slot on one host; release it exactly once when the host is done (stream included)."""

    __slots__ = ("_balancer", "host", "waited", "_released")

    def __init__(self, balancer: Balancer, host: str, waited: float = 0.0):
        self._balancer = balancer
        self.host = host
        self.waited = waited  # seconds spent in the queue before the slot (0: none free was needed)
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._balancer._release(self.host)


class Balancer:
    def __init__(self, *, queue_size: int = DEFAULT_QUEUE_SIZE, queue_timeout: float = 120.0, max_inflight: int = 0):
        self.queue_size = queue_size
        self.queue_timeout = queue_timeout  # the request's own deadline (ATMOSPHERE_REQUEST_TIMEOUT by default)
        self._operator = max_inflight or None  # 0: no limit unless the host reports one
        self._hosts: dict[str, HostLoad] = {}
        self._waiters: deque[_Waiter] = deque()
        self._sticky: OrderedDict[str, str] = OrderedDict()
        self._turn = itertools.count()

    # --- hosts -----------------------------------------------------------------------

    def load(self, host: str) -> HostLoad:
        found = self._hosts.get(host)
        if found is None:
            found = self._hosts[host] = HostLoad(self._operator)
        return found

    def set_reported_limit(self, host: str, reported: int | None) -> None:
        """The host's own concurrency (e.g. LlamaFarm's optimal_concurrency) is its limit; a host
        that reports none gets the operator's setting, or no limit."""
        limit = reported if reported and reported > 0 else self._operator
        load = self.load(host)
        before = load.max_inflight
        load.max_inflight = limit
        if limit is None or (before is not None and limit > before):
            self._hand_over(host)

    def forget(self, host: str) -> None:
        """A host was removed: its waiters move on to the rest of their pool (or time out)."""
        self._hosts.pop(host, None)
        for key in [k for k, v in self._sticky.items() if v == host]:
            del self._sticky[key]

    # --- choosing --------------------------------------------------------------------

    def rank(self, pool: Sequence[C], session: str | None = None) -> list[C]:
        if len(pool) < 2:
            return list(pool)
        stuck = self._sticky.get(session) if session else None
        offset = next(self._turn) % len(pool)
        size = len(pool)
        hosts = self._hosts

        def key(item: tuple[int, Choice]) -> tuple[bool, bool, bool, int, int]:
            position, choice = item
            load = hosts.get(choice.host_id) or self.load(choice.host_id)
            full = load.max_inflight is not None and load.inflight >= load.max_inflight
            return (
                full or choice.host_id != stuck,
                full,
                not choice.loaded,
                load.inflight,
                (position - offset) % size,
            )

        return [choice for _, choice in sorted(enumerate(pool), key=key)]

    def remember(self, session: str | None, host: str) -> None:
        """Stick a conversation to the host that served it."""
        if not session:
            return
        sticky = self._sticky
        sticky[session] = host
        sticky.move_to_end(session)
        if len(sticky) > _STICKY_LIMIT:
            sticky.popitem(last=False)

    # --- slots -----------------------------------------------------------------------

    async def acquire(self, ranked: Sequence[str]) -> Lease:
        """A slot on the first ranked host with one, else the first to free within the deadline."""
        for host in ranked:
            load = self.load(host)
            if load.max_inflight is None or load.inflight < load.max_inflight:
                self._take(load)
                return Lease(self, host)
        if not ranked:
            raise HostsBusy("No integration to queue on.", [])
        home = min(ranked, key=lambda h: self.load(h).queued)  # stable: ties keep rank order
        if self.load(home).queued >= self.queue_size:
            raise HostsBusy(
                f"Every integration that serves this model is busy and its queue of {self.queue_size} is full "
                f"(ATMOSPHERE_QUEUE_SIZE; {', '.join(ranked)}).",
                [],
                retry_after=1,
            )
        waiter = _Waiter(frozenset(ranked), home)
        self.load(home).queued += 1
        self._waiters.append(waiter)
        began = time.perf_counter()
        try:
            host = await asyncio.wait_for(asyncio.shield(waiter.future), self.queue_timeout)
        except BaseException as exc:
            if waiter.future.done() and not waiter.future.cancelled():
                self._release(waiter.future.result())  # handed a slot in the instant the wait ended
            else:
                self._drop(waiter)
            if isinstance(exc, TimeoutError):
                raise HostsBusy(
                    f"Every integration that serves this model stayed busy for {self.queue_timeout:g} s, the request's "
                    f"deadline ({', '.join(ranked)}).",
                    [],
                    retry_after=max(1, round(self.queue_timeout / 4)),
                ) from None
            raise
        return Lease(self, host, time.perf_counter() - began)

    def queue_depth(self, host: str) -> int:
        load = self._hosts.get(host)
        return load.queued if load else 0

    def _take(self, load: HostLoad) -> None:
        load.inflight += 1
        if load.inflight > load.peak:
            load.peak = load.inflight

    def _release(self, host: str) -> None:
        load = self._hosts.get(host)
        if load is None:
            return  # removed meanwhile
        load.inflight -= 1
        self._hand_over(host)

    def _hand_over(self, host: str) -> None:
        """Give free slots on ``host`` to the oldest waiters whose pool includes it."""
        load = self._hosts[host]
        while load.max_inflight is None or load.inflight < load.max_inflight:
            waiter = next((w for w in self._waiters if host in w.hosts), None)
            if waiter is None:
                return
            self._unqueue(waiter)
            self._take(load)
            waiter.future.set_result(host)

    def _drop(self, waiter: _Waiter) -> None:
        self._unqueue(waiter)
        if not waiter.future.done():
            waiter.future.cancel()

    def _unqueue(self, waiter: _Waiter) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)
            home = self._hosts.get(waiter.home)
            if home is not None:
                home.queued -= 1
