"""The models file: shared names the operator writes or accepts, and the suggestions offered."""

from __future__ import annotations

from pathlib import Path

from atmosphere.domain import ModelInfo
from atmosphere.router.equivalents import Equivalent, Equivalents, signature, suggest


def test_a_shared_name_written_in_the_models_file_is_read_back(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text('[models.qwen3-4b]\nllamafarm = "chatbot/fast"\nollama = "qwen3:4b"\n')
    found = Equivalents(path).get("qwen3-4b")
    assert found is not None and found.native_for("ollama-gpu-11434", "ollama") == "qwen3:4b"
    assert found.native_for("llamafarm", "llamafarm") == "chatbot/fast"


async def test_an_accepted_equivalent_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state" / "models.toml"
    await Equivalents(path).add(Equivalent("team/qwen:1.7b", {"llamafarm": "chatbot/smart", "gpu-box": "qwen3:1.7b"}))
    again = Equivalents(path)
    assert again.get("team/qwen:1.7b") == Equivalent("team/qwen:1.7b", {"llamafarm": "chatbot/smart", "gpu-box": "qwen3:1.7b"})
    assert [e.name for e in again.containing("qwen3:1.7b")] == ["team/qwen:1.7b"]


def test_a_broken_models_file_is_ignored_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text("[models.x\n")
    assert Equivalents(path).all() == []


async def test_the_same_model_under_two_names_is_suggested_never_applied(tmp_path: Path) -> None:
    lf = ModelInfo("chatbot/smart", backend_model="unsloth/Qwen3-1.7B-GGUF:Q4_K_M", capabilities=["chat"])
    ol = ModelInfo("qwen3:1.7b", family="qwen3", parameter_size="1.7B", quantization="Q4_K_M", capabilities=["chat"])
    other = ModelInfo("llama3.2:latest", family="llama", parameter_size="3.2B", quantization="Q4_K_M")
    assert signature(lf) == signature(ol) == ("qwen3", "1.7b", "Q4_K_M")
    known = Equivalents(tmp_path / "models.toml")
    found = suggest([("llamafarm", [lf]), ("ollama", [ol, other]), ("ollama-b-1", [ol])], known)
    assert found == [
        {
            "name": "qwen3-1.7b",
            "members": {"llamafarm": "chatbot/smart", "ollama": "qwen3:1.7b", "ollama-b-1": "qwen3:1.7b"},
            "reason": "same family (qwen3), parameter size (1.7b) and quantization (Q4_K_M)",
        }
    ]
    assert known.get("qwen3-1.7b") is None
    await known.add(Equivalent("qwen3-1.7b", found[0]["members"]))
    assert suggest([("llamafarm", [lf]), ("ollama", [ol])], known) == []
