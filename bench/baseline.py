"""A past commit of Atmosphere, checked out beside this tree so one run measures both.

``python -m bench --baseline COMMIT`` (``make bench BASELINE=COMMIT``) checks the commit out
in a temporary ``git worktree`` (no work tree of anyone else is touched), runs its gateway
with the same venv and the same stand-ins, and every request-path measure takes it as a
third side in the same rotated blocks: a gain or a regression is then a ratio from one run,
not two runs on a machine whose speed drifts. The worktree is removed at the end.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.procs import ROOT

DEFAULT = "77f0439"  # main before issue 15-17's wave: issue 19's yardstick


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


@contextlib.contextmanager
def checkout(commit: str) -> Iterator[tuple[Path, str]]:
    """(the worktree's path, the commit's short id and subject), removed afterwards."""
    described = _git("log", "-1", "--format=%h %s", commit)
    where = Path(tempfile.mkdtemp(prefix="atmosphere-baseline-")) / "tree"
    _git("worktree", "add", "--detach", "--quiet", str(where), commit)
    try:
        static = ROOT / "atmosphere" / "static"
        if static.exists() and not (where / "atmosphere" / "static").exists():
            (where / "atmosphere" / "static").symlink_to(static.resolve())  # the same dashboard bundle
        yield where, described
    finally:
        with contextlib.suppress(RuntimeError):
            _git("worktree", "remove", "--force", str(where))
        shutil.rmtree(where.parent, ignore_errors=True)
