"""The LlamaFarm adapter: project-scoped chat, aliases as models, runtime embeddings, masked failures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from atmosphere.adapters.llamafarm import MASKED_FAILURE_PREFIX, LlamaFarmBackend
from atmosphere.domain import ChatChunk, ChatRequest, EmbedRequest, GenerateRequest, Usage
from atmosphere.errors import BackendFailure

LF = "http://lf.local"  # a LAN name: a public one would make every model a cloud model
RT = "http://rt.local"
EMBED = "sentence-transformers/all-MiniLM-L6-v2"

CHATBOT = {
    "namespace": "default",
    "name": "chatbot",
    "config": {
        "runtime": {
            "default_model": "smart",
            "models": [
                {"name": "fast", "provider": "ollama", "model": "llama3.2:3b"},
                {"name": "smart", "provider": "universal", "model": "unsloth/Qwen3-1.7B-GGUF:Q4_K_M"},
            ],
        }
    },
}


@pytest.fixture
async def backend() -> AsyncIterator[LlamaFarmBackend]:
    backend = LlamaFarmBackend(LF, runtime_url=RT, namespace="default", embed_model=EMBED, probe_timeout=1, request_timeout=5)
    yield backend
    await backend.aclose()


@pytest.fixture
def router() -> respx.MockRouter:
    with respx.mock(assert_all_called=False) as router:
        yield router


def serve_probe(
    router: respx.MockRouter,
    projects: list[dict[str, Any]] | None = None,
    *,
    health: dict[str, Any] | None = None,
    runtime: dict[str, Any] | None = None,
    cache: tuple[str, ...] = (EMBED,),
) -> None:
    router.get(f"{LF}/health/liveness").respond(200, json={"status": "alive"})
    router.get(f"{LF}/v1/models").respond(200, json={"data": [{"model_id": m, "size_bytes": 1} for m in cache]})
    router.get(f"{LF}/health").respond(200, json=health or {"status": "healthy", "summary": "server=healthy"})
    router.get(f"{LF}/info").respond(200, json={"version": "0.0.18", "data_directory": "/tmp/lf"})
    docs = [CHATBOT] if projects is None else projects
    router.get(f"{LF}/v1/projects/default").respond(200, json={"total": len(docs), "projects": docs})
    router.get(f"{RT}/health").respond(200, json=runtime or {"status": "healthy", "device": {"device": "cpu"}})


def sse(*events: dict[str, Any] | str) -> bytes:
    return b"".join(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events)


def chunk(delta: dict[str, Any], **choice: Any) -> dict[str, Any]:
    """A LlamaFarm chunk: nulls stripped, so no finish_reason key unless it is set."""
    return {
        "id": "chatcmpl-9f2c",
        "object": "chat.completion.chunk",
        "created": 1738600000,
        "model": "llama3.2:3b",
        "choices": [{"index": 0, "delta": delta, **choice}],
    }


def serve_stream(router: respx.MockRouter, body: bytes) -> respx.Route:
    return router.post(f"{LF}/v1/projects/default/chatbot/chat/completions").respond(
        200, content=body, headers={"Content-Type": "text/event-stream", "X-Session-ID": ""}
    )


async def collect(stream: AsyncIterator[ChatChunk], into: list[ChatChunk]) -> list[ChatChunk]:
    async for item in stream:
        into.append(item)
    return into


def hello(**extra: Any) -> ChatRequest:
    return ChatRequest(model="fast", messages=[{"role": "user", "content": "Say hi"}], **extra)


# --- discovery -------------------------------------------------------------------------


async def test_probe_lists_project_aliases_and_the_runtime_embedding_model(backend, router):
    serve_probe(router)

    result = await backend.probe()

    assert result.status == "healthy"
    assert result.error is None
    assert result.version == "0.0.18"
    assert [(m.id, m.project, m.backend_model, m.capabilities) for m in result.models] == [
        ("fast", "default/chatbot", "llama3.2:3b", ["chat", "generate"]),
        ("smart", "default/chatbot", "unsloth/Qwen3-1.7B-GGUF:Q4_K_M", ["chat", "generate"]),
        (EMBED, "universal-runtime", None, ["embeddings"]),
    ]
    assert result.capabilities == ["chat", "generate", "embeddings"]
    assert result.default_model == "smart"
    assert result.default_embedding_model == EMBED
    [project] = result.projects
    assert (project.namespace, project.name, project.default_model) == ("default", "chatbot", "smart")
    assert project.models == ["fast", "smart"]
    assert backend.resolve_model("fast") == "fast"
    assert backend.resolve_model(EMBED) == EMBED
    assert backend.resolve_model("llama3.2:3b") is None  # the model behind an alias is not a name clients use


@pytest.mark.parametrize(
    ("runtime", "aliases", "default", "backend_models"),
    [
        pytest.param(
            {
                "default_model": "smart",
                "models": [{"name": "fast", "model": "llama3.2:3b"}, {"name": "smart", "model": "qwen3:8b"}],
            },
            ["fast", "smart"],
            "smart",
            ["llama3.2:3b", "qwen3:8b"],
            id="list-of-models",
        ),
        pytest.param(
            {
                "models": {
                    "fast": {"provider": "ollama", "model": "llama3.2:3b"},
                    "writer": {"model": "mistral:7b", "default": True},
                }
            },
            ["fast", "writer"],
            "writer",
            ["llama3.2:3b", "mistral:7b"],
            id="dict-of-named-models",
        ),
        pytest.param(
            {"provider": "ollama", "model": "llama3.2:1b"},
            ["llama3.2:1b"],
            "llama3.2:1b",
            ["llama3.2:1b"],
            id="legacy-single-model",
        ),
    ],
)
async def test_probe_reads_every_runtime_shape_llamafarm_has_used(backend, router, runtime, aliases, default, backend_models):
    serve_probe(router, [{"namespace": "default", "name": "chatbot", "config": {"runtime": runtime}}])

    result = await backend.probe()

    chat_models = [m for m in result.models if "chat" in m.capabilities]
    assert [m.id for m in chat_models] == aliases
    assert [m.backend_model for m in chat_models] == backend_models
    assert {m.project for m in chat_models} == {"default/chatbot"}
    assert result.projects[0].default_model == default
    assert result.default_model == default
    assert all(backend.resolve_model(alias) == alias for alias in aliases)


async def test_a_model_name_two_projects_define_is_reachable_through_each_project(backend, router):
    serve_probe(
        router,
        [
            {"name": "zeta", "config": {"runtime": {"models": [{"name": "fast", "model": "llama3.2:3b"}]}}},
            {"name": "alpha", "config": {"runtime": {"models": [{"name": "fast", "model": "qwen3:8b"}]}}},
        ],
    )
    chat = router.post(f"{LF}/v1/projects/default/zeta/chat/completions").respond(
        200, json={"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}]}
    )

    result = await backend.probe()
    await backend.chat(hello(), "zeta/fast")

    assert [(m.id, m.project, m.backend_model) for m in result.models if m.capabilities != ["embeddings"]] == [
        ("alpha/fast", "default/alpha", "qwen3:8b"),
        ("zeta/fast", "default/zeta", "llama3.2:3b"),
    ]
    assert backend.resolve_model("fast") is None  # ambiguous: no bare name
    assert [p.name for p in result.projects] == ["alpha", "zeta"]
    assert json.loads(chat.calls.last.request.content)["model"] == "fast"  # the project's own name for it


async def test_probe_without_a_healthy_runtime_offers_no_embeddings(backend, router):
    serve_probe(router)
    router.get(f"{RT}/health").mock(side_effect=httpx.ConnectError)

    result = await backend.probe()

    assert result.status == "degraded"  # `smart` runs on the runtime
    assert result.error.startswith(f"smart not ready: the Universal Runtime at {RT} is down")
    assert result.capabilities == ["chat", "generate"]
    assert EMBED not in [m.id for m in result.models]
    assert result.default_embedding_model is None
    assert backend.resolve_model(EMBED) is None


async def test_probe_reports_error_when_llamafarm_says_it_is_unhealthy(backend, router):
    serve_probe(router, health={"status": "unhealthy", "summary": "server=healthy, ollama=unhealthy"})

    result = await backend.probe()

    assert result.status == "error"
    assert result.error == "unhealthy: server=healthy, ollama=unhealthy"
    assert result.models == []


async def test_probe_reports_offline_when_llamafarm_refuses_connections(backend, router):
    serve_probe(router)
    router.get(f"{LF}/health/liveness").mock(side_effect=httpx.ConnectError)

    result = await backend.probe()

    assert result.status == "offline"
    assert "liveness" in result.error and "connection refused" in result.error


async def test_probe_reports_error_when_the_port_serves_html(backend, router):
    serve_probe(router)
    router.get(f"{LF}/health/liveness").respond(200, html="<!doctype html><title>Designer</title>")

    result = await backend.probe()

    assert result.status == "error"
    assert "not JSON" in result.error


# --- chat ------------------------------------------------------------------------------


async def test_chat_goes_to_the_project_endpoint_statelessly_without_rag(backend, router):
    serve_probe(router)
    route = router.post(f"{LF}/v1/projects/default/chatbot/chat/completions").respond(
        200,
        json={
            "id": "chatcmpl-9f2c",
            "object": "chat.completion",
            "created": 1738600000,
            "model": "llama3.2:3b",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
            "thinking": {"content": "hmm", "tokens": None},
        },
    )
    await backend.probe()

    answer = await backend.chat(hello(max_tokens=64, temperature=0.3), "fast")

    request = route.calls.last.request
    assert request.headers["X-No-Session"] == "true"
    assert json.loads(request.content) == {
        "messages": [{"role": "user", "content": "Say hi"}],
        "model": "fast",
        "stream": False,
        "rag_enabled": False,
        "temperature": 0.3,
        "max_tokens": 64,
    }
    assert answer.model == "fast"  # the alias the client asked for, not the model behind it
    assert (answer.id, answer.created) == ("chatcmpl-9f2c", 1738600000)
    assert answer.content == "Hi!"
    assert answer.usage is None  # LlamaFarm counted nothing; the face reports zeros
    assert answer.reasoning is None


async def test_chat_keeps_usage_llamafarm_reported(backend, router):
    serve_probe(router)
    router.post(f"{LF}/v1/projects/default/chatbot/chat/completions").respond(
        200,
        json={
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
        },
    )
    await backend.probe()

    answer = await backend.chat(hello(), "fast")

    assert answer.usage == Usage(prompt_tokens=12, completion_tokens=3)
    assert answer.finish_reason == "stop"
    assert answer.id.startswith("chatcmpl-")


async def test_chat_failure_reported_as_detail_is_retryable_with_the_detail_text(backend, router):
    serve_probe(router)
    router.post(f"{LF}/v1/projects/default/chatbot/chat/completions").respond(
        500, json={"detail": "Chat service failed to generate a response: ollama unreachable"}
    )
    await backend.probe()

    with pytest.raises(BackendFailure) as caught:
        await backend.chat(hello(), "fast")

    assert caught.value.retryable is True
    assert caught.value.status == 500
    assert "Chat service failed to generate a response: ollama unreachable" in caught.value.reason


async def test_chat_for_an_alias_no_project_defines_fails_without_calling_llamafarm(backend, router):
    serve_probe(router)
    await backend.probe()
    calls_after_probe = len(router.calls)

    with pytest.raises(BackendFailure) as caught:
        await backend.chat(hello(), "ghost")

    assert "ghost" in caught.value.reason
    assert len(router.calls) == calls_after_probe


# --- chat stream -----------------------------------------------------------------------


async def test_chat_stream_relays_sse_chunks_until_done(backend, router):
    serve_probe(router)
    route = serve_stream(
        router,
        sse(
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hi"}),
            chunk({"content": " there"}),
            chunk({}, finish_reason="stop"),
            "[DONE]",
            chunk({"content": "after done, ignored"}),
        ),
    )
    await backend.probe()

    chunks = await collect(backend.chat_stream(hello(), "fast"), [])

    assert json.loads(route.calls.last.request.content)["stream"] is True
    assert route.calls.last.request.headers["X-No-Session"] == "true"
    assert [(c.role, c.content) for c in chunks] == [("assistant", ""), (None, "Hi"), (None, " there"), (None, None)]
    assert [c.finish_reason for c in chunks] == [None, None, None, "stop"]
    assert {c.model for c in chunks} == {"fast"}


async def test_chat_stream_adds_a_zero_usage_chunk_when_asked_and_llamafarm_sent_none(backend, router):
    serve_probe(router)
    serve_stream(router, sse(chunk({"role": "assistant", "content": "Hi"}), chunk({}, finish_reason="stop"), "[DONE]"))
    await backend.probe()

    chunks = await collect(backend.chat_stream(hello(include_usage=True), "fast"), [])

    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 0
    assert not chunks[-1].has_content
    assert len(chunks) == 3


async def test_chat_stream_detects_the_masked_failure_before_yielding_anything(backend, router):
    serve_probe(router)
    serve_stream(
        router,
        sse(
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": MASKED_FAILURE_PREFIX + " Let me try again with a clearer answer."}),
            chunk({}, finish_reason="stop"),
            "[DONE]",
        ),
    )
    await backend.probe()
    received: list[ChatChunk] = []

    with pytest.raises(BackendFailure) as caught:
        await collect(backend.chat_stream(hello(), "fast"), received)

    assert received == []  # nothing reached the client, so the executor can still fall back
    assert caught.value.retryable is True
    assert "masked-failure" in caught.value.reason


async def test_chat_stream_without_done_raises(backend, router):
    serve_probe(router)
    serve_stream(router, sse(chunk({"role": "assistant", "content": "Hi"}), chunk({"content": " the"})))
    await backend.probe()
    received: list[ChatChunk] = []

    with pytest.raises(BackendFailure) as caught:
        await collect(backend.chat_stream(hello(), "fast"), received)

    assert "[DONE]" in caught.value.reason
    assert all(c.finish_reason is None for c in received)


async def test_chat_stream_that_is_not_an_event_stream_fails_before_any_chunk(backend, router):
    serve_probe(router)
    router.post(f"{LF}/v1/projects/default/chatbot/chat/completions").respond(200, html="<!doctype html>")
    await backend.probe()
    received: list[ChatChunk] = []

    with pytest.raises(BackendFailure):
        await collect(backend.chat_stream(hello(), "fast"), received)

    assert received == []


async def test_generate_streams_through_the_project_chat_as_one_user_turn(backend, router):
    serve_probe(router)
    route = serve_stream(
        router, sse(chunk({"role": "assistant", "content": "Once"}), chunk({}, finish_reason="length"), "[DONE]")
    )
    await backend.probe()

    req = GenerateRequest(model="fast", prompt="Continue: once", system="Be brief.", max_tokens=5)
    chunks = await collect(backend.generate_stream(req, "fast"), [])

    sent = json.loads(route.calls.last.request.content)
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Continue: once"}]
    assert (sent["stream"], sent["max_tokens"]) == (True, 5)
    assert [c.content for c in chunks] == ["Once", None] and chunks[-1].finish_reason == "length"


async def test_a_snapshot_of_llamafarm_lists_its_projects_only_while_healthy(backend, router):
    serve_probe(router)
    result = await backend.probe()

    assert [p["name"] for p in backend.describe(result)["projects"]] == ["chatbot"]
    assert backend.describe(None) == {"projects": []}


# --- embeddings ------------------------------------------------------------------------


async def test_embed_goes_to_the_universal_runtime(backend, router):
    serve_probe(router)
    route = router.post(f"{RT}/v1/embeddings").respond(
        200,
        json={
            "object": "list",
            "model": EMBED,
            "data": [
                {"object": "embedding", "index": 1, "embedding": [0.3, 0.4]},
                {"object": "embedding", "index": 0, "embedding": [0.1, 0.2]},
            ],
            "usage": {"prompt_tokens": 0, "total_tokens": 0},
        },
    )
    await backend.probe()

    result = await backend.embed(EmbedRequest(model=EMBED, inputs=["alpha", "beta"]), EMBED)

    sent = json.loads(route.calls.last.request.content)
    assert sent == {"model": EMBED, "input": ["alpha", "beta"], "encoding_format": "float"}
    assert result.vectors == [[0.1, 0.2], [0.3, 0.4]]  # back in input order
    assert result.usage.prompt_tokens == 0


async def test_embed_failing_on_the_runtime_is_a_backend_failure(backend, router):
    router.post(f"{RT}/v1/embeddings").respond(500, json={"detail": "model failed to load"})

    with pytest.raises(BackendFailure) as caught:
        await backend.embed(EmbedRequest(model=EMBED, inputs=["alpha"]), EMBED)

    assert caught.value.retryable is True
    assert "model failed to load" in caught.value.reason
