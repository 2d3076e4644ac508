"""State files an operator (or a crash, or an attacker with write access to the state
directory) left malformed: the gateway still starts, says what it skipped, keeps the rest."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from atmosphere.router.equivalents import Equivalent, Equivalents
from atmosphere.state import files

GOOD_HOST = {"id": "desk", "kind": "ollama", "name": "Desk", "url": "http://127.0.0.1:9"}


def _state(tmp_path: Path, name: str, content: str) -> Path:
    directory = tmp_path / "state"
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(content)
    return directory / name


def _integrations(gateway: Any) -> dict[str, dict[str, Any]]:
    with gateway.client() as client:
        return {i["id"]: i for i in client.get("/v1/integrations").json()["integrations"]}


def _warnings_about(caplog: pytest.LogCaptureFixture, path: Path) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and str(path) in r.getMessage()]


@pytest.mark.parametrize(
    "content",
    ['{"added": 5}', '{"added": {"desk": {}}, "order": 7}', '["added"]', '"hosts"', "{broken", '{"order": [1, null, "ollama"]}'],
)
def test_a_malformed_hosts_file_never_stops_the_gateway_from_starting(make_gateway, tmp_path, caplog, content) -> None:
    path = _state(tmp_path, "hosts.json", content)
    with caplog.at_level(logging.WARNING):
        gateway = make_gateway()
    assert set(_integrations(gateway)) == {"llamafarm", "ollama"}  # the hosts from the settings serve on
    assert _warnings_about(caplog, path), "the operator is told the file was not read"


def test_each_bad_saved_host_is_skipped_by_name_and_the_good_ones_kept(make_gateway, tmp_path, caplog) -> None:
    hostile = {"id": "../x\r\nX: y", "kind": "ollama", "url": "http://127.0.0.1:9"}
    saved = [
        GOOD_HOST,
        hostile,
        {"id": "lab", "kind": "vllm", "url": "http://127.0.0.1:9"},
        {"id": "nourl", "kind": "ollama"},
        {"id": "gpu", "kind": "ollama", "url": "ftp://127.0.0.1:9"},
        {"id": "odd", "kind": "ollama", "url": "http://127.0.0.1:9", "name": 5},
        {"id": "runtime", "kind": "ollama", "url": "http://127.0.0.1:9", "runtime_url": "http://127.0.0.1:1"},
        "desk",
        None,
    ]
    path = _state(tmp_path, "hosts.json", json.dumps({"added": saved, "order": ["desk", "Bad Id!", 3, "ollama"]}))
    with caplog.at_level(logging.WARNING):
        gateway = make_gateway()
    items = _integrations(gateway)
    assert list(items) == ["desk", "ollama", "llamafarm"]  # the saved order, its bad entries skipped
    assert items["desk"]["name"] == "Desk" and items["desk"]["url"] == GOOD_HOST["url"]
    warnings = _warnings_about(caplog, path)
    assert len(warnings) == len(saved) - 1 + 2  # one line per bad host and per bad order entry
    assert all("\n" not in w and "\r" not in w for w in warnings)  # one line each, whatever the entry held
    assert any("'lab'" in w and "kind" in w for w in warnings) and any("Bad Id!" in w for w in warnings)


def test_a_saved_host_is_removable_whatever_the_file_says(make_gateway, tmp_path) -> None:
    _state(tmp_path, "hosts.json", json.dumps({"added": [{**GOOD_HOST, "removable": False}]}))
    gateway = make_gateway()
    items = _integrations(gateway)
    assert items["desk"]["removable"] is True and items["ollama"]["removable"] is False
    with gateway.client() as client:
        assert client.delete("/v1/integrations/desk").status_code == 200
        refused = client.delete("/v1/integrations/ollama")  # from the settings: never through the API
    assert refused.status_code == 400 and "ATMOSPHERE_OLLAMA_URL" in refused.json()["error"]["message"]
    assert "removable" not in (tmp_path / "state" / "hosts.json").read_text()  # nothing for a later start to trust


def test_a_disabled_entry_that_is_no_integration_id_is_skipped_with_a_warning(make_gateway, tmp_path, caplog) -> None:
    path = _state(tmp_path, "integrations.json", json.dumps({"disabled": ["ollama", "../llamafarm", "x" * 500]}))
    with caplog.at_level(logging.WARNING):
        gateway = make_gateway()
    assert {i: item["enabled"] for i, item in _integrations(gateway).items()} == {"llamafarm": True, "ollama": False}
    warnings = _warnings_about(caplog, path)
    assert len(warnings) == 2 and all(len(w) < 300 for w in warnings)  # a huge entry is quoted, not copied


@pytest.mark.parametrize(
    "content",
    [
        b'models = "qwen"\n',
        b"[models.x\n",
        b"\xff\xfe[models]\n",
        b'[models.fast]\nollama = "qwen3:4b"\n[models."bad name!"]\nollama = "x"\n[models.empty]\n[models.typed]\nollama = 7\n'
        b'[models.hostile]\n"../x\\r\\nX: y" = "qwen3:4b"\n',
    ],
)
def test_a_malformed_models_file_keeps_its_good_names_and_the_gateway_up(make_gateway, tmp_path, caplog, content) -> None:
    directory = tmp_path / "state"
    directory.mkdir()
    (directory / "models.toml").write_bytes(content)
    with caplog.at_level(logging.WARNING):
        gateway = make_gateway()
    with gateway.client() as client:
        names = [e["name"] for e in client.get("/v1/models/equivalents").json()["equivalents"]]
    assert names == (["fast"] if b"fast" in content else [])
    warnings = _warnings_about(caplog, directory / "models.toml")
    assert len(warnings) == (4 if b"fast" in content else 1)


async def test_saving_a_state_file_happens_off_the_event_loop(tmp_path, monkeypatch) -> None:
    threads: list[threading.Thread] = []
    real = files.save_atomically

    def recording(path: Path, data: bytes) -> None:
        threads.append(threading.current_thread())
        real(path, data)

    monkeypatch.setattr(files, "save_atomically", recording)
    equivalents = Equivalents(tmp_path / "models.toml")
    await equivalents.add(Equivalent("fast", {"ollama": "qwen3:4b"}))
    assert threads and threads[0] is not threading.current_thread()
    assert Equivalents(tmp_path / "models.toml").get("fast") == Equivalent("fast", {"ollama": "qwen3:4b"})
    assert [p.name for p in tmp_path.iterdir()] == ["models.toml"]  # no temp file left beside it
