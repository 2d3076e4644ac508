"""The OpenAI face: ``/v1/chat/completions``, ``/v1/embeddings``, ``/v1/models``
(legacy ``/v1/completions`` is beside it, in ``completions``).

Parse the OpenAI request into a domain request, hand it to the executor, render the
result back (``openai_shapes``); streams are framed by ``sse``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from atmosphere import jsonfast
from atmosphere.api.common import body_limit, executor, json_response, midstream_failure, served_headers
from atmosphere.api.middleware.context import surfaces
from atmosphere.api.openai.parse import parse_chat_request, parse_embed_request, read_json
from atmosphere.api.openai.render import ChunkEvents, completion_body, embeddings_body, model_body
from atmosphere.api.streaming.sse import SSE_DONE, sse_comment, sse_event
from atmosphere.api.streaming.waiting import StreamForm, stream_with_heartbeat, until_disconnected
from atmosphere.errors import UpstreamError
from atmosphere.router.executor import Served, StartedStream

log = logging.getLogger("atmosphere.api")
router = APIRouter(prefix="/v1")
SURFACES = surfaces(router, {"/chat/completions": "openai.chat", "/embeddings": "openai.embeddings"})


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
