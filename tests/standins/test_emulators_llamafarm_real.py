"""The LlamaFarm emulators do what a real 0.0.27 server and its Universal Runtime did (issue 11)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import orjson
import pytest

from atmosphere.standins import EmulatorSuite, start_all_in_process
from atmosphere.standins.llamafarm_chat import APOLOGY, MAX_ITERATIONS_MESSAGE, UPSTREAM_FAILURE
from atmosphere.standins.runtime import EMBEDDING_FAILURE, cache_key, preload
from atmosphere.standins.scenes import HOSTED_API_KEY, LOCAL_API_KEY, llamafarm_0027, real_world_projects

HI = [{"role": "user", "content": "hi there friend"}]


@pytest.fixture
def suite() -> Iterator[EmulatorSuite]:
    """Fresh emulators per test (several tests stop one of them); the real-world projects,
    with the `cpp` model's OpenAI-style server being the runtime emulator."""
    with start_all_in_process() as running:
        running.llamafarm.state.projects[:] = real_world_projects(running.runtime.url + "/v1")
        yield running


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def chat_url(suite: EmulatorSuite, project: str = "chatbot", namespace: str = "default") -> str:
    return f"{suite.llamafarm.url}/v1/projects/{namespace}/{project}/chat/completions"


def events(resp: httpx.Response) -> list[dict | str]:
    out: list[dict | str] = []
    for event in resp.text.split("\n\n"):
        if event.startswith("data: "):
            payload = event.removeprefix("data: ")
            out.append(payload if payload == "[DONE]" else orjson.loads(payload))
    return out


def components(body: dict) -> dict[str, dict]:
    return {c["name"]: c for c in body["components"]}


def test_health_says_healthy_with_the_runtime_and_ollama_down_and_lists_them(suite, http):
    up = http.get(suite.llamafarm.url + "/health").json()
    assert components(up)["universal-runtime"]["status"] == "healthy"
    assert components(up)["ollama"]["details"]["models"][0] == "llama3.2:latest"
    suite.runtime.stop()
    suite.ollama.stop()

    down = http.get(suite.llamafarm.url + "/health").json()

    assert down["status"] == "healthy"  # only server and storage count
    found = components(down)
    assert found["universal-runtime"]["status"] == "unhealthy"
    assert found["universal-runtime"]["details"]["host"] == suite.runtime.url
    assert found["ollama"]["status"] == "unhealthy" and found["ollama"]["details"] == {"host": suite.ollama.url}
    assert "universal-runtime=unhealthy" in down["summary"] and "ollama=unhealthy" in down["summary"]


def test_health_lists_the_models_the_runtime_has_loaded(suite, http):
    key = preload(suite.runtime.state, "language", "tiny/tiny-llama-GGUF")
    runtime = components(http.get(suite.llamafarm.url + "/health").json())["universal-runtime"]
    assert runtime["details"]["loaded_models"] == [key] and runtime["details"]["model_count"] == 1


def test_a_storage_failure_is_what_makes_the_verdict_unhealthy(suite, http):
    suite.llamafarm.state.set_fault("unhealthy")
    body = http.get(suite.llamafarm.url + "/health").json()
    assert body["status"] == "unhealthy" and components(body)["storage"]["status"] == "unhealthy"


async def test_a_slow_health_check_does_not_hold_up_liveness(suite):
    llamafarm_0027(suite.llamafarm.state)  # /health takes 1.2 s, as the real one
    async with httpx.AsyncClient(base_url=suite.llamafarm.url, timeout=5) as client:
        health = asyncio.create_task(client.get("/health"))
        liveness = await client.get("/health/liveness")
        assert liveness.json() == {"status": "alive"}
        assert not health.done()  # liveness answered while /health was still checking
        assert (await health).json()["status"] == "healthy"


def test_project_listing_fills_defaults_keeps_validation_errors_and_leaks_api_keys(suite, http):
    listed = http.get(suite.llamafarm.url + "/v1/projects/default").json()
    by_name = {p["name"]: p for p in listed["projects"]}
    assert listed["total"] == 4 and set(by_name) == {"chatbot", "notes", "hosted", "aaa-broken"}
    assert "validation_error" not in by_name["chatbot"]
    assert "provider" in by_name["aaa-broken"]["validation_error"]
    assert "default_model" not in by_name["notes"]["config"]["runtime"]  # created from the template
    cpp = by_name["chatbot"]["config"]["runtime"]["models"][1]
    assert cpp["api_key"] == LOCAL_API_KEY and cpp["tool_call_strategy"] == "native_api" and cpp["prompts"] == ["default"]
    team = http.get(suite.llamafarm.url + "/v1/projects/team").json()
    assert [(p["namespace"], p["name"]) for p in team["projects"]] == [("team", "chatbot")]
    assert http.get(suite.llamafarm.url + "/v1/projects/nobody").json() == {"total": 0, "projects": []}


def test_per_project_models_route_marks_the_default_and_returns_the_api_key(suite, http):
    hosted = http.get(suite.llamafarm.url + "/v1/projects/default/hosted/models").json()
    assert hosted["models"][0]["api_key"] == HOSTED_API_KEY and hosted["models"][0]["default"] is True
    notes = http.get(suite.llamafarm.url + "/v1/projects/default/notes/models").json()
    assert [m["default"] for m in notes["models"]] == [False, False]  # no default_model set


def test_a_project_with_a_validation_error_answers_422_project_config_error(suite, http):
    resp = http.post(chat_url(suite, "aaa-broken"), json={"messages": HI})
    assert resp.status_code == 422
    body = resp.json()
    assert body["error"] == "ProjectConfigError" and body["message"].startswith("Configuration validation error:")
    assert body["details"] is None


def test_a_project_deleted_since_the_listing_answers_422_or_404_as_switched(suite, http):
    suite.llamafarm.state.projects[:] = [p for p in suite.llamafarm.state.projects if p.name != "notes"]
    not_found = http.post(chat_url(suite, "notes"), json={"messages": HI})
    assert (not_found.status_code, not_found.json()["error"]) == (404, "ProjectNotFound")
    suite.llamafarm.state.missing_project_status = 422  # what 0.0.27 answers on the chat route
    gone = http.post(chat_url(suite, "notes"), json={"messages": HI})
    assert gone.status_code == 422 and gone.json()["error"] == "ProjectConfigError"
    assert "Directory does not exist" in gone.json()["message"] and gone.json()["message"].endswith("/default/notes")
    assert http.get(suite.llamafarm.url + "/v1/projects/default/notes").status_code == 404


def test_universal_answers_count_the_prompt_but_no_completion_tokens(suite, http):
    resp = http.post(chat_url(suite), json={"messages": HI, "model": "fast", "max_tokens": 3}, headers={"X-No-Session": "1"})
    answer = resp.json()
    assert answer["usage"] == {"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 3}
    assert answer["x_context_usage"]["prompt_tokens"] == 3 and answer["x_context_usage"]["total_context"] == 4096
    assert answer["choices"][0]["finish_reason"] == "stop"  # even though cut at 3 words
    assert answer["choices"][0]["message"]["content"] == "Hello from the"
    assert answer["model"] == "tiny/tiny-llama-GGUF" and len(answer["id"]) == len("chatcmpl-") + 32


def test_universal_streams_repeat_the_role_and_send_no_usage(suite, http):
    body = {"messages": HI, "model": "fast", "stream": True, "stream_options": {"include_usage": True}}
    chunks = events(http.post(chat_url(suite), json=body))
    assert chunks[-1] == "[DONE]"
    data = [c for c in chunks if isinstance(c, dict)]
    assert data[0]["choices"][0]["delta"] == {"content": "", "role": "assistant"}
    assert all(c["choices"][0]["delta"].get("role") == "assistant" for c in data[:-1])
    assert all("finish_reason" not in c["choices"][0] for c in data[:-1])
    assert data[-1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert not any("usage" in c for c in data)


@pytest.mark.parametrize("alias", ["cpp", "ollama"])
def test_a_stream_cut_on_length_repeats_ten_times_then_adds_the_canned_chunk(suite, http, alias):
    body = {"messages": HI, "model": alias, "stream": True, "max_tokens": 2}
    chunks = [c for c in events(http.post(chat_url(suite), json=body)) if isinstance(c, dict)]
    finishes = [c["choices"][0].get("finish_reason") for c in chunks if c["choices"][0].get("finish_reason")]
    assert finishes == ["length"] * 10 + ["stop"]
    assert len(chunks) == 10 * 3 + 1
    canned = chunks[-1]
    assert canned["choices"][0]["delta"]["content"] == MAX_ITERATIONS_MESSAGE
    assert canned["model"] == alias and canned["id"].startswith("chat-")
    if alias == "cpp":  # each generation of the openai provider is a new upstream answer
        assert len({c["id"] for c in chunks[:-1]}) == 10


def test_without_the_loop_switch_a_length_stream_ends_once(suite, http):
    suite.llamafarm.state.length_loop = False
    body = {"messages": HI, "model": "cpp", "stream": True, "max_tokens": 2}
    chunks = [c for c in events(http.post(chat_url(suite), json=body)) if isinstance(c, dict)]
    assert [c["choices"][0].get("finish_reason") for c in chunks] == [None, None, "length"]


def test_the_ollama_provider_ignores_max_tokens_when_not_streaming(suite, http):
    answer = http.post(chat_url(suite), json={"messages": HI, "model": "ollama", "max_tokens": 2}).json()
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"]["completion_tokens"] > 2
    assert answer["id"].removeprefix("chatcmpl-").isdigit()  # unix seconds


def test_a_dead_runtime_fails_its_models_but_not_the_others(suite, http):
    suite.runtime.stop()
    plain = http.post(chat_url(suite), json={"messages": HI, "model": "fast"})
    assert (plain.status_code, plain.json()) == (500, {"detail": UPSTREAM_FAILURE})
    masked = events(http.post(chat_url(suite), json={"messages": HI, "model": "fast", "stream": True}))
    assert masked[-1] == "[DONE]" and len(masked) == 2
    assert masked[0]["choices"][0] == {"index": 0, "delta": {"content": APOLOGY}, "finish_reason": "stop"}
    assert masked[0]["model"] == "fast" and masked[0]["id"].startswith("chat-")
    assert http.post(chat_url(suite), json={"messages": HI, "model": "ollama"}).status_code == 200


def test_a_hosted_base_url_is_never_contacted_and_answers(suite, http):
    resp = http.post(chat_url(suite, "hosted"), json={"messages": HI})
    assert resp.status_code == 200 and resp.json()["model"] == "gpt-4o-mini"


def test_an_unknown_alias_is_the_last_resort_500_with_the_request_id(suite, http):
    resp = http.post(chat_url(suite), json={"messages": HI, "model": "nope", "stream": True})
    assert resp.status_code == 500 and resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert body["error"] == "Internal Server Error" and body["request_id"] == resp.headers["x-request-id"]
    assert len(resp.headers["x-request-id"]) == 32


def test_a_session_id_is_kept_and_its_history_counted(suite, http):
    body = {"messages": HI, "model": "ollama"}
    first = http.post(chat_url(suite), json=body, headers={"X-Session-ID": "s-1"})
    second = http.post(chat_url(suite), json=body, headers={"X-Session-ID": "s-1"})
    stateless = http.post(chat_url(suite), json=body, headers={"X-No-Session": "true"})
    assert first.headers["x-session-id"] == second.headers["x-session-id"] == "s-1"
    assert second.json()["usage"]["prompt_tokens"] > first.json()["usage"]["prompt_tokens"]
    assert stateless.headers["x-session-id"] == ""
    assert http.post(chat_url(suite), json=body).headers["x-session-id"] not in ("", "s-1")


def test_the_runtime_cannot_load_an_embedding_model_it_does_not_have(suite, http):
    url = suite.runtime.url + "/v1/embeddings"
    suite.runtime.state.runtime_models.remove("sentence-transformers/all-MiniLM-L6-v2")
    failed = http.post(url, json={"model": "sentence-transformers/all-MiniLM-L6-v2", "input": "x"})
    assert (failed.status_code, failed.json()) == (500, {"detail": EMBEDDING_FAILURE})
    assert http.get(suite.runtime.url + "/health").json()["loaded_models"] == []


def test_the_runtime_lists_what_it_loaded_by_cache_key(suite, http):
    http.post(suite.runtime.url + "/v1/chat/completions", json={"model": "Qwen/Qwen2.5-0.5B-Instruct", "messages": HI})
    http.post(suite.runtime.url + "/v1/embeddings", json={"model": "sentence-transformers/all-MiniLM-L6-v2", "input": "x"})
    health = http.get(suite.runtime.url + "/health").json()
    assert health["loaded_models"] == [
        cache_key("language", "Qwen/Qwen2.5-0.5B-Instruct"),
        cache_key("encoder", "sentence-transformers/all-MiniLM-L6-v2"),
    ]
    assert health["loaded_models"][1].startswith("encoder:embedding:")
    assert "gpu_name" not in health["device"]  # CPU
    types = [m["type"] for m in http.get(suite.runtime.url + "/v1/models").json()["data"]]
    assert types == ["language", "encoder_embedding"]


def test_the_server_model_cache_lists_models_or_500s_without_a_cache_dir(suite, http):
    ids = [m["model_id"] for m in http.get(suite.llamafarm.url + "/v1/models").json()["data"]]
    assert "sentence-transformers/all-MiniLM-L6-v2" in ids
    suite.llamafarm.state.hf_cache = None
    missing = http.get(suite.llamafarm.url + "/v1/models")
    assert missing.status_code == 500 and "Cache directory not found" in missing.json()["detail"]


def test_the_version_can_be_a_branch_name_set_through_the_control_route(suite, http):
    url = suite.llamafarm.url
    assert http.post(url + "/_emulator/settings", json={"llamafarm_version": "main"}).status_code == 200
    assert http.get(url + "/info").json()["version"] == "main"
    refused = http.post(url + "/_emulator/settings", json={"no_such_knob": 1})
    assert refused.status_code == 400 and "no_such_knob" in refused.json()["error"]
    assert http.post(url + "/_emulator/settings", json={"health_delay": "slow"}).status_code == 400
