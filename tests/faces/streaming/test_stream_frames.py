"""A stream's events framed from a template are byte for byte what the dict-built ones were:
an OpenAI client sees the same ``data:`` lines whichever way they were made."""

from __future__ import annotations

import pytest

from atmosphere import jsonfast
from atmosphere.api.ollama.render import ChatLines
from atmosphere.api.openai.render import ChunkEvents, chunk_body
from atmosphere.api.streaming.sse import sse_event
from atmosphere.domain import ChatChunk, ToolCallDelta, Usage

STREAM = [
    ChatChunk("chatcmpl-1", 7, "qwen2.5:0.5b", content="", role="assistant"),
    ChatChunk("chatcmpl-1", 7, "qwen2.5:0.5b", content="Hello"),
    ChatChunk("chatcmpl-1", 7, "qwen2.5:0.5b", content=' "quoted"\nline \u00e9\U0001f600 \\ </script>'),
    ChatChunk("chatcmpl-1", 7, "qwen2.5:0.5b", content=""),
    ChatChunk("chatcmpl-1", 7, "qwen2.5:0.5b", reasoning="hmm"),
    ChatChunk("chatcmpl-1", 7, "qwen2.5:0.5b", tool_calls=[ToolCallDelta(0, "call_1", "f", "{}")]),
    ChatChunk("chatcmpl-1", 7, "qwen2.5:0.5b", content="x", finish_reason="stop"),
    ChatChunk("chatcmpl-1", 7, "qwen2.5:0.5b", usage=Usage(3, 4)),
    ChatChunk("chatcmpl-2", 8, 'odd "model" \\ "content":""', content="after the id changed"),
]


@pytest.mark.parametrize("include_usage", [False, True])
def test_every_chunk_event_is_what_the_dict_built_event_was(include_usage: bool) -> None:
    frames = ChunkEvents(include_usage)
    for chunk in STREAM:
        assert frames.event(chunk) == sse_event(jsonfast.dumps(chunk_body(chunk, include_usage)))


@pytest.mark.parametrize("field", ["message", "response"])
def test_every_ollama_line_is_what_the_dict_built_line_was(field: str) -> None:
    templated = ChatLines('odd "model" \\ "content":""', field, 0)
    built = ChatLines(templated.model, field, 0)
    built.created_at = templated.created_at
    for chunk in STREAM:
        expected = b"".join(jsonfast.dumps(line) + b"\n" for line in built.chunk(chunk))
        assert templated.framed(chunk) == expected
