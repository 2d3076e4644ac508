"""The Responses face: ``POST /v1/responses`` (stateless), what ``client.responses.create``
and the Vercel AI SDK call by default.

A request becomes a chat request (``parse``) and runs through the executor like
``/v1/chat/completions``; the answer, or the executor's chunks, are rendered back as a
response object or as the Responses event stream. Nothing is stored, so fetching or
deleting a response by id is a 404 that says so.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from atmosphere.api.body import read_json
from atmosphere.api.common import body_limit, chunks_of, executor, json_response, midstream_failure, served_headers
from atmosphere.api.middleware.context import surfaces
from atmosphere.api.openai.responses.parse import ResponsesRequest, parse_responses_request
from atmosphere.api.openai.responses.render import (
    answer_body,
    completed_status,
    function_call_item,
    message_item,
    new_id,
    output_text_part,
    response_body,
)
from atmosphere.api.openai.responses.tools import ToolOffer
from atmosphere.api.streaming.sse import sse_comment, sse_event
from atmosphere.api.streaming.waiting import StreamForm, stream_with_heartbeat, until_disconnected
from atmosphere.domain import ChatChunk, ToolCall, Usage
from atmosphere.errors import AtmosphereError, NotFound
from atmosphere.observe import context
from atmosphere.router.executor import Served, StartedStream

router = APIRouter(prefix="/v1", tags=["OpenAI Responses"])
SURFACES = surfaces(router, {"/responses": "responses"})


_EXAMPLE = {"model": "llama3.2", "instructions": "Be brief.", "input": "Say hi", "stream": False}


@router.post(
    "/responses",
    summary="Create a response (stateless Responses API)",
    openapi_extra={"requestBody": {"content": {"application/json": {"example": _EXAMPLE}}, "required": True}},
)
async def create_response(request: Request) -> Response:
    req = parse_responses_request(await read_json(request, body_limit(request)))
    dropped = _report_dropped(req.tools)
    if not req.chat.stream:
        served = await until_disconnected(request, executor(request).chat(req.chat))
        return json_response(answer_body(served.value, req), headers={**served_headers(served), **dropped})

    def events(started: Served[StartedStream]) -> AsyncIterator[bytes]:
        return ResponseEvents(started.value, req).events()

    def failure(error: AtmosphereError) -> bytes:
        """No backend started (after the heartbeat) or the drain ended it: ``response.failed``."""
        body = response_body(
            new_id("resp"),
            int(time.time()),
            req.chat.model or "",
            req.echo,
            status="failed",
            output=[],
            error={"code": error.code or "server_error", "message": error.message},
        )
        return sse_event({"type": "response.failed", "sequence_number": 0, "response": body}, event="response.failed")

    # After the heartbeat: ": waiting for <backend>" comments (SSE clients skip them), then the events.
    form = StreamForm(keepalive=sse_comment, failure=failure)
    response = await stream_with_heartbeat(request, executor(request).chat_stream(req.chat), events, form)
    response.headers.update(dropped)  # the head has not left yet, even when the heartbeat sends it early
    return response


def _report_dropped(tools: ToolOffer) -> dict[str, str]:
    """Tools no local model can run were left out: they go on the request's log entry (through
    its context), and the answer's ``X-Atmosphere-Dropped-Tools: web_search,...`` header, returned."""
    if not tools.dropped:
        return {}
    context.current().dropped_tools = list(tools.dropped)
    return {"X-Atmosphere-Dropped-Tools": ",".join(tools.dropped)}


@router.get("/responses/{response_id}", summary="Responses are not stored: always 404")
@router.delete("/responses/{response_id}", summary="Responses are not stored: always 404")
async def stored_response(response_id: str) -> Response:
    raise NotFound(f"No response with id '{response_id}': Atmosphere does not store responses.", param="response_id")


class _Call:
    """A function call being streamed: its output slot, ids and arguments so far."""

    def __init__(self, output_index: int, call_id: str, name: str):
        self.output_index = output_index
        self.item_id = new_id("fc")
        self.call = ToolCall(call_id, name, "")


class ResponseEvents:
    """Chat chunks → the Responses event sequence, each event numbered.

    ``response.created``, ``response.in_progress``; per text run an ``output_item.added``,
    ``content_part.added``, ``output_text.delta``…, ``output_text.done``,
    ``content_part.done``, ``output_item.done``; per function call an ``output_item.added``,
    ``function_call_arguments.delta``…, ``function_call_arguments.done``,
    ``output_item.done``; then exactly one of ``response.completed`` /
    ``response.incomplete`` (stopped on the token limit) / ``response.failed``.
    """

    def __init__(self, stream: StartedStream, req: ResponsesRequest):
        self.stream = stream
        self.echo = req.echo
        self.tools = req.tools
        self.response_id = new_id("resp")
        self.created = stream.first.created
        self.model = stream.first.model
        self.sequence = 0
        self.done: list[tuple[int, dict[str, Any]]] = []  # finished items and their output index
        self.opened = 0  # output items started so far: the next one's output_index
        self.text_item: str | None = None  # id of the message being written
        self.text_index = 0
        self.text = ""
        self.calls: dict[int, _Call] = {}  # by the chunks' tool-call index
        self.finish: str | None = None
        self.usage: Usage | None = None

    def _event(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return sse_event(data, event=kind)

    def _response(self, status: str, **extra: Any) -> dict[str, Any]:
        output = [item for _, item in sorted(self.done, key=lambda pair: pair[0])] if status != "in_progress" else []
        return response_body(self.response_id, self.created, self.model, self.echo, status=status, output=output, **extra)

    async def events(self) -> AsyncIterator[bytes]:
        yield self._event("response.created", response=self._response("in_progress"))
        yield self._event("response.in_progress", response=self._response("in_progress"))
        try:
            async for chunk in chunks_of(self.stream):
                for event in self._on_chunk(chunk):
                    yield event
        except Exception as exc:  # noqa: BLE001 - whatever broke, the stream ends with response.failed
            error = {"code": "server_error", "message": midstream_failure(exc)}
            yield self._event("response.failed", response=self._response("failed", error=error))
            return
        for event in self._close_text():
            yield event
        for event in self._close_calls():
            yield event
        status = completed_status(self.finish)
        yield self._event(f"response.{status}", response=self._response(status, usage=self.usage))

    def _on_chunk(self, chunk: ChatChunk) -> list[bytes]:
        out: list[bytes] = []
        if chunk.content:
            if self.text_item is None:
                out += self._open_text()
            self.text += chunk.content
            out.append(
                self._event(
                    "response.output_text.delta",
                    item_id=self.text_item,
                    output_index=self.text_index,
                    content_index=0,
                    delta=chunk.content,
                    logprobs=[],
                )
            )
        for delta in chunk.tool_calls:
            call = self.calls.get(delta.index)
            if call is None:
                out += self._close_text()  # a call starts a new output item after the text
                call = _Call(self._next_index(), delta.id or new_id("call"), delta.name or "")
                self.calls[delta.index] = call
                item = function_call_item(call.item_id, call.call, self.tools, status="in_progress")
                out.append(self._event("response.output_item.added", output_index=call.output_index, item=item))
            if delta.arguments:
                call.call.arguments += delta.arguments
                out.append(
                    self._event(
                        "response.function_call_arguments.delta",
                        item_id=call.item_id,
                        output_index=call.output_index,
                        delta=delta.arguments,
                    )
                )
        if chunk.finish_reason:
            self.finish = chunk.finish_reason
        if chunk.usage is not None:
            self.usage = chunk.usage
        return out

    def _next_index(self) -> int:
        self.opened += 1
        return self.opened - 1

    def _open_text(self) -> list[bytes]:
        self.text_index = self._next_index()
        self.text_item = new_id("msg")
        item = message_item(self.text_item, "", status="in_progress")
        return [
            self._event("response.output_item.added", output_index=self.text_index, item=item),
            self._event(
                "response.content_part.added",
                item_id=self.text_item,
                output_index=self.text_index,
                content_index=0,
                part=output_text_part(""),
            ),
        ]

    def _close_text(self) -> list[bytes]:
        if self.text_item is None:
            return []
        item_id, index, text = self.text_item, self.text_index, self.text
        self.text_item, self.text = None, ""
        item = message_item(item_id, text)
        self.done.append((index, item))
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        return [
            self._event("response.output_text.done", **where, text=text, logprobs=[]),
            self._event("response.content_part.done", **where, part=output_text_part(text)),
            self._event("response.output_item.done", output_index=index, item=item),
        ]

    def _close_calls(self) -> list[bytes]:
        out = []
        for call in sorted(self.calls.values(), key=lambda c: c.output_index):
            item = function_call_item(call.item_id, call.call, self.tools)
            self.done.append((call.output_index, item))
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=call.item_id,
                    output_index=call.output_index,
                    name=item["name"],
                    arguments=call.call.arguments,
                )
            )
            out.append(self._event("response.output_item.done", output_index=call.output_index, item=item))
        self.calls.clear()
        return out
