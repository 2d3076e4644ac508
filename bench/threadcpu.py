"""Gateway CPU per request, split by thread: the event loop's thread (every request's path, and
whatever else runs on the loop, the usage writer's Python included) and all the others (aiosqlite's
threads: the SQLite work of the writer and of the key and limit refreshes).

Read from ``/proc/PID/task/TID/schedstat`` (nanoseconds on a CPU, user and system together), so a
block of a thousand requests resolves a fraction of a microsecond where ``stat``'s 10 ms ticks
resolve ten. A thread that ends inside a block takes its time with it (aiosqlite's threads live as
long as their pooled connection, so in practice none does).
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from bench.loadgen import Pool, closed_loop
from bench.scenarios import _sides


def thread_ns(pid: int) -> tuple[int, int]:
    """(the main thread's, every other thread's) nanoseconds on a CPU so far."""
    loop = others = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            spent = int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
        if tid == str(pid):
            loop = spent
        else:
            others += spent
    return loop, others


@dataclass
class Side:
    pid: int
    data: bytes
    pool: Pool


@dataclass
class ThreadCost:
    """µs per request, by side: over all blocks, and the differences of neighbouring blocks."""

    loop_us: dict[str, float]
    other_us: dict[str, float]
    pairs_us: dict[str, list[float]] = field(default_factory=dict)  # "on-off", "on-control": per round, loop thread

    def median_pair(self, name: str) -> float:
        return statistics.median(self.pairs_us[name])


async def per_request(sides: dict[str, Side], requests: int, rounds: int, pairs: list[tuple[str, str]]) -> ThreadCost:
    """``rounds`` rounds of one block of ``requests`` sequential requests per side (rotating the
    order), and for each pair (a, b) of sides the loop thread's a − b per round."""
    loop_ns = dict.fromkeys(sides, 0)
    other_ns = dict.fromkeys(sides, 0)
    sent = dict.fromkeys(sides, 0)
    diffs: dict[str, list[float]] = {f"{a}-{b}": [] for a, b in pairs}
    for index in range(rounds):
        block: dict[str, float] = {}
        for name in _sides(index, list(sides)):
            side = sides[name]
            loop_before, other_before = thread_ns(side.pid)
            result = await closed_loop(side.pool, side.data, 1, count=requests)
            loop_after, other_after = thread_ns(side.pid)
            served = max(1, len(result.latencies))
            loop_ns[name] += loop_after - loop_before
            other_ns[name] += other_after - other_before
            sent[name] += served
            block[name] = (loop_after - loop_before) / served / 1000
        for a, b in pairs:
            diffs[f"{a}-{b}"].append(block[a] - block[b])
    return ThreadCost(
        {name: loop_ns[name] / max(1, sent[name]) / 1000 for name in sides},
        {name: other_ns[name] / max(1, sent[name]) / 1000 for name in sides},
        diffs,
    )
