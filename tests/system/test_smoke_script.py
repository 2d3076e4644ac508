"""scripts/smoke.sh, the curl smoke test the README gives, passes against a running gateway."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "smoke.sh"


@pytest.mark.skipif(shutil.which("curl") is None, reason="the smoke script needs curl")
def test_smoke_script_passes_every_check(gateway):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["bash", str(SCRIPT), gateway.url], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ", 0 failed" in result.stdout
    assert "FAIL" not in result.stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="the smoke script needs curl")
def test_smoke_script_fails_when_nothing_is_healthy(make_gateway):
    gateway = make_gateway()
    result = subprocess.run(["bash", str(SCRIPT), gateway.url], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "FAIL" in result.stdout
