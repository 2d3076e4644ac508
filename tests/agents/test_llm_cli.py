"""Simon Willison's ``llm`` CLI, the real one, with Atmosphere as an OpenAI-compatible model
(``extra-openai-models.yaml`` in its user directory, as its documentation says)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LLM = Path(sys.executable).parent / "llm"

pytestmark = pytest.mark.skipif(not os.access(LLM, os.X_OK), reason=f"llm is not installed at {LLM} (requirements-dev.txt)")


def _llm(user_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LLM_"))}
    env["LLM_USER_PATH"] = str(user_dir)  # its keys, logs and model list, in a scratch directory
    return subprocess.run([str(LLM), *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def test_llm_answers_through_atmosphere_streamed_and_not(gateway, tmp_path):
    models = [("atmosphere-fast", "fast"), ("atmosphere-llama", "llama3.2")]
    lines = [f'- model_id: {mid}\n  model_name: {name}\n  api_base: "{gateway.url}/v1"\n' for mid, name in models]
    (tmp_path / "extra-openai-models.yaml").write_text("".join(lines))
    streamed = _llm(tmp_path, "-m", "atmosphere-fast", "Say hi")
    assert streamed.returncode == 0, streamed.stderr
    assert "LlamaFarm emulator (chatbot/fast)" in streamed.stdout and "You said: Say hi" in streamed.stdout
    whole = _llm(tmp_path, "-m", "atmosphere-llama", "--no-stream", "Say hi")
    assert whole.returncode == 0, whole.stderr
    assert "Ollama emulator (llama3.2:latest)" in whole.stdout
    with gateway.client() as http:
        logged = http.get("/v1/requests").json()["requests"]
    assert [(e["surface"], e["stream"], e["status"]) for e in logged] == [("openai.chat", False, 200), ("openai.chat", True, 200)]
