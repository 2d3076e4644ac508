"""What an OpenAI client receives for each domain result: the JSON shapes the SDK parses."""

from __future__ import annotations

import base64
import struct

from atmosphere.api.openai.render import chunk_body, completion_body, embeddings_body
from atmosphere.api.streaming.sse import SSE_DONE, ndjson_line, sse_comment, sse_event
from atmosphere.domain import ChatChunk, ChatCompletion, Embeddings, ToolCall, ToolCallDelta, Usage


def test_a_completion_without_counts_reports_zero_usage_and_tool_calls_with_null_content():
    answer = ChatCompletion("chatcmpl-1", 7, "llama3.2:latest", "", "tool_calls", [ToolCall("call_1", "get_weather", "{}")])

    body = completion_body(answer)

    assert body["object"] == "chat.completion"
    assert body["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,  # as OpenAI sends a reply that only calls tools
                "refusal": None,
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ]
    assert body["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    assert "system_fingerprint" not in body  # clients type it as a string: absent, never null


def test_stream_chunks_carry_only_the_delta_fields_set_and_usage_null_until_the_report():
    first = chunk_body(ChatChunk("c", 1, "m", content="Hi", role="assistant"), include_usage=True)
    last = chunk_body(ChatChunk("c", 1, "m", finish_reason="stop"), include_usage=True)
    report = chunk_body(ChatChunk("c", 1, "m", usage=Usage(3, 2)), include_usage=True)
    plain = chunk_body(ChatChunk("c", 1, "m", content=" there"), include_usage=False)

    assert first["object"] == "chat.completion.chunk"
    assert first["choices"] == [
        {"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "logprobs": None, "finish_reason": None}
    ]
    assert first["usage"] is None
    assert last["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert report["choices"] == [] and report["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert "usage" not in plain


def test_a_streamed_tool_call_names_its_function_once_and_then_only_adds_arguments():
    opening = chunk_body(ChatChunk("c", 1, "m", tool_calls=[ToolCallDelta(0, "call_1", "f", "")]), include_usage=False)
    more = chunk_body(ChatChunk("c", 1, "m", tool_calls=[ToolCallDelta(0, arguments='{"a"')]), include_usage=False)

    assert opening["choices"][0]["delta"]["tool_calls"] == [
        {"index": 0, "id": "call_1", "type": "function", "function": {"arguments": "", "name": "f"}}
    ]
    assert more["choices"][0]["delta"]["tool_calls"] == [{"index": 0, "function": {"arguments": '{"a"'}}]


def test_base64_embeddings_are_little_endian_float32_as_the_sdk_decodes_them():
    body = embeddings_body(Embeddings("e", [[0.5, -1.0]], Usage(4)), "e", "base64")

    [item] = body["data"]
    assert struct.unpack("<2f", base64.b64decode(item["embedding"])) == (0.5, -1.0)
    assert body["usage"] == {"prompt_tokens": 4, "total_tokens": 4}


def test_sse_framing_names_events_when_asked_and_splits_multiline_payloads():
    assert sse_event({"a": 1}) == b'data: {"a":1}\n\n'
    assert sse_event(b"{}", event="message_start") == b"event: message_start\ndata: {}\n\n"
    assert sse_event(b"one\ntwo") == b"data: one\ndata: two\n\n"
    assert sse_comment("keep-alive") == b": keep-alive\n\n"
    assert SSE_DONE == b"data: [DONE]\n\n"
    assert ndjson_line({"done": True}) == b'{"done":true}\n'
