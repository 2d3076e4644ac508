"""The balancer on its own: which host a request goes to, and how many each host gets at once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from atmosphere.errors import HostsBusy
from atmosphere.router.balancer import Balancer


@dataclass(frozen=True)
class Host:
    host_id: str
    loaded: bool = False


def ids(ranked: list[Host]) -> list[str]:
    return [h.host_id for h in ranked]


def test_the_host_with_the_model_loaded_is_preferred_every_time() -> None:
    balancer = Balancer()
    pool = [Host("a"), Host("b", loaded=True), Host("c")]
    assert {ids(balancer.rank(pool))[0] for _ in range(20)} == {"b"}


def test_equal_idle_hosts_take_turns() -> None:
    balancer = Balancer()
    pool = [Host("a"), Host("b"), Host("c")]
    firsts = [ids(balancer.rank(pool))[0] for _ in range(6)]
    assert sorted(firsts) == ["a", "a", "b", "b", "c", "c"]


async def test_the_least_busy_host_comes_first_among_equals() -> None:
    balancer = Balancer()
    lease = await balancer.acquire(["a"])
    pool = [Host("a"), Host("b")]
    assert {ids(balancer.rank(pool))[0] for _ in range(4)} == {"b"}
    lease.release()


async def test_a_conversation_sticks_to_its_host_until_that_host_is_full() -> None:
    balancer = Balancer(max_inflight=1)
    pool = [Host("a", loaded=True), Host("b")]
    balancer.remember("alice", "b")
    assert ids(balancer.rank(pool, "alice"))[0] == "b"
    lease = await balancer.acquire(["b"])
    assert ids(balancer.rank(pool, "alice"))[0] == "a"  # saturated: not worth the wait
    lease.release()


async def test_a_full_host_queues_and_the_first_free_host_of_the_pool_takes_the_request() -> None:
    balancer = Balancer(max_inflight=1, queue_size=4, queue_timeout=5)
    first_a = await balancer.acquire(["a"])
    first_b = await balancer.acquire(["b"])
    waiting = asyncio.create_task(balancer.acquire(["a", "b"]))
    await asyncio.sleep(0)
    assert balancer.queue_depth("a") == 1 and not waiting.done()
    first_b.release()
    lease = await waiting
    assert lease.host == "b" and balancer.queue_depth("a") == 0
    assert balancer.load("b").inflight == 1
    lease.release()
    first_a.release()


async def test_a_full_queue_is_refused_with_retry_after() -> None:
    balancer = Balancer(max_inflight=1, queue_size=1, queue_timeout=5)
    held = await balancer.acquire(["a"])
    queued = asyncio.create_task(balancer.acquire(["a"]))
    await asyncio.sleep(0)
    with pytest.raises(HostsBusy) as refused:
        await balancer.acquire(["a"])
    assert refused.value.status == 503 and refused.value.headers["Retry-After"]
    held.release()
    (await queued).release()
    assert balancer.load("a").inflight == 0


async def test_a_wait_past_the_queue_deadline_is_refused_and_leaves_nothing_behind() -> None:
    balancer = Balancer(max_inflight=1, queue_size=2, queue_timeout=0.01)
    held = await balancer.acquire(["a"])
    with pytest.raises(HostsBusy):
        await balancer.acquire(["a"])
    assert balancer.queue_depth("a") == 0
    held.release()
    assert balancer.load("a").inflight == 0


async def test_a_client_that_leaves_the_queue_gives_up_its_place() -> None:
    balancer = Balancer(max_inflight=1, queue_size=2, queue_timeout=5)
    held = await balancer.acquire(["a"])
    waiting = asyncio.create_task(balancer.acquire(["a"]))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    held.release()
    assert balancer.load("a").inflight == 0 and balancer.queue_depth("a") == 0


async def test_a_host_reporting_its_concurrency_serves_that_many_at_once_and_queues_the_rest() -> None:
    balancer = Balancer(max_inflight=2)  # the host's own word wins over the operator's fallback
    balancer.set_reported_limit("lf", 8)
    leases = [await balancer.acquire(["lf"]) for _ in range(8)]
    assert balancer.load("lf").inflight == 8
    ninth = asyncio.create_task(balancer.acquire(["lf"]))
    await asyncio.sleep(0)
    assert balancer.queue_depth("lf") == 1 and not ninth.done()
    leases[0].release()
    late = await ninth
    assert late.host == "lf" and late.waited > 0  # the request log shows the wait
    for lease in [*leases, late]:
        lease.release()
        lease.release()  # twice is harmless
    assert balancer.load("lf").inflight == 0


async def test_with_the_defaults_a_host_that_reports_no_limit_is_never_refused_or_queued() -> None:
    balancer = Balancer()
    balancer.set_reported_limit("ollama", None)
    leases = [await balancer.acquire(["ollama"]) for _ in range(1000)]
    assert balancer.load("ollama").inflight == 1000 and balancer.queue_depth("ollama") == 0
    assert all(lease.waited == 0 for lease in leases)
    for lease in leases:
        lease.release()
    assert balancer.load("ollama").max_inflight is None


async def test_without_a_limit_the_least_busy_host_still_comes_first() -> None:
    balancer = Balancer()
    busy = [await balancer.acquire(["a"]) for _ in range(3)]
    one = await balancer.acquire(["b"])
    assert {ids(balancer.rank([Host("a"), Host("b"), Host("c")]))[0] for _ in range(6)} == {"c"}
    for lease in [*busy, one]:
        lease.release()


async def test_the_operator_limit_applies_to_hosts_that_report_none_and_a_lifted_limit_frees_the_queue() -> None:
    balancer = Balancer(max_inflight=1)
    held = await balancer.acquire(["ollama"])
    waiting = asyncio.create_task(balancer.acquire(["ollama"]))
    await asyncio.sleep(0)
    assert balancer.queue_depth("ollama") == 1
    balancer.set_reported_limit("ollama", 4)  # the host now says it serves 4 at once
    second = await waiting
    assert balancer.load("ollama").inflight == 2
    held.release()
    second.release()


def test_the_default_queue_is_as_deep_as_ollama_s() -> None:
    assert Balancer().queue_size == 512
