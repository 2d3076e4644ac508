"""The OpenAI face, legacy text completions: ``POST /v1/completions`` runs as a generation.

Clients such as LlamaIndex's ``OpenAILike`` and older tools still call it. Each prompt is
one ``GenerateRequest`` (several prompts answer as several choices); ``suffix`` reaches
backends that can fill in the middle (Ollama), ``echo`` is refused because no backend
here returns the prompt with its completion. There is no default ``max_tokens`` (OpenAI's
is 16): the backend's own limit applies, as with chat.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from atmosphere.api.common import body_limit, chunks_of, executor, json_response, served_headers
from atmosphere.api.fields import OPENAI_COMPLETIONS
from atmosphere.api.middleware.context import surfaces
from atmosphere.api.openai.parse import (
    integer_param,
    max_tokens_param,
    number_param,
    optional_model,
    read_json,
    require_object,
    stop_param,
    stream_options,
    texts_param,
    typed,
)
from atmosphere.api.openai.render import usage_body
from atmosphere.api.openai.routes import OPENAI_STREAM, openai_events
from atmosphere.api.streaming.waiting import stream_with_heartbeat, until_disconnected
from atmosphere.domain import ChatChunk, ChatCompletion, GenerateRequest, Usage
from atmosphere.errors import InvalidRequest
from atmosphere.router.executor import Executor, Served, StartedStream

router = APIRouter(prefix="/v1", tags=["OpenAI"])
SURFACES = surfaces(router, {"/completions": "openai.completions"})

MAX_PROMPTS = 16  # prompts in one request; each is a generation on a local backend


_EXAMPLE = {"model": "llama3.2", "prompt": "Once upon a time", "max_tokens": 32, "stream": False}


@router.post(
    "/completions",
    summary="Text completion (legacy OpenAI completions)",
    openapi_extra={"requestBody": {"content": {"application/json": {"example": _EXAMPLE}}, "required": True}},
)
async def completions(request: Request) -> Response:
    prompts, req = parse_completion_request(await read_json(request, body_limit(request)))
    run = executor(request)
    if req.stream:

        def events(started: Served[StartedStream]) -> AsyncIterator[bytes]:
            chunks = _prompts_in_turn(run, req, prompts, started.value)
            return openai_events(completion_chunk_body(c, i, req.include_usage) async for c, i in chunks)

        return await stream_with_heartbeat(request, run.generate_stream(req), events, OPENAI_STREAM)
    answers = asyncio.gather(*(run.generate(dataclasses.replace(req, prompt=p)) for p in prompts))
    served = await until_disconnected(request, answers)
    return json_response(completion_body([s.value for s in served]), headers=served_headers(served[0]))


def parse_completion_request(data: Any) -> tuple[list[str], GenerateRequest]:
    """The prompts, and the generation every one of them runs as."""
    data = require_object(data)
    prompts = texts_param(data, "prompt", tokens_refused="Token-id prompts are not supported; send 'prompt' as text.")
    if len(prompts) > MAX_PROMPTS:
        raise InvalidRequest(f"'prompt' may hold at most {MAX_PROMPTS} prompts.", param="prompt")
    typed(data, OPENAI_COMPLETIONS)
    if data.get("echo"):
        raise InvalidRequest(
            "'echo' is not supported: local backends do not return the prompt with the completion.", param="echo"
        )
    for key in ("n", "best_of"):
        count = integer_param(data, key, 1)
        if count is not None and count > 1:
            raise InvalidRequest(f"'{key}' greater than 1 is not supported by local backends.", param=key)
    suffix = data.get("suffix")
    if suffix is not None and not isinstance(suffix, str):
        raise InvalidRequest("'suffix' must be a string.", param="suffix")
    stream = data.get("stream") or False
    if not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean.", param="stream")
    options = stream_options(data)
    if data.get("logprobs") is not None:
        raise InvalidRequest("'logprobs' is not supported on /v1/completions; use /v1/chat/completions.", param="logprobs")
    extra = {key: data[key] for key in ("frequency_penalty", "presence_penalty") if data.get(key) is not None}
    req = GenerateRequest(
        model=optional_model(data),
        prompt=prompts[0],
        stream=stream,
        suffix=suffix or None,
        temperature=number_param(data, "temperature", 0, 2),
        top_p=number_param(data, "top_p", 0, 1),
        max_tokens=max_tokens_param(data),
        stop=stop_param(data),
        seed=integer_param(data, "seed"),
        include_usage=bool(stream and options and options.get("include_usage")),
        extra=extra,
    )
    return prompts, req


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


def completion_body(answers: list[ChatCompletion]) -> dict[str, Any]:
    """One ``text_completion`` with a choice per prompt and the usage of them all."""
    first = answers[0]
    usage = Usage()
    for answer in answers:
        if answer.usage is not None:
            usage.prompt_tokens += answer.usage.prompt_tokens
            usage.completion_tokens += answer.usage.completion_tokens
    choices = [
        {"text": a.content or "", "index": i, "logprobs": None, "finish_reason": _finish(a.finish_reason)}
        for i, a in enumerate(answers)
    ]
    return {
        "id": _cmpl_id(first.id),
        "object": "text_completion",
        "created": first.created or int(time.time()),
        "model": first.model,
        "choices": choices,
        "usage": usage_body(usage),
    }


def completion_chunk_body(chunk: ChatChunk, index: int, include_usage: bool) -> dict[str, Any]:
    """A streamed ``text_completion`` (the same object type as the answer, as OpenAI sends it)."""
    out: dict[str, Any] = {"id": _cmpl_id(chunk.id), "object": "text_completion", "created": chunk.created, "model": chunk.model}
    if chunk.usage is not None and not chunk.has_content:
        out["choices"] = []
        out["usage"] = usage_body(chunk.usage)
        return out
    finish = _finish(chunk.finish_reason) if chunk.finish_reason else None
    out["choices"] = [{"text": chunk.content or "", "index": index, "logprobs": None, "finish_reason": finish}]
    if include_usage:
        out["usage"] = None
    return out


def _finish(reason: str | None) -> str:
    """Completions know only stop, length and content_filter."""
    return reason if reason in ("length", "content_filter") else "stop"


def _cmpl_id(chat_id: str) -> str:
    return "cmpl-" + chat_id.removeprefix("chatcmpl-")
