"""The state files under ``state_dir``: one way to save them, one way to read them back.

Saving replaces a file through a temp file of its own beside it (flushed to disk before the
rename), so a crash or a full disk never leaves half a file and two saves never share a temp
file. Reading never stops the gateway: a file that is missing is empty, one that cannot be
read or parsed is a warning, and each entry is checked on its own, so one bad entry costs
only itself (a one-line warning naming the file and the entry), never start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger("atmosphere.state")
T = TypeVar("T")
# What an entry check may raise about a malformed entry; anything else is a bug and propagates.
BAD_ENTRY = (ValueError, TypeError, KeyError, AttributeError)
_SHOWN = 80  # characters of a bad entry quoted in its warning


def save_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: temp file beside it, fsync, rename (blocking: see ``save``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


async def save(path: Path, data: bytes) -> None:
    """``save_atomically`` off the event loop: a slow disk must not stall every request."""
    await asyncio.to_thread(save_atomically, path, data)


def read_document(path: Path, decode: Callable[[bytes], Any]) -> dict[str, Any]:
    """The file's top-level object; ``{}`` when it is missing, and (with a warning) when it
    cannot be read, does not parse or is not an object."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        log.warning("ignoring unreadable state file %s: %s", path, exc.strerror or exc)
        return {}
    try:
        document = decode(raw)
    except ValueError as exc:  # JSON, TOML and UTF-8 errors are all ValueErrors
        log.warning("ignoring state file %s, which does not parse: %s", path, _one_line(str(exc)))
        return {}
    if not isinstance(document, dict):
        log.warning("ignoring state file %s: expected an object at the top, found %s", path, type(document).__name__)
        return {}
    return document


def list_field(path: Path, document: dict[str, Any], key: str) -> list[Any]:
    """``document[key]`` when it is a list (missing: empty); anything else is warned about and empty."""
    value = document.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        log.warning("ignoring %r in %s: expected a list, found %s", key, path, type(value).__name__)
        return []
    return value


def valid_entries(path: Path, entries: Iterable[tuple[str, Any]], check: Callable[[Any], T]) -> list[T]:
    """``check(value)`` of every (label, value) entry that passes it; each one that does not
    is skipped with a warning naming the file, the entry and what is wrong with it."""
    kept = []
    for label, value in entries:
        try:
            kept.append(check(value))
        except BAD_ENTRY as exc:
            warn_entry(path, label, str(exc) or type(exc).__name__)
    return kept


def warn_entry(path: Path, label: str, reason: str) -> None:
    log.warning("ignoring %s in %s: %s", _one_line(label), path, _one_line(reason))


def shown(value: Any) -> str:
    """A bounded, one-line quotation of what a file held (for warnings; never the whole entry)."""
    return _one_line(repr(value))


def _one_line(text: str) -> str:
    flat = text.replace("\r", "\\r").replace("\n", "\\n")
    return flat if len(flat) <= _SHOWN else flat[: _SHOWN - 1] + "…"
