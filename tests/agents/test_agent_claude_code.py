"""Claude Code itself, the real binary (pinned in agents/package.json, ``make agents``), pointed at Atmosphere.

``claude -p "say hi" --model NAME`` with ``ANTHROPIC_BASE_URL`` at a gateway on a free
loopback port in front of the stand-ins: it must exit 0 and print the stand-in's answer; asked
to Read a PNG by name, the stand-in calls Read and the picture reaches the model on the result.
Each run gets a scratch ``HOME`` and ``CLAUDE_CONFIG_DIR``, the settings that turn off its
update checks, telemetry, error reporting and other non-essential traffic
(``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC`` covers the other three; all are set), and
proxy variables naming a loopback port that refuses and records every connection, so
nothing it might try beyond 127.0.0.1 can leave the machine, and a test sees if it tried.
"""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from agent_support import RefusingProxy, confined_env, logged, run_agent

from atmosphere.standins.ollama_tools import planned_tool_call

ROOT = Path(__file__).resolve().parents[2]
CLAUDE = ROOT / "agents" / "node_modules" / ".bin" / "claude"
RUN_TIMEOUT = 90.0  # seconds; a run that loops (sub-agents without end) fails here, not the suite
QUIET = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
}

pytestmark = pytest.mark.skipif(
    not os.access(CLAUDE, os.X_OK), reason=f"Claude Code is not installed at {CLAUDE} (run `make agents`)"
)


def run_claude(
    gateway: Any, tmp_path: Path, proxy: RefusingProxy, model: str, prompt: str = "say hi", **env: str
) -> subprocess.CompletedProcess[str]:
    """``claude -p PROMPT`` run in ``tmp_path/project`` (made here if missing)."""
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir(exist_ok=True)
    project.mkdir(exist_ok=True)
    settings = {"CLAUDE_CONFIG_DIR": str(home / ".claude"), "ANTHROPIC_BASE_URL": gateway.url, "ANTHROPIC_AUTH_TOKEN": "unused"}
    environment = confined_env(home, proxy, **{**settings, **QUIET, **env})
    return run_agent([str(CLAUDE), "-p", prompt, "--model", model], environment, project, RUN_TIMEOUT)


def test_claude_p_with_a_llamafarm_alias_prints_the_stand_ins_answer(gateway, backends, tmp_path, outside):
    done = run_claude(gateway, tmp_path, outside, "fast")
    assert done.returncode == 0, done.stderr
    assert "Hello from the LlamaFarm emulator (chatbot/fast)! You said:" in done.stdout
    assert done.stdout.rstrip().endswith("say hi")
    (entry,) = logged(gateway)
    assert (entry["surface"], entry["backend"], entry["model"], entry["status"]) == ("anthropic", "llamafarm", "fast", 200)
    assert outside.seen == []


def test_claude_p_with_an_ollama_model_prints_the_stand_ins_answer_after_one_model_call(gateway, backends, tmp_path, outside):
    done = run_claude(gateway, tmp_path, outside, "llama3.2:latest")
    assert done.returncode == 0, done.stderr
    assert "Hello from the Ollama emulator (llama3.2:latest)! You said:" in done.stdout
    # Claude Code offered its tools to a tool-capable model, which answered in text: one call,
    # no sub-agents (a stand-in that called the first tool, Agent, made it recurse for ever).
    (chat,) = backends.ollama.state.recorded("/api/chat")
    offered = [tool["function"]["name"] for tool in chat.json["tools"]]
    assert "Agent" in offered and len(offered) >= 5
    assert [m["role"] for m in chat.json["messages"]][:2] == ["system", "user"]
    (entry,) = logged(gateway)
    assert (entry["surface"], entry["backend"], entry["status"]) == ("anthropic", "ollama", 200)
    assert outside.seen == []


def test_claude_code_works_with_the_gateways_api_key_as_its_auth_token(backends, make_gateway, tmp_path, outside):
    gateway = make_gateway(backends, api_key="s3cret-key")
    done = run_claude(gateway, tmp_path, outside, "fast", ANTHROPIC_AUTH_TOKEN="s3cret-key")
    assert done.returncode == 0, done.stderr
    assert "Hello from the LlamaFarm emulator (chatbot/fast)!" in done.stdout
    assert outside.seen == []


# A 1x1 PNG, the picture Claude Code's Read tool reads from the project.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def test_claude_code_sends_the_picture_its_read_tool_read_and_the_model_gets_it(gateway, backends, tmp_path, outside):
    picture = tmp_path / "project" / "shot.png"
    picture.parent.mkdir()
    picture.write_bytes(PNG)
    done = run_claude(gateway, tmp_path, outside, "llama3.2:latest", f"Use the Read tool on `{picture}`")
    assert done.returncode == 0, done.stderr
    _, second = backends.ollama.state.recorded("/api/chat")
    results = [m for m in second.json["messages"] if m["role"] == "tool"]
    assert len(results) == 1 and results[0]["tool_name"] == "Read", second.json["messages"][-3:]
    images = results[0].get("images", [])
    assert len(images) == 1, results[0]
    assert base64.b64decode(images[0]) == PNG  # the picture itself, as Read sent it
    assert [entry["status"] for entry in logged(gateway)] == [200, 200]
    assert outside.seen == [], outside.seen


# Claude Code 2.1.x's offer, by name (shared/reference/agents.md), and its first user turn:
# a tagged reminder, then the prompt.
CLAUDE_CODE_TOOLS = (
    "Agent Bash CronCreate CronDelete CronList Edit EnterWorktree ExitWorktree NotebookEdit Read ReportFindings "
    "ScheduleWakeup SendMessage Skill TaskCreate TaskGet TaskList TaskOutput TaskStop TaskUpdate WebFetch WebSearch "
    "Workflow Write"
).split()
REMINDER = "<system-reminder>\nUse the Read tool and the Agent tool for your tasks; search the web.\n</system-reminder>\n"


def _offer(*names: str) -> list[dict[str, Any]]:
    schema = {"type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]}
    return [{"type": "function", "function": {"name": name, "parameters": schema}} for name in names]


def test_the_ollama_stand_in_never_calls_one_of_claude_codes_tools_unasked():
    body = {"tools": _offer(*CLAUDE_CODE_TOOLS), "messages": [{"role": "system", "content": "You are Claude Code."}]}
    body["messages"] += [{"role": "user", "content": REMINDER + "say hi"}, {"role": "system", "content": "Deferred tools: ..."}]
    assert len(body["tools"]) == 24
    assert planned_tool_call(body) is None


def test_the_ollama_stand_in_calls_the_tool_the_user_asks_for_once_and_answers_its_result_in_text():
    tools = _offer(*CLAUDE_CODE_TOOLS, "get_weather")
    ask = [{"role": "user", "content": REMINDER + "What is the weather in Paris?"}]
    call = planned_tool_call({"tools": tools, "messages": ask})
    assert call is not None and call["function"]["name"] == "get_weather"
    answered = [*ask, {"role": "assistant", "content": "", "tool_calls": [call]}, {"role": "tool", "content": "sunny"}]
    assert planned_tool_call({"tools": tools, "messages": [*answered, {"role": "system", "content": "a reminder"}]}) is None
