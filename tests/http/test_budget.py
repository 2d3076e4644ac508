"""The process-wide budget for buffered upstream answers (http/budget.py) on its own: reserving
past the limit fails naming it, releasing frees room, and a large release gives memory back
once, a moment later. (Against a hostile backend through the gateway: test_upstream_faults.py.)"""

from __future__ import annotations

import asyncio

import pytest

from atmosphere.http import budget
from atmosphere.http.budget import BudgetExceeded, BufferBudget

MIB = 1 << 20


def test_reserving_past_the_limit_fails_naming_the_setting_and_what_others_hold() -> None:
    held = BufferBudget(4 * MIB)
    held.reserve(3 * MIB)
    with pytest.raises(BudgetExceeded) as refused:
        held.reserve(2 * MIB)
    assert "ATMOSPHERE_MAX_BUFFERED_BYTES = 4 MiB" in str(refused.value) and "3 MiB held by other answers" in str(refused.value)
    assert held.used == 3 * MIB  # a refused reservation holds nothing
    held.reserve(1 * MIB)  # exactly at the limit is allowed
    assert held.used == 4 * MIB


def test_releasing_frees_room_and_never_goes_below_zero() -> None:
    held = BufferBudget(2 * MIB)
    held.reserve(2 * MIB)
    held.release(2 * MIB)
    held.reserve(2 * MIB)
    held.release(5 * MIB)
    assert held.used == 0


async def test_a_large_release_gives_memory_back_once_after_a_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    trimmed = asyncio.Event()
    calls: list[int] = []

    def give_back() -> None:
        calls.append(1)
        trimmed.set()

    monkeypatch.setattr(budget, "give_back_memory", give_back)
    held = BufferBudget(64 * MIB)
    held.reserve(16 * MIB)
    held.release(1 * MIB)  # small: not worth a trim
    await asyncio.sleep(0)
    assert held._trim is None
    held.release(8 * MIB)
    held.release(7 * MIB)  # while one is due, no second is scheduled
    assert calls == []  # not at once: the request that held the buffer frees its objects first
    await asyncio.wait_for(trimmed.wait(), 2)
    assert calls == [1] and held._trim is None


def test_a_release_outside_an_event_loop_schedules_nothing() -> None:
    held = BufferBudget(64 * MIB)
    held.reserve(16 * MIB)
    held.release(16 * MIB)
    assert held._trim is None and held.used == 0


def test_giving_memory_back_works_here_or_is_a_no_op() -> None:
    budget.give_back_memory()  # glibc's malloc_trim on this machine; must not raise elsewhere either
    assert budget._malloc_trim() is budget._malloc_trim()  # looked up once
