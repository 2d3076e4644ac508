"""Loading and unloading through the Ollama face and the dashboard: one router action
(``router.residency``) that reaches the host holding the model; ``/api/ps`` as those hosts
report it; ``:latest`` resolved once, before a request runs."""

from __future__ import annotations

import orjson
import pytest

HELLO = [{"role": "user", "content": "hello"}]
SMALL = "qwen2.5:0.5b"


def _loaded_on_ollama(backends) -> list[str]:
    return list(backends.ollama.state.loaded)


def test_ollama_stop_unloads_the_model_on_the_ollama_host_and_it_leaves_both_ps_lists(gateway, backends):
    with gateway.client() as http:
        assert http.post("/api/chat", json={"model": SMALL, "messages": HELLO, "stream": False}).status_code == 200
        assert SMALL in _loaded_on_ollama(backends)
        assert SMALL in [m["name"] for m in http.get("/api/ps").json()["models"]]
        # exactly what `ollama stop` sends: no prompt, keep_alive 0, streaming by default
        stopped = http.post("/api/generate", json={"model": "qwen2.5:0.5b", "keep_alive": 0})
        assert stopped.status_code == 200
        lines = [orjson.loads(line) for line in stopped.text.splitlines()]
        assert lines[-1]["done"] is True and lines[-1]["done_reason"] == "unload"
        assert SMALL not in _loaded_on_ollama(backends)
        sent = backends.ollama.state.recorded("/api/generate")[-1].json
        assert sent["model"] == SMALL and sent["keep_alive"] == 0
        assert SMALL not in [m["name"] for m in http.get("/api/ps").json()["models"]]
        backend_ps = http.get(backends.ollama.url + "/api/ps").json()["models"]
        assert SMALL not in [m["name"] for m in backend_ps]


def test_an_empty_chat_with_keep_alive_zero_unloads_too(gateway, backends):
    with gateway.client() as http:
        http.post("/api/chat", json={"model": SMALL, "messages": HELLO, "stream": False})
        answer = http.post("/api/chat", json={"model": SMALL, "messages": [], "keep_alive": "0s"}).json()
    assert answer["done_reason"] == "unload" and answer["message"] == {"role": "assistant", "content": ""}
    assert SMALL not in _loaded_on_ollama(backends)


def test_a_load_call_with_keep_alive_loads_the_model_on_its_host_for_that_long(gateway, backends):
    with gateway.client() as http:
        answer = http.post("/api/chat", json={"model": "llava", "messages": [], "keep_alive": "10m"}).json()
        assert answer["done_reason"] == "load"
        sent = backends.ollama.state.recorded("/api/generate")[-1].json
        assert sent == {"model": "llava:latest", "prompt": "", "stream": False, "keep_alive": "10m"}
        assert "llava:latest" in _loaded_on_ollama(backends)
        listed = {m["name"]: m for m in http.get("/api/ps").json()["models"]}
        backend_ps = {m["name"]: m for m in http.get(backends.ollama.url + "/api/ps").json()["models"]}
    # the host's own expiry and sizes, not Go's zero time
    assert listed["llava:latest"]["expires_at"] == backend_ps["llava:latest"]["expires_at"] != "0001-01-01T00:00:00Z"
    for field in ("size", "size_vram", "context_length", "digest"):
        assert listed["llava:latest"][field] == backend_ps["llava:latest"][field]


def test_stopping_an_unknown_model_is_a_404_whose_text_the_ollama_cli_reads_as_not_found(gateway):
    with gateway.client() as http:
        answer = http.post("/api/generate", json={"model": "nope", "keep_alive": 0})
    assert answer.status_code == 404
    assert "not found" in answer.json()["error"]  # StopHandler: couldn't find model "nope" to stop


def test_a_bad_keep_alive_is_a_400_naming_the_field(gateway):
    with gateway.client() as http:
        for value in ("forever", True, {"m": 5}):
            answer = http.post("/api/chat", json={"model": SMALL, "messages": [], "keep_alive": value})
            assert answer.status_code == 400 and "keep_alive" in answer.json()["error"], value


def test_a_models_file_name_is_not_listed_as_a_second_resident_model(gateway, backends):
    with gateway.client() as http:
        shared = {"name": "team-small", "members": {"ollama": SMALL}}
        assert http.post("/v1/models/equivalents", json=shared).status_code == 200
        http.post("/api/chat", json={"model": "team-small", "messages": HELLO, "stream": False})
        names = [m["name"] for m in http.get("/api/ps").json()["models"]]
        assert names.count(SMALL) == 1 and "team-small" not in names
        # and stopping the shared name unloads its member where it is held
        assert http.post("/api/generate", json={"model": "team-small", "keep_alive": 0}).json()["done_reason"] == "unload"
    assert SMALL not in _loaded_on_ollama(backends)


def test_a_latest_tag_on_a_llamafarm_alias_records_only_its_200(gateway):
    with gateway.client() as http:
        answer = http.post("/api/chat", json={"model": "fast:latest", "messages": HELLO, "stream": False})
        assert answer.status_code == 200 and "LlamaFarm emulator" in answer.json()["message"]["content"]
        logged = http.get("/v1/requests").json()["requests"]
    assert [(e["status"], e["backend"]) for e in logged] == [(200, "llamafarm")]


def test_dashboard_warm_up_of_a_model_the_host_does_not_list_is_a_404_saying_why(gateway):
    with gateway.client() as http:
        unknown = http.post("/v1/integrations/ollama/warm", json={"model": "nope"})
        assert unknown.status_code == 404
        error = unknown.json()["error"]
        assert error["code"] == "model_not_found" and "nope" in error["message"] and error["param"] == "model"
        assert http.post("/v1/integrations/nowhere/warm", json={"model": SMALL}).status_code == 404


@pytest.mark.parametrize("path", ["/api/generate", "/api/chat"])
def test_a_load_call_for_a_llamafarm_alias_answers_load_without_touching_ollama(gateway, backends, path):
    body = {"model": "fast", "keep_alive": "5m", **({"messages": []} if path == "/api/chat" else {})}
    with gateway.client() as http:
        answer = http.post(path, json=body)
    assert answer.status_code == 200 and orjson.loads(answer.text.splitlines()[-1])["done_reason"] == "load"
    assert backends.ollama.state.recorded("/api/generate") == []
