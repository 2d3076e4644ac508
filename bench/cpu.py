"""Gateway CPU per request: the process's utime+stime over sequential requests.

Latency on a shared machine moves with everyone else's load; the CPU time the gateway
process itself spends per request moves much less, so it is the steadier yardstick of
"what a request costs". Sides (this tree, a baseline) run in alternating blocks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bench.loadgen import Pool
from bench.scenarios import _sides

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/PID/stat, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # fields 14 and 15 of stat(5)


@dataclass(frozen=True)
class Side:
    pid: int
    port: int
    data: bytes
    delimiter: bytes = b""  # b"\n\n" for a stream: read to its last event


async def per_request_us(sides: dict[str, Side], requests: int, rounds: int = 2) -> dict[str, float]:
    """Microseconds of gateway CPU per request for each side (``requests`` each), in alternating blocks."""
    pools = {name: await Pool(side.port).grow(1) for name, side in sides.items()}
    spent = dict.fromkeys(sides, 0.0)
    sent = dict.fromkeys(sides, 0)
    block = max(1, requests // rounds)
    for index in range(rounds):
        for name in _sides(index, list(sides)):
            side, pool = sides[name], pools[name]
            before = cpu_seconds(side.pid)
            for _ in range(block):
                await pool.send(0, side.data, delimiter=side.delimiter)
            spent[name] += cpu_seconds(side.pid) - before
            sent[name] += block
    for pool in pools.values():
        pool.close()
    return {name: spent[name] / sent[name] * 1e6 for name in sides}
