"""``OLLAMA_HOST=127.0.0.1:8000 ollama <command>`` against the gateway, one test per command,
each run as the CLI's Go source runs it (tests/ollama_cli.py: the requests it sends, Go's
decoding of the answers, the keys and slices it dereferences) over every integration's models."""

from __future__ import annotations

import ollama_cli as cli
import orjson
import pytest

from atmosphere.api.ollama import render as shapes
from atmosphere.domain import CatalogModel, ModelInfo, ModelSheet, Resident
from atmosphere.router.residency import Held

HELLO = [{"role": "user", "content": "hello"}]
SMALL = "qwen2.5:0.5b"


def _chat(http, model: str) -> None:
    assert http.post("/api/chat", json={"model": model, "messages": HELLO, "stream": False}).status_code == 200


def test_ollama_list_prints_every_integrations_models_with_a_twelve_character_id(gateway):
    with gateway.client() as http:
        rows = {row[0]: row for row in cli.list_models(http)}
    assert {"llama3.2:latest", SMALL, "nomic-embed-text:latest", "fast", "coder-small"} <= set(rows)
    assert all(len(row[1]) == 12 for row in rows.values())
    assert rows["llama3.2:latest"][2] == "2019393189" and rows["fast"][3] == "ago"


def test_ollama_ps_lists_each_resident_model_once_with_a_time_until_it_unloads(gateway, backends):
    with gateway.client() as http:
        assert cli.ps(http) == []
        _chat(http, SMALL)
        _chat(http, SMALL)
        _chat(http, "llava")
        rows = cli.ps(http)
    names = [row[0] for row in rows]
    assert sorted(names) == ["llava:latest", SMALL]  # each once, however often it was used
    for name, ident, size, processor, context, until in rows:
        assert until == "from now", name  # not Go's zero time, which prints "Stopping..."
        assert len(ident) == 12 and int(size) > 0 and processor == "100% CPU" and context == "4096"


def test_ollama_ps_survives_a_host_whose_digest_or_expiry_it_could_not_print(gateway, backends):
    odd = next(m for m in backends.ollama.state.models if m.name == SMALL)
    odd.digest = "abc"  # the CLI slices digest[:12]: a short one would panic it
    with gateway.client() as http:
        _chat(http, SMALL)
        ((name, ident, *_rest, until),) = cli.ps(http)
    assert name == SMALL and len(ident) == 12 and until == "from now"
    # an expiry Go cannot parse would fail the whole listing; the host that does not say is "Forever"
    info = ModelInfo(id=SMALL)
    for sent in ("next tuesday", None, "2026-13-45T99:00:00Z"):
        entry = shapes.ps_entry(Held(SMALL, "ollama", info, Resident(model=SMALL, expires_at=sent, digest="sha256:1")))
        (decoded,) = cli.go_decode({"models": [entry]}, {"models": [cli.PROCESS_MODEL]})["models"]
        assert cli._human_time(decoded["expires_at"], "Never") == "Forever", sent
        assert len(decoded["digest"]) >= 12


def test_ollama_show_prints_the_model_table_for_every_model_and_names_an_unknown_one(gateway):
    with gateway.client() as http:
        names = [row[0] for row in cli.list_models(http)]
        tables = {name: cli.show(http, name) for name in names}  # none panics, none fails to decode
        with pytest.raises(cli.CliError) as unknown:
            cli.show(http, "nope")
    assert tables["llama3.2:latest"]["architecture"] == "llama"
    assert tables["llama3.2:latest"]["context length"] == "131072"  # the Ollama host's model_info
    assert tables["nomic-embed-text:latest"]["embedding length"] == "768"
    assert tables["fast"] == {"architecture": "", "parameters": "", "quantization": ""}  # model_info null: from details
    assert "not found" in str(unknown.value) and "nope" in str(unknown.value)


def test_ollama_show_never_passes_on_metadata_the_cli_would_crash_on():
    entry = CatalogModel(id="llava:latest", owned_by="ollama", created=0, info=ModelInfo(id="llava:latest"))
    readable = {"general.architecture": "llama", "general.parameter_count": 7, "llama.context_length": 4096}
    readable["llama.embedding_length"] = 4096
    projectors = [
        {"general.architecture": "clip"},  # 0.5.4 asserts four keys of a non-null projector_info
        {"general.architecture": "clip", "general.parameter_count": 1, "clip.vision.embedding_length": "1024"},
    ]
    for projector in projectors:
        body = shapes.show_body(entry, ModelSheet(metadata=readable, projector=projector))
        assert "projector_info" not in body
        cli_sees = cli.go_decode(body, cli.SHOW)
        assert cli_sees["model_info"] is not None and cli_sees["projector_info"] is None
    whole = {**projectors[0], "general.parameter_count": 1, "clip.vision.embedding_length": 1024}
    whole["clip.vision.projection_dim"] = 768
    assert shapes.show_body(entry, ModelSheet(metadata=readable, projector=whole))["projector_info"] == whole
    missing_key = {k: v for k, v in readable.items() if k != "llama.embedding_length"}
    assert shapes.show_body(entry, ModelSheet(metadata=missing_key))["model_info"] is None
    for odd_time in ("yesterday", "2026-12-08 10:00:00"):  # Go reads RFC 3339 only, or fails the whole show
        cli.go_decode(shapes.show_body(entry, ModelSheet(metadata=readable, modified_at=odd_time)), cli.SHOW)


def test_ollama_stop_unloads_the_model_so_ps_no_longer_lists_it(gateway, backends):
    with gateway.client() as http:
        _chat(http, SMALL)
        assert [row[0] for row in cli.ps(http)] == [SMALL]
        assert cli.stop(http, SMALL) == ""  # prints nothing on success
        assert cli.ps(http) == []
        assert cli.stop(http, "nope") == 'Error: couldn\'t find model "nope" to stop'
    assert SMALL not in backends.ollama.state.loaded
    sent = backends.ollama.state.recorded("/api/generate")[-1].json
    assert sent["model"] == SMALL and sent["keep_alive"] == 0  # the host told to unload it now


def test_ollama_run_answers_a_prompt_and_an_interactive_line_through_every_integration(gateway):
    with gateway.client() as http:
        one_shot = cli.run(http, "llama3.2", "Once upon")
        alias = cli.run(http, "fast", "Once upon")
        interactive = cli.run(http, SMALL)
        embedded = cli.run(http, "nomic-embed-text", "Once upon")
        unknown = cli.run(http, "nope")
    assert "Ollama emulator (llama3.2:latest)" in one_shot and "You said: Once upon" in one_shot
    assert "LlamaFarm emulator" in alias
    assert "Ollama emulator (qwen2.5:0.5b)" in interactive and "hello" in interactive
    assert len(orjson.loads(embedded)) == 768  # an embedding model prints the prompt's vector
    # show said 404, so the CLI tries to pull: the gateway says it does not, and which model is missing
    assert unknown.startswith("Error: 501 Not Implemented: model 'nope' not found") and "on the integration itself" in unknown
