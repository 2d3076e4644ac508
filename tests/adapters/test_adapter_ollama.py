"""The Ollama adapter speaks Ollama's native /api dialect and hands back OpenAI shapes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from atmosphere.adapters.ollama import OllamaBackend
from atmosphere.domain import ChatChunk, ChatRequest, EmbedRequest, GenerateRequest, ToolCall, Usage
from atmosphere.errors import BackendFailure

URL = "http://ollama.local"  # a LAN name: a public one would make every model a cloud model

LLAMA = {
    "name": "llama3.2:latest",
    "model": "llama3.2:latest",
    "size": 2019393189,
    "digest": "a" * 64,
    "details": {"format": "gguf", "family": "llama", "parameter_size": "3.2B", "quantization_level": "Q4_K_M"},
}
NOMIC = {
    "name": "nomic-embed-text:latest",
    "model": "nomic-embed-text:latest",
    "size": 274302450,
    "digest": "b" * 64,
    "details": {"format": "gguf", "family": "nomic-bert", "parameter_size": "137M", "quantization_level": "F16"},
}
LLAVA = {
    "name": "llava:7b",
    "model": "llava:7b",
    "size": 4733363377,
    "digest": "c" * 64,
    "details": {"format": "gguf", "family": "llama", "parameter_size": "7B", "quantization_level": "Q4_0"},
}


@pytest.fixture
async def backend() -> AsyncIterator[OllamaBackend]:
    backend = OllamaBackend(URL, probe_timeout=1, request_timeout=5)
    yield backend
    await backend.aclose()


@pytest.fixture
def ollama() -> respx.MockRouter:
    with respx.mock(base_url=URL, assert_all_called=False) as router:
        yield router


def serve_tags(router: respx.MockRouter, *models: dict[str, Any], version: str = "0.12.3") -> None:
    router.get("/api/version").respond(200, json={"version": version})
    router.get("/api/tags").respond(200, json={"models": list(models)})


def ndjson(*lines: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def sent_json(route: respx.Route) -> dict[str, Any]:
    return json.loads(route.calls.last.request.content)


async def collect(stream: AsyncIterator[ChatChunk], into: list[ChatChunk]) -> list[ChatChunk]:
    async for chunk in stream:
        into.append(chunk)
    return into


def hello(**extra: Any) -> ChatRequest:
    return ChatRequest(model="llama3.2", messages=[{"role": "user", "content": "Hi"}], **extra)


# --- discovery -------------------------------------------------------------------------


async def test_probe_lists_each_model_with_its_details_and_capabilities(backend, ollama):
    serve_tags(
        ollama,
        {**NOMIC, "capabilities": ["embedding"]},
        {**LLAMA, "capabilities": ["completion", "tools"]},
        {**LLAVA, "capabilities": ["completion", "vision"]},
    )
    show = ollama.post("/api/show")

    result = await backend.probe()

    assert result.status == "healthy"
    assert result.error is None
    assert result.version == "0.12.3"
    by_id = {m.id: m for m in result.models}
    assert list(by_id) == ["nomic-embed-text:latest", "llama3.2:latest", "llava:7b"]
    llama = by_id["llama3.2:latest"]
    assert (llama.family, llama.parameter_size, llama.quantization, llama.size) == ("llama", "3.2B", "Q4_K_M", 2019393189)
    assert llama.capabilities == ["chat", "generate", "tools"]
    assert by_id["nomic-embed-text:latest"].capabilities == ["embeddings"]
    assert by_id["llava:7b"].capabilities == ["chat", "generate", "vision"]
    assert result.capabilities == ["chat", "generate", "embeddings", "vision", "tools"]
    assert result.default_model == "llama3.2:latest"  # the first chat model, not the embedder listed before it
    assert result.default_embedding_model == "nomic-embed-text:latest"
    assert result.latency_ms is not None
    assert not show.called  # capabilities came with the tags; no per-model lookups


async def test_probe_on_an_older_server_asks_api_show_for_capabilities(backend, ollama):
    serve_tags(ollama, LLAVA, version="0.6.4")
    show = ollama.post("/api/show").respond(200, json={"capabilities": ["completion", "vision", "tools"]})

    result = await backend.probe()

    assert result.status == "healthy"
    assert sent_json(show) == {"model": "llava:7b"}
    assert result.models[0].capabilities == ["chat", "generate", "vision", "tools"]


async def test_probe_guesses_capabilities_from_the_name_when_show_reports_none(backend, ollama):
    unknown_family = {**NOMIC, "details": {**NOMIC["details"], "family": "nomic"}}  # only the name says "embed"
    serve_tags(ollama, unknown_family, LLAMA, version="0.5.0")
    show = ollama.post("/api/show").respond(200, json={"details": {"family": "llama"}})

    result = await backend.probe()

    assert show.call_count == 2
    caps = {m.id: m.capabilities for m in result.models}
    assert caps == {"nomic-embed-text:latest": ["embeddings"], "llama3.2:latest": ["chat", "generate"]}
    assert result.default_model == "llama3.2:latest"
    assert result.default_embedding_model == "nomic-embed-text:latest"


async def test_probe_reports_offline_when_ollama_refuses_connections(backend, ollama):
    ollama.get("/api/version").mock(side_effect=httpx.ConnectError)
    ollama.get("/api/tags").mock(side_effect=httpx.ConnectError)

    result = await backend.probe()

    assert result.status == "offline"
    assert "connection refused" in result.error
    assert result.models == []


async def test_probe_reports_error_when_ollama_answers_500(backend, ollama):
    ollama.get("/api/version").respond(200, json={"version": "0.12.3"})
    ollama.get("/api/tags").respond(500, json={"error": "disk on fire"})

    result = await backend.probe()

    assert result.status == "error"
    assert "HTTP 500" in result.error and "disk on fire" in result.error


async def test_probe_reports_error_when_the_port_answers_something_that_is_not_json(backend, ollama):
    ollama.get("/api/version").respond(200, text="<html>not ollama</html>")
    ollama.get("/api/tags").respond(200, text="<html>not ollama</html>")

    result = await backend.probe()

    assert result.status == "error"
    assert "not JSON" in result.error


async def test_resolve_model_accepts_a_name_without_tag_once_probed(backend, ollama):
    assert backend.resolve_model("llama3.2") is None  # nothing known before the first probe
    serve_tags(ollama, {**LLAMA, "capabilities": ["completion"]})

    await backend.probe()

    assert backend.resolve_model("llama3.2") == "llama3.2:latest"
    assert backend.resolve_model("llama3.2:latest") == "llama3.2:latest"
    assert backend.resolve_model("mistral") is None


# --- chat ------------------------------------------------------------------------------


async def test_chat_translates_the_openai_request_into_ollama_native_body(backend, ollama):
    route = ollama.post("/api/chat").respond(
        200, json={"message": {"role": "assistant", "content": "A cat."}, "done": True, "done_reason": "stop"}
    )
    req = ChatRequest(
        model="llava",
        messages=[
            {"role": "developer", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    {"type": "text", "text": "in this picture?"},
                ],
            },
        ],
        temperature=0.2,
        top_p=0.9,
        max_tokens=64,
        seed=7,
        stop=["\n\n"],
    )

    await backend.chat(req, "llava:7b")

    body = sent_json(route)
    assert body["model"] == "llava:7b"
    assert body["stream"] is False  # explicit, or Ollama would answer NDJSON
    assert body["options"] == {"temperature": 0.2, "top_p": 0.9, "seed": 7, "stop": ["\n\n"], "num_predict": 64}
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is\nin this picture?", "images": ["iVBORw0KGgo="]},
    ]


async def test_chat_answer_becomes_an_openai_chat_completion_with_usage(backend, ollama):
    ollama.post("/api/chat").respond(
        200,
        json={
            "model": "llama3.2:latest",
            "message": {"role": "assistant", "content": "Once upon a"},
            "done": True,
            "done_reason": "length",
            "prompt_eval_count": 26,
            "eval_count": 3,
        },
    )

    answer = await backend.chat(hello(max_tokens=3), "llama3.2:latest")

    assert answer.id.startswith("chatcmpl-")
    assert answer.model == "llama3.2:latest"
    assert (answer.content, answer.finish_reason, answer.tool_calls) == ("Once upon a", "length", [])
    assert answer.usage == Usage(prompt_tokens=26, completion_tokens=3)


async def test_chat_turns_native_tool_calls_into_openai_tool_calls(backend, ollama):
    ollama.post("/api/chat").respond(
        200,
        json={
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"function": {"index": 0, "name": "get_weather", "arguments": {"city": "Tokyo"}}}],
            },
            "done": True,
            "done_reason": "stop",
        },
    )

    answer = await backend.chat(hello(), "llama3.2:latest")

    assert answer.finish_reason == "tool_calls"
    [call] = answer.tool_calls
    assert isinstance(call, ToolCall) and call.id.startswith("call_")
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Tokyo"}  # JSON text, as OpenAI carries it
    assert answer.usage == Usage()


async def test_chat_for_an_unknown_model_is_a_retryable_404(backend, ollama):
    ollama.post("/api/chat").respond(404, json={"error": "model 'ghost' not found"})

    with pytest.raises(BackendFailure) as caught:
        await backend.chat(hello(), "ghost:latest")

    assert caught.value.status == 404
    assert caught.value.retryable is True
    assert "model 'ghost' not found" in caught.value.reason


async def test_chat_that_ollama_rejects_as_bad_request_is_not_retried_elsewhere(backend, ollama):
    ollama.post("/api/chat").respond(400, json={"error": '"nomic-embed-text" does not support chat'})

    with pytest.raises(BackendFailure) as caught:
        await backend.chat(hello(), "nomic-embed-text:latest")

    assert caught.value.status == 400
    assert caught.value.retryable is False
    assert "does not support chat" in caught.value.reason


async def test_chat_when_ollama_is_down_is_an_unreachable_failure(backend, ollama):
    ollama.post("/api/chat").mock(side_effect=httpx.ConnectError)

    with pytest.raises(BackendFailure) as caught:
        await backend.chat(hello(), "llama3.2:latest")

    assert caught.value.kind == "unreachable"
    assert caught.value.retryable is True


# --- chat stream -----------------------------------------------------------------------


async def test_chat_stream_turns_ollama_ndjson_into_openai_chunks(backend, ollama):
    route = ollama.post("/api/chat").respond(
        200,
        content=ndjson(
            {"message": {"role": "assistant", "content": "The"}, "done": False},
            {"message": {"role": "assistant", "content": " sky"}, "done": False},
            {
                "message": {"role": "assistant", "content": ""},
                "done": True,
                "done_reason": "stop",
                "prompt_eval_count": 26,
                "eval_count": 2,
            },
        ),
        headers={"Content-Type": "application/x-ndjson"},
    )

    chunks = await collect(backend.chat_stream(hello(include_usage=True), "llama3.2:latest"), [])

    assert sent_json(route)["stream"] is True
    assert [(c.role, c.content) for c in chunks[:3]] == [("assistant", "The"), (None, " sky"), (None, None)]
    assert [c.finish_reason for c in chunks[:3]] == [None, None, "stop"]
    usage = chunks[3]
    assert not usage.has_content
    assert usage.usage == Usage(prompt_tokens=26, completion_tokens=2)
    assert len(chunks) == 4
    assert len({c.id for c in chunks}) == 1
    assert {c.model for c in chunks} == {"llama3.2:latest"}


async def test_chat_stream_sends_no_usage_chunk_unless_asked(backend, ollama):
    ollama.post("/api/chat").respond(
        200,
        content=ndjson(
            {"message": {"role": "assistant", "content": "Hi"}, "done": False},
            {"message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "length", "eval_count": 1},
        ),
    )

    chunks = await collect(backend.chat_stream(hello(), "llama3.2:latest"), [])

    assert len(chunks) == 2
    assert (chunks[-1].content, chunks[-1].finish_reason) == (None, "length")
    assert all(c.usage is None for c in chunks)


async def test_chat_stream_finishes_with_tool_calls_when_a_call_arrived_before_the_last_line(backend, ollama):
    ollama.post("/api/chat").respond(
        200,
        content=ndjson(
            {
                "message": {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"function": {"index": 0, "name": "get_weather", "arguments": {"city": "Tokyo"}}}],
                },
                "done": False,
            },
            {
                "message": {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"function": {"index": 1, "name": "get_time", "arguments": {"tz": "JST"}}}],
                },
                "done": False,
            },
            {"message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop"},
        ),
    )

    chunks = await collect(backend.chat_stream(hello(), "llama3.2:latest"), [])

    calls = [call for c in chunks for call in c.tool_calls]
    assert [(call.index, call.name) for call in calls] == [(0, "get_weather"), (1, "get_time")]
    assert all(call.id for call in calls)
    assert json.loads(calls[0].arguments) == {"city": "Tokyo"}
    assert chunks[-1].finish_reason == "tool_calls"


async def test_chat_stream_raises_when_ollama_reports_an_error_mid_stream(backend, ollama):
    ollama.post("/api/chat").respond(
        200,
        content=ndjson(
            {"message": {"role": "assistant", "content": "The"}, "done": False},
            {"error": "llama runner process has terminated"},
        ),
    )
    received: list[ChatChunk] = []

    with pytest.raises(BackendFailure) as caught:
        await collect(backend.chat_stream(hello(), "llama3.2:latest"), received)

    assert [c.content for c in received] == ["The"]
    assert "llama runner process has terminated" in caught.value.reason


async def test_chat_stream_cut_before_its_done_line_raises(backend, ollama):
    ollama.post("/api/chat").respond(
        200,
        content=ndjson(
            {"message": {"role": "assistant", "content": "The"}, "done": False},
            {"message": {"role": "assistant", "content": " sky"}, "done": False},
        ),
    )
    received: list[ChatChunk] = []

    with pytest.raises(BackendFailure) as caught:
        await collect(backend.chat_stream(hello(), "llama3.2:latest"), received)

    assert len(received) == 2
    assert all(c.finish_reason is None for c in received)
    assert "final line" in caught.value.reason


async def test_chat_stream_for_an_unknown_model_fails_before_any_chunk(backend, ollama):
    ollama.post("/api/chat").respond(404, json={"error": "model 'ghost' not found"})
    received: list[ChatChunk] = []

    with pytest.raises(BackendFailure) as caught:
        await collect(backend.chat_stream(hello(), "ghost:latest"), received)

    assert received == []
    assert caught.value.status == 404
    assert caught.value.retryable is True


# --- generate and embeddings -----------------------------------------------------------


async def test_generate_posts_a_non_streaming_prompt_and_returns_text_and_usage(backend, ollama):
    route = ollama.post("/api/generate").respond(
        200,
        json={"response": "Hello there.", "done": True, "done_reason": "stop", "prompt_eval_count": 17, "eval_count": 3},
    )

    result = await backend.generate(
        GenerateRequest(model="llama3.2", prompt="Say hello", max_tokens=10, temperature=0.0), "llama3.2:latest"
    )

    assert sent_json(route) == {
        "model": "llama3.2:latest",
        "prompt": "Say hello",
        "stream": False,
        "options": {"temperature": 0.0, "num_predict": 10},
    }
    assert (result.content, result.model, result.finish_reason) == ("Hello there.", "llama3.2:latest", "stop")
    assert result.usage == Usage(prompt_tokens=17, completion_tokens=3)


async def test_generate_stream_sends_the_suffix_and_relays_each_piece(backend, ollama):
    route = ollama.post("/api/generate").respond(
        200,
        content=ndjson(
            {"response": "def ", "done": False},
            {"response": "add", "done": False},
            {"response": "", "done": True, "done_reason": "length", "prompt_eval_count": 9, "eval_count": 2},
        ),
    )

    req = GenerateRequest(model="qwen2.5-coder", prompt="def ", suffix="    return a + b", include_usage=True)
    chunks = await collect(backend.generate_stream(req, "qwen2.5-coder:latest"), [])

    sent = sent_json(route)
    assert (sent["stream"], sent["suffix"]) == (True, "    return a + b")
    assert [c.content for c in chunks[:3]] == ["def ", "add", None]
    assert chunks[2].finish_reason == "length"
    assert chunks[3].usage == Usage(prompt_tokens=9, completion_tokens=2)


async def test_generate_stream_cut_before_its_done_line_raises(backend, ollama):
    ollama.post("/api/generate").respond(200, content=ndjson({"response": "def ", "done": False}))

    with pytest.raises(BackendFailure, match="final line"):
        await collect(backend.generate_stream(GenerateRequest(model="m", prompt="def "), "m:latest"), [])


async def test_embed_sends_every_input_and_returns_one_vector_each(backend, ollama):
    route = ollama.post("/api/embed").respond(
        200,
        json={"model": "nomic-embed-text", "embeddings": [[0.1, 0.2], [0.3, 0.4]], "prompt_eval_count": 8},
    )

    result = await backend.embed(EmbedRequest(model="nomic-embed-text", inputs=["first", "second"]), "nomic-embed-text:latest")

    assert sent_json(route) == {"model": "nomic-embed-text:latest", "input": ["first", "second"]}
    assert result.vectors == [[0.1, 0.2], [0.3, 0.4]]
    assert result.usage.prompt_tokens == 8


async def test_embed_with_a_vector_missing_is_a_failure(backend, ollama):
    ollama.post("/api/embed").respond(200, json={"embeddings": [[0.1, 0.2]]})

    with pytest.raises(BackendFailure):
        await backend.embed(EmbedRequest(model="nomic-embed-text", inputs=["first", "second"]), "nomic-embed-text:latest")


async def test_embed_on_an_ollama_older_than_0_2_6_uses_the_legacy_route_per_input(backend, ollama):
    ollama.post("/api/embed").respond(404, text="404 page not found")  # gin's answer for a missing route
    legacy = ollama.post("/api/embeddings")
    legacy.side_effect = lambda request: httpx.Response(
        200, json={"embedding": [len(json.loads(request.content)["prompt"]), 0.5]}
    )

    result = await backend.embed(EmbedRequest(model="nomic-embed-text", inputs=["a", "bbb"]), "nomic-embed-text:latest")

    assert result.vectors == [[1, 0.5], [3, 0.5]]  # in input order
    assert legacy.call_count == 2


async def test_embed_for_a_missing_model_does_not_try_the_legacy_route(backend, ollama):
    ollama.post("/api/embed").respond(404, json={"error": "model 'nope' not found"})
    legacy = ollama.post("/api/embeddings")

    with pytest.raises(BackendFailure, match="not found"):
        await backend.embed(EmbedRequest(model="nope", inputs=["a"]), "nope:latest")
    assert legacy.call_count == 0
