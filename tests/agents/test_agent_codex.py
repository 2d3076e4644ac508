"""OpenAI Codex CLI itself, the real binary (pinned in agents/package.json, ``make agents``), pointed at Atmosphere.

``codex exec`` with a ``[model_providers.atmosphere]`` entry (``wire_api = "responses"``) and
Codex's default tools (among them the ``multi_agent_v1`` namespace and ``web_search``) must exit
0 and print the stand-in's answer; asked for a tool by name, the stand-in calls it, Codex runs
it and sends the result back in its next request (``view_image``'s picture included);
``codex exec --oss --local-provider ollama`` finds the gateway through ``CODEX_OSS_PORT``.

Each run gets a scratch ``HOME`` and ``CODEX_HOME`` outside /tmp (Codex will not put its helper
binaries under a temporary directory), a config that turns off its update check, analytics,
feedback and OpenTelemetry export, and proxy variables naming a loopback port that refuses and
records every connection, so nothing it might try beyond 127.0.0.1 leaves the machine, and a
test sees if it tried.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_support import RefusingProxy, confined_env, logged, run_agent

ROOT = Path(__file__).resolve().parents[2]
CODEX = ROOT / "agents" / "node_modules" / ".bin" / "codex"
RUN_TIMEOUT = 60.0  # seconds; a run that loops fails here, not the suite
MODEL = "llama3.2:latest"  # the Ollama stand-in's tool-capable model
QUIET = """\
check_for_update_on_startup = false

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"

[features]
plugins = false
"""

pytestmark = pytest.mark.skipif(
    not os.access(CODEX, os.X_OK), reason=f"Codex CLI is not installed at {CODEX} (run `make agents`)"
)


@pytest.fixture
def codex_home() -> Iterator[Path]:
    """A scratch HOME under the worktree's test-artifacts/ (git-ignored), removed afterwards."""
    home = ROOT / "test-artifacts" / f"codex-{uuid.uuid4().hex[:12]}"
    (home / ".codex").mkdir(parents=True)
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def provider_config(gateway: Any, model: str, key_from: str | None = None) -> str:
    """The config.toml the README gives for a Responses provider at the gateway."""
    env_key = f'env_key = "{key_from}"\n' if key_from else ""
    return f"""\
model = "{model}"
model_provider = "atmosphere"
{QUIET}
[model_providers.atmosphere]
name = "Atmosphere"
base_url = "{gateway.url}/v1"
wire_api = "responses"
{env_key}"""


def run_codex(
    home: Path, project: Path, proxy: RefusingProxy, config: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    (home / ".codex" / "config.toml").write_text(config)
    project.mkdir(exist_ok=True)
    environment = confined_env(home, proxy, CODEX_HOME=str(home / ".codex"), **env)
    return run_agent([str(CODEX), "exec", "--skip-git-repo-check", *args], environment, project, RUN_TIMEOUT)


def test_codex_exec_with_its_default_tools_prints_the_stand_ins_answer(gateway, backends, codex_home, tmp_path, outside):
    done = run_codex(codex_home, tmp_path / "project", outside, provider_config(gateway, MODEL), "say hi")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"Hello from the Ollama emulator ({MODEL})! You said: say hi"
    # Codex's whole offer reached the model as functions, the namespace's members included;
    # its hosted web search was left out and the log says so.
    (chat,) = backends.ollama.state.recorded("/api/chat")
    offered = {tool["function"]["name"] for tool in chat.json["tools"]}
    assert {"exec_command", "spawn_agent", "wait_agent", "close_agent"} <= offered
    (entry,) = logged(gateway)
    assert (entry["surface"], entry["backend"], entry["status"]) == ("responses", "ollama", 200)
    assert entry["dropped_tools"] == ["web_search"]
    assert outside.seen == [], outside.seen


def test_codex_exec_through_a_llamafarm_alias_prints_its_answer(gateway, codex_home, tmp_path, outside):
    done = run_codex(codex_home, tmp_path / "project", outside, provider_config(gateway, "fast"), "say hi")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Hello from the LlamaFarm emulator (chatbot/fast)! You said: say hi"
    assert outside.seen == [], outside.seen


def test_codex_sends_the_gateways_api_key_from_the_providers_env_key(backends, make_gateway, codex_home, tmp_path, outside):
    gateway = make_gateway(backends, api_key="s3cret-key-for-codex")
    # No retries: a refused key is final, and Codex would otherwise back off for seconds.
    config = provider_config(gateway, MODEL, key_from="ATMOSPHERE_API_KEY") + "request_max_retries = 0\nstream_max_retries = 0\n"
    done = run_codex(codex_home, tmp_path / "project", outside, config, "say hi", ATMOSPHERE_API_KEY="s3cret-key-for-codex")
    assert done.returncode == 0, done.stderr
    assert "Hello from the Ollama emulator" in done.stdout
    refused = run_codex(codex_home, tmp_path / "project", outside, config, "say hi", ATMOSPHERE_API_KEY="a-wrong-key-here")
    assert refused.returncode != 0 and "401" in refused.stderr
    assert outside.seen == [], outside.seen


def test_codex_runs_the_command_the_model_calls_exec_command_with_and_sends_back_its_output(
    gateway, backends, codex_home, tmp_path, outside
):
    ask = "Use exec_command to run `echo hi-from-codex`"
    done = run_codex(codex_home, tmp_path / "project", outside, provider_config(gateway, MODEL), ask)
    assert done.returncode == 0, done.stderr
    first, second = backends.ollama.state.recorded("/api/chat")
    assert first.json["messages"][-1]["content"] == ask  # the call was asked for by name
    call, result = second.json["messages"][-2:]
    assert call["tool_calls"][0]["function"] == {"name": "exec_command", "arguments": {"cmd": "echo hi-from-codex"}}
    assert result["role"] == "tool" and "hi-from-codex" in result["content"]  # Codex ran it (read-only sandbox)
    assert "exec_command returned:" in done.stdout and "hi-from-codex" in done.stdout
    assert [entry["status"] for entry in logged(gateway)] == [200, 200]
    assert outside.seen == [], outside.seen


def test_a_call_to_a_namespace_member_reaches_codexs_handler_for_it(gateway, backends, codex_home, tmp_path, outside):
    """``close_agent`` lives in Codex's ``multi_agent_v1`` namespace: the call must come back with
    that namespace, or Codex answers "unsupported call" without running its handler."""
    ask = "Use close_agent on `agent-42`"
    done = run_codex(codex_home, tmp_path / "project", outside, provider_config(gateway, MODEL), ask)
    assert done.returncode == 0, done.stderr
    _, second = backends.ollama.state.recorded("/api/chat")
    call, result = second.json["messages"][-2:]
    assert call["tool_calls"][0]["function"]["name"] == "close_agent"  # the replayed call, mapped back
    assert "invalid agent id agent-42" in result["content"]  # the sub-agent handler looked the id up
    assert "unsupported call" not in result["content"]
    assert outside.seen == [], outside.seen


def test_codex_exec_oss_with_the_ollama_provider_finds_the_gateway_by_port(gateway, codex_home, tmp_path, outside):
    done = run_codex(
        codex_home,
        tmp_path / "project",
        outside,
        QUIET,
        "--oss",
        "--local-provider",
        "ollama",
        "-m",
        MODEL,
        "say hi",
        CODEX_OSS_PORT=str(gateway.port),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"Hello from the Ollama emulator ({MODEL})! You said: say hi"
    assert [(entry["surface"], entry["status"]) for entry in logged(gateway)] == [("responses", 200)]
    assert outside.seen == [], outside.seen


# A 1x1 PNG, the picture view_image reads from the project.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def test_codex_sends_the_image_view_image_read_and_the_model_gets_it(gateway, backends, codex_home, tmp_path, outside):
    project = tmp_path / "project"
    project.mkdir()
    (project / "shot.png").write_bytes(PNG)
    done = run_codex(codex_home, project, outside, provider_config(gateway, MODEL), "Use view_image on `shot.png`")
    assert done.returncode == 0, done.stderr
    _, second = backends.ollama.state.recorded("/api/chat")
    result = second.json["messages"][-1]
    assert result["role"] == "tool" and result["tool_name"] == "view_image", result
    assert len(result.get("images", [])) == 1, result
    assert [entry["status"] for entry in logged(gateway)] == [200, 200]
    assert outside.seen == [], outside.seen
