"""Enable/disable choices: what the API says, what routing does and what is on disk always agree."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}


def state_file(gateway) -> Path:
    return Path(gateway.settings.state_dir) / "integrations.json"


def enabled_by_api(gateway) -> dict[str, bool]:
    with gateway.client() as client:
        return {i["id"]: i["enabled"] for i in client.get("/v1/integrations").json()["integrations"]}


def temp_files(directory: Path) -> list[Path]:
    """What an interrupted or failed save would leave beside the state files (state/files.py's
    temp names); the usage database and the key secret living there too are not leftovers."""
    return [p for p in directory.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


def test_a_thousand_concurrent_toggles_all_succeed_and_disk_matches_memory(make_gateway):
    gateway = make_gateway()  # no backend needed: only the switches are exercised
    rng = random.Random(12)
    plan = [(rng.choice(["ollama", "llamafarm"]), rng.choice(["enable", "disable"])) for _ in range(1000)]

    async def toggle(integration: str, verb: str) -> int:
        # Raw HTTP/1.1: an async HTTP client would spend far longer than the gateway does.
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        writer.write(
            f"POST /v1/integrations/{integration}/{verb} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        head = await reader.read()
        writer.close()
        return int(head.split(b" ", 2)[1])

    async def toggle_all() -> list[int]:
        return await asyncio.gather(*(toggle(i, verb) for i, verb in plan))

    statuses = asyncio.run(toggle_all())
    assert statuses.count(200) == 1000, {s: statuses.count(s) for s in set(statuses)}
    on_disk = set(json.loads(state_file(gateway).read_text())["disabled"])
    in_memory = {i for i, enabled in enabled_by_api(gateway).items() if not enabled}
    assert on_disk == in_memory
    assert not temp_files(state_file(gateway).parent)
    assert {i for i, e in enabled_by_api(gateway.restart()).items() if not e} == in_memory


def _can_chattr(directory: Path) -> bool:
    return subprocess.run(["chattr", "+i", str(directory)], capture_output=True).returncode == 0


def _make_unwritable(kind: str, directory: Path) -> Path:
    """Make saving into ``directory`` fail the way ``kind`` says; returns the state file's path."""
    directory.mkdir(parents=True, exist_ok=True)
    state = directory / "integrations.json"
    if kind == "read-only directory":
        if os.geteuid() == 0:
            pytest.skip("root writes through read-only permissions (the immutable case covers root)")
        state.write_text('{"disabled": []}')
        directory.chmod(0o555)
    elif kind == "immutable directory":
        state.write_text('{"disabled": []}')
        if shutil.which("chattr") is None or not _can_chattr(directory):
            pytest.skip("chattr +i is not available here")
    elif kind == "state file is a directory":
        state.mkdir()
    return state


def _restore(directory: Path) -> None:
    if shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(directory)], capture_output=True)
    directory.chmod(0o755)


@pytest.mark.parametrize("kind", ["read-only directory", "immutable directory", "state file is a directory"])
def test_a_save_that_fails_is_a_500_naming_the_path_and_changes_nothing(backends, make_gateway, kind):
    gateway = make_gateway(backends)
    directory = Path(gateway.settings.state_dir)
    state = _make_unwritable(kind, directory)
    try:
        with gateway.client() as client:
            answer = client.post("/v1/integrations/ollama/disable")
            assert answer.status_code == 500
            error = answer.json()["error"]
            assert str(state) in error["message"] and error["code"] == "state_not_saved"
            assert "Traceback" not in answer.text
            # Routing and the API agree that Ollama is still enabled: llama3.2 is only there.
            assert enabled_by_api(gateway)["ollama"] is True
            served = client.post("/v1/chat/completions", json=CHAT)
            assert served.status_code == 200 and served.headers["x-atmosphere-backend"] == "ollama"
    finally:
        _restore(directory)
    assert not temp_files(directory)  # the temp file went too


@pytest.mark.parametrize(
    "content",
    [
        '[["ollama"]]',
        '{"disabled": [["ollama"], {"id": "llamafarm"}, 7, null]}',
        '{"disabled": {"ollama": true}}',
        '{"disabled": ["ollama", ["llamafarm"]]}',
        '"disabled"',
        "{broken",
    ],
)
def test_a_state_file_with_wrong_types_is_read_with_a_warning_not_a_crash(make_gateway, tmp_path, caplog, content):
    directory = tmp_path / "state"
    directory.mkdir()
    (directory / "integrations.json").write_text(content)
    with caplog.at_level(logging.WARNING, logger="atmosphere.registry"):
        gateway = make_gateway()
    enabled = enabled_by_api(gateway)
    expected_ollama = content != '{"disabled": ["ollama", ["llamafarm"]]}'  # the one valid entry is kept
    assert enabled == {"llamafarm": True, "ollama": expected_ollama}
    assert any(str(directory / "integrations.json") in r.getMessage() for r in caplog.records)
