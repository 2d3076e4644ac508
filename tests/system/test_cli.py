"""The command line: one-line configuration errors, a scan table, and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ATMOSPHERE_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "atmosphere", *args], capture_output=True, text=True, env=full_env, timeout=timeout
    )


@pytest.mark.parametrize(
    "args, env, setting",
    [
        (["serve", "--port", "70000"], {}, "ATMOSPHERE_PORT"),
        (["serve"], {"ATMOSPHERE_OLLAMA_URL": "localhost:11434"}, "ATMOSPHERE_OLLAMA_URL"),
        (["scan", "--probe-timeout", "soon"], {}, "ATMOSPHERE_PROBE_TIMEOUT"),
        (["serve"], {"ATMOSPHERE_MAX_REQUEST_BYTES": "-1"}, "ATMOSPHERE_MAX_REQUEST_BYTES"),
    ],
)
def test_a_bad_setting_stops_start_up_with_one_line_naming_it(args, env, setting):
    result = run_cli(*args, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and setting in lines[0]
    assert "Traceback" not in result.stderr


def test_scan_prints_a_table_and_succeeds_when_a_backend_is_healthy(backends, tmp_path):
    result = run_cli(
        "scan",
        "--llamafarm-url", backends.llamafarm.url,
        "--ollama-url", backends.ollama.url,
        "--llamafarm-runtime-url", backends.runtime.url,
        "--state-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["INTEGRATION", "STATUS", "VERSION", "LATENCY"]
    assert "llamafarm" in lines[1] and "healthy" in lines[1] and "0.0.27" in lines[1] and "fast" in lines[1]
    assert "ollama" in lines[2] and "healthy" in lines[2] and "llama3.2:latest" in lines[2]


def test_scan_also_probes_the_hosts_added_from_the_dashboard(backends, tmp_path):
    desk = {"id": "desk", "kind": "ollama", "name": "Desk", "url": backends.ollama.url, "removable": True}
    (tmp_path / "hosts.json").write_text(json.dumps({"added": [desk], "order": []}))
    result = run_cli("scan", "--state-dir", str(tmp_path), env={
        "ATMOSPHERE_LLAMAFARM_URL": "http://127.0.0.1:9", "ATMOSPHERE_OLLAMA_URL": "http://127.0.0.1:9",
    })  # fmt: skip
    assert result.returncode == 0, result.stderr
    desk_row = next(line for line in result.stdout.splitlines() if line.startswith("desk "))
    assert "healthy" in desk_row and "llama3.2:latest" in desk_row


def test_scan_fails_when_nothing_is_healthy(tmp_path):
    result = run_cli("scan", "--state-dir", str(tmp_path), env={
        "ATMOSPHERE_LLAMAFARM_URL": "http://127.0.0.1:9", "ATMOSPHERE_OLLAMA_URL": "http://127.0.0.1:9",
    })  # fmt: skip
    assert result.returncode == 1
    assert "offline" in result.stdout


def test_a_flag_beats_its_environment_variable(backends, tmp_path):
    result = run_cli(
        "scan", "--ollama-url", backends.ollama.url, "--state-dir", str(tmp_path),
        env={"ATMOSPHERE_OLLAMA_URL": "http://127.0.0.1:9", "ATMOSPHERE_LLAMAFARM_URL": "http://127.0.0.1:9"},
    )  # fmt: skip
    assert result.returncode == 0
    assert "healthy" in result.stdout.splitlines()[2]


def test_demo_serves_the_whole_loop_on_stand_in_backends(tmp_path, unused_tcp_port):
    proc = subprocess.Popen(
        [sys.executable, "-m", "atmosphere", "demo", "--port", str(unused_tcp_port), "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{unused_tcp_port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                integrations = httpx.get(f"{base}/v1/integrations", timeout=2).json()["integrations"]
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "demo did not start"
                time.sleep(0.1)
        assert {i["id"]: i["status"] for i in integrations} == {"llamafarm": "healthy", "ollama": "healthy"}
        chat = httpx.post(f"{base}/v1/chat/completions", json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]})
        assert "LlamaFarm emulator" in chat.json()["choices"][0]["message"]["content"]
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    assert "STAND-INS" in stderr


def test_every_setting_is_a_serve_flag_whose_help_comes_from_the_setting():
    from atmosphere.cli import build_parser
    from atmosphere.config import Settings

    serve = build_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]
    flags = {action.dest: action for action in serve._actions}
    for name, field in Settings.model_fields.items():
        if name == "standin_ports":
            continue  # the demo's own
        assert name in flags, name
        assert field.description and field.description in (flags[name].help or ""), name
    assert "(default 8000)" in (flags["port"].help or "")
