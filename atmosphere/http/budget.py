"""A process-wide budget for upstream answer bytes held in memory, and giving memory back.

The 64 MiB cap on one answer (``client.MAX_ANSWER_BYTES``) bounds one request; sixteen of
them at once are still a gigabyte. Every buffered read reserves its bytes here first, so
all answers being read at once stay under ``ATMOSPHERE_MAX_BUFFERED_BYTES``; a read that
would pass it fails (the executor then tries the next backend, or answers 502 naming the
budget). Streams are not buffered and never reserve.

After a large buffer is freed, glibc keeps the pages for reuse (its mmap threshold grows
with each large free), so RSS would stay at its peak; ``malloc_trim`` hands them back.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable

log = logging.getLogger("atmosphere.budget")

_TRIM_AFTER = 8 * 1024 * 1024  # freeing less than this is not worth a trim
_TRIM_DELAY = 0.25  # seconds: let the request that held the buffer finish and free its objects


class BudgetExceeded(Exception):
    """Reserving would pass the process-wide budget."""


class BufferBudget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._freed = 0
        self._trim: asyncio.TimerHandle | None = None

    def reserve(self, size: int) -> None:
        if self.used + size > self.limit:
            raise BudgetExceeded(
                f"the answer would pass the gateway's buffer budget (ATMOSPHERE_MAX_BUFFERED_BYTES = {_mib(self.limit)}, "
                f"{_mib(self.used)} held by other answers)"
            )
        self.used += size

    def release(self, size: int) -> None:
        self.used = max(0, self.used - size)
        self._freed += size
        if self._freed >= _TRIM_AFTER and self._trim is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._trim = loop.call_later(_TRIM_DELAY, self._give_back)

    def _give_back(self) -> None:
        self._trim = None
        self._freed = 0
        give_back_memory()


def _mib(size: int) -> str:
    return f"{size / (1 << 20):g} MiB"


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, looked up at the first trim (ctypes is ~0.4 MB an idle gateway
    does not need); None elsewhere (musl, macOS): nothing to trim."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def give_back_memory() -> None:
    """Return free heap pages to the system (glibc only; elsewhere a no-op)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
