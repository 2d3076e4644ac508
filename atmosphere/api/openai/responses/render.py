"""Domain results → the Responses API's wire shapes: a ``ChatCompletion`` becomes a
``response`` object, with the output items (messages, function calls) a stream also sends."""

from __future__ import annotations

import os
import time
from typing import Any

from atmosphere.api.openai.responses.parse import ResponsesRequest
from atmosphere.api.openai.responses.tools import ToolOffer
from atmosphere.domain import ChatCompletion, ToolCall, Usage


def new_id(prefix: str) -> str:
    return f"{prefix}_{os.urandom(12).hex()}"


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "status": status,
        "role": "assistant",
        "content": [output_text_part(text)] if status == "completed" else [],
    }


def output_text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def function_call_item(item_id: str, call: ToolCall, tools: ToolOffer, status: str = "completed") -> dict[str, Any]:
    """A ``function_call`` output item; a namespace member's carries ``namespace`` beside its own name."""
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call.id,
        **tools.client_name(call.name),
        "arguments": call.arguments,
        "status": status,
    }


def usage_body(usage: Usage | None) -> dict[str, Any]:
    usage = usage or Usage()
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total_tokens,
    }


def response_body(
    response_id: str,
    created: int,
    model: str,
    echo: dict[str, Any],
    *,
    status: str,
    output: list[dict[str, Any]],
    usage: Usage | None = None,
    error: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A ``response`` object; ``status`` is in_progress, completed, incomplete or failed."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": status,
        "completed_at": int(time.time()) if status == "completed" else None,
        "error": error,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "model": model,
        "output": output,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "truncation": "disabled",
        "usage": usage_body(usage) if status != "in_progress" else None,
        "user": None,
        **echo,
    }


def completed_status(finish_reason: str | None) -> str:
    """A backend that stopped on its token limit left the response incomplete."""
    return "incomplete" if finish_reason == "length" else "completed"


def answer_body(answer: ChatCompletion, req: ResponsesRequest) -> dict[str, Any]:
    """A whole (non-streamed) answer as a response object."""
    output: list[dict[str, Any]] = []
    if answer.content or not answer.tool_calls:
        output.append(message_item(new_id("msg"), answer.content or ""))
    output += [function_call_item(new_id("fc"), call, req.tools) for call in answer.tool_calls]
    status = completed_status(answer.finish_reason)
    return response_body(new_id("resp"), answer.created, answer.model, req.echo, status=status, output=output, usage=answer.usage)
