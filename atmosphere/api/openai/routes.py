"""The OpenAI face's routes: ``/v1/chat/completions``, ``/v1/completions`` (legacy text
completions), ``/v1/embeddings``, ``/v1/models``.

Parse the OpenAI request into a domain request (``parse``), hand it to the executor, render
the result back (``render``); streams are framed by ``streaming/sse``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from atmosphere import jsonfast
from atmosphere.api.body import read_json
from atmosphere.api.common import body_limit, chunks_of, executor, json_response, midstream_failure, served_headers
from atmosphere.api.middleware.context import surfaces
from atmosphere.api.openai.parse import parse_chat_request, parse_completion_request, parse_embed_request
from atmosphere.api.openai.render import (
    ChunkEvents,
    completion_body,
    embeddings_body,
    model_body,
    text_completion_body,
    text_completion_chunk_body,
)
from atmosphere.api.streaming.sse import SSE_DONE, sse_comment, sse_event
from atmosphere.api.streaming.waiting import StreamForm, stream_with_heartbeat, until_disconnected
from atmosphere.domain import ChatChunk, GenerateRequest, Usage
from atmosphere.errors import UpstreamError
from atmosphere.router.executor import Executor, Served, StartedStream

log = logging.getLogger("atmosphere.api")
router = APIRouter(prefix="/v1")
SURFACES = surfaces(
    router, {"/chat/completions": "openai.chat", "/completions": "openai.completions", "/embeddings": "openai.embeddings"}
)


@router.post("/chat/completions")
async def chat_completions(request: Request) -> Response:
    req = parse_chat_request(await read_json(request, body_limit(request)))
    req.session_id = request.headers.get("x-session-id")  # LlamaFarm keeps that conversation
    if not req.stream:
        served = await until_disconnected(request, executor(request).chat(req))
        return json_response(completion_body(served.value), headers=served_headers(served))

    def events(started: Served[StartedStream]) -> AsyncIterator[bytes]:
        return chat_events(started.value, ChunkEvents(req.include_usage))

    return await stream_with_heartbeat(request, executor(request).chat_stream(req), events, OPENAI_STREAM)


# After the heartbeat: ": waiting for <backend>" comments, then a failure as the error event and [DONE].
OPENAI_STREAM = StreamForm(keepalive=sse_comment, failure=lambda error: sse_event(error.body()) + SSE_DONE)


async def openai_events(bodies: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """OpenAI's SSE framing for chat and text completions (``data:`` events, ``[DONE]``).

    Forward chunks as they arrive. The backend is committed now: a failure ends the
    stream with an OpenAI error event and [DONE] rather than switching backends."""
    try:
        async for body in bodies:
            yield sse_event(jsonfast.dumps(body))
    except Exception as exc:  # noqa: BLE001 - whatever broke, the client gets an error event and [DONE]
        yield sse_event(UpstreamError(midstream_failure(exc), []).body())
    yield SSE_DONE


async def chat_events(stream: StartedStream, frames: ChunkEvents) -> AsyncIterator[bytes]:
    """``openai_events`` for chat chunks, in one pass: each chunk framed as it comes
    (``ChunkEvents``); a failure ends the stream with an OpenAI error event and [DONE]."""
    try:
        yield frames.event(stream.first)
        async for chunk in stream.rest:
            yield frames.event(chunk)
    except Exception as exc:  # noqa: BLE001 - whatever broke, the client gets an error event and [DONE]
        yield sse_event(UpstreamError(midstream_failure(exc), []).body())
    yield SSE_DONE


@router.get("/models")
async def list_models(request: Request) -> Response:
    return json_response({"object": "list", "data": [model_body(m) for m in executor(request).models()]})


@router.get("/models/{model_id:path}")
async def get_model(model_id: str, request: Request) -> Response:
    return json_response(model_body(executor(request).model(model_id)))


@router.post("/embeddings")
async def embeddings(request: Request) -> Response:
    req = parse_embed_request(await read_json(request, body_limit(request)))
    served = await until_disconnected(request, executor(request).embed(req))
    return json_response(embeddings_body(served.value, served.model, req.encoding_format), headers=served_headers(served))


# --- legacy text completions -------------------------------------------------------------
# ``POST /v1/completions`` runs as a generation: clients such as LlamaIndex's ``OpenAILike`` and older
# tools still call it. Each prompt is one ``GenerateRequest`` (several prompts answer as several
# choices, in turn when streamed); ``suffix`` reaches backends that can fill in the middle (Ollama),
# ``echo`` is refused because no backend here returns the prompt with its completion. There is no
# default ``max_tokens`` (OpenAI's is 16): the backend's own limit applies, as with chat.

_EXAMPLE = {"model": "llama3.2", "prompt": "Once upon a time", "max_tokens": 32, "stream": False}


@router.post(
    "/completions",
    tags=["OpenAI"],
    summary="Text completion (legacy OpenAI completions)",
    openapi_extra={"requestBody": {"content": {"application/json": {"example": _EXAMPLE}}, "required": True}},
)
async def completions(request: Request) -> Response:
    prompts, req = parse_completion_request(await read_json(request, body_limit(request)))
    run = executor(request)
    if req.stream:

        def events(started: Served[StartedStream]) -> AsyncIterator[bytes]:
            chunks = _prompts_in_turn(run, req, prompts, started.value)
            return openai_events(text_completion_chunk_body(c, i, req.include_usage) async for c, i in chunks)

        return await stream_with_heartbeat(request, run.generate_stream(req), events, OPENAI_STREAM)
    answers = asyncio.gather(*(run.generate(dataclasses.replace(req, prompt=p)) for p in prompts))
    served = await until_disconnected(request, answers)
    return json_response(text_completion_body([s.value for s in served]), headers=served_headers(served[0]))


async def _prompts_in_turn(
    run: Executor, req: GenerateRequest, prompts: list[str], started: StartedStream
) -> AsyncIterator[tuple[ChatChunk, int]]:
    """Every prompt's chunks with its choice index, one prompt after the other, under the
    first prompt's id; usage is summed into one report at the end. A later prompt is
    planned when its turn comes, so a failure there ends the stream like a cut."""
    first, total = started.first, Usage()
    for index, prompt in enumerate(prompts):
        stream = started if index == 0 else (await run.generate_stream(dataclasses.replace(req, prompt=prompt))).value
        async for chunk in chunks_of(stream):
            if chunk.usage is not None and not chunk.has_content:
                total.prompt_tokens += chunk.usage.prompt_tokens
                total.completion_tokens += chunk.usage.completion_tokens
                continue
            if chunk.content or chunk.finish_reason or index == 0:
                yield dataclasses.replace(chunk, id=first.id, created=first.created, model=first.model), index
    if req.include_usage:
        yield ChatChunk(first.id, first.created, first.model, usage=total), 0
