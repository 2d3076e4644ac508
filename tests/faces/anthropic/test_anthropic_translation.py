"""Anthropic Messages ↔ domain: what a Claude Code or SDK request becomes, and back."""

from __future__ import annotations

import pytest

from atmosphere.api.anthropic import parse as wire
from atmosphere.api.anthropic import render as shapes
from atmosphere.domain import OLLAMA_NATIVE, ChatChunk, ChatCompletion, ToolCall, ToolCallDelta, Usage
from atmosphere.errors import InvalidRequest

BASE = {"model": "llama3.2", "max_tokens": 64}


def test_system_blocks_with_cache_control_become_one_system_message():
    req = wire.parse_messages_request(
        {
            **BASE,
            "system": [
                {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "Be kind."},
            ],
            "messages": [{"role": "user", "content": "hi"}],
            "metadata": {"user_id": "u"},
            "thinking": {"type": "enabled", "budget_tokens": 2048},
        }
    )
    assert req.messages == [{"role": "system", "content": "Be brief.\n\nBe kind."}, {"role": "user", "content": "hi"}]
    assert req.max_tokens == 64 and req.stream is False


def test_a_tool_round_trip_becomes_assistant_tool_calls_and_named_tool_messages():
    req = wire.parse_messages_request(
        {
            **BASE,
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Let me check."},
                        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "sunny"}]},
                        {"type": "text", "text": "and tomorrow?"},
                    ],
                },
            ],
            "tools": [{"name": "get_weather", "description": "d", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any"},
        }
    )
    assistant, tool, user = req.messages[1:]
    assert assistant["tool_calls"] == [
        {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
    ]
    assert tool == {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny", "name": "get_weather"}
    assert user == {"role": "user", "content": "and tomorrow?"}
    assert req.extra["tools"] == [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}, "description": "d"}}
    ]
    assert req.extra["tool_choice"] == "required"


def test_base64_images_become_data_uri_parts_and_url_images_are_refused():
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    req = wire.parse_messages_request(
        {**BASE, "messages": [{"role": "user", "content": [{"type": "text", "text": "what?"}, image]}]}
    )
    assert req.messages[0]["content"][1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    url = {"type": "image", "source": {"type": "url", "url": "http://169.254.169.254/"}}
    with pytest.raises(InvalidRequest, match="never fetches"):
        wire.parse_messages_request({**BASE, "messages": [{"role": "user", "content": [url]}]})


def test_consecutive_turns_of_one_role_are_merged():
    req = wire.parse_messages_request({**BASE, "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]})
    assert req.messages == [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]


def test_claude_codes_mid_conversation_system_turn_is_kept_in_place_and_its_extra_fields_ignored():
    # What Claude Code 2.1 sends for a model name it does not know as a Claude model
    # (the mid-conversation-system beta): a system turn after the user turn.
    req = wire.parse_messages_request(
        {
            **BASE,
            "system": [{"type": "text", "text": "You are Claude Code."}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "say"}, {"type": "text", "text": " hi"}]},
                {"role": "system", "content": "Reminder: be brief."},
                {"role": "user", "content": "now"},
                {"role": "system", "content": [{"type": "text", "text": "Block form."}]},
            ],
            "thinking": {"type": "adaptive"},
            "context_management": {"edits": [{"type": "clear_tool_uses_20250919", "keep": {"type": "tool_uses", "value": 3}}]},
            "output_config": {"effort": "medium"},
            "metadata": {"user_id": "u"},
            "stream": True,
        }
    )
    assert req.messages == [
        {"role": "system", "content": "You are Claude Code."},
        {"role": "user", "content": [{"type": "text", "text": "say"}, {"type": "text", "text": " hi"}]},
        {"role": "system", "content": "Reminder: be brief."},
        {"role": "user", "content": "now"},
        {"role": "system", "content": "Block form."},
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"max_tokens": None}, "max_tokens: field required"),
        ({"max_tokens": 0}, "max_tokens: must be a positive integer"),
        ({"model": None}, "model: field required"),
        ({"messages": []}, "messages: must be a non-empty array"),
        ({"temperature": 1.5}, "temperature: must be a number between 0 and 1"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "system", "content": [{"type": "image"}]}]}, "messages.0.content.0: must be a text block"),
        ({"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]}, "'document' are not supported"),
    ],
)
def test_bad_requests_are_invalid_request_errors_that_name_the_field(change, message):
    body = {**BASE, "messages": [{"role": "user", "content": "hi"}], **change}
    with pytest.raises(InvalidRequest, match=message):
        wire.parse_messages_request({k: v for k, v in body.items() if v is not None})


def test_sampling_and_stop_sequences_map_and_tool_choice_none_offers_no_tools():
    req = wire.parse_messages_request(
        {
            **BASE,
            "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0.2,
            "top_p": 0.9,
            "top_k": 5,
            "stop_sequences": ["END"],
            "tools": [{"name": "t", "input_schema": {"type": "object"}}, {"type": "web_search_20250305", "name": "web_search"}],
            "tool_choice": {"type": "none"},
        }
    )
    assert (req.temperature, req.top_p, req.stop) == (0.2, 0.9, ["END"])
    assert req.extra == {OLLAMA_NATIVE: {"options": {"top_k": 5}}}


def test_a_completion_with_a_tool_call_is_a_message_with_tool_use_and_stop_reason_tool_use():
    completion = ChatCompletion(
        id="x",
        created=0,
        model="m",
        content="Checking.",
        finish_reason="tool_calls",
        tool_calls=[ToolCall(id="call_1", name="get_weather", arguments='{"city":"Paris"}')],
        usage=Usage(10, 5),
    )
    body = shapes.message_body(completion, "m")
    assert body["content"] == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
    ]
    assert body["stop_reason"] == "tool_use" and body["usage"] == {"input_tokens": 10, "output_tokens": 5}
    assert body["id"].startswith("msg_") and body["type"] == "message"


def _chunk(**fields):
    return ChatChunk(id="c", created=0, model="m", **fields)


def test_a_stream_opens_blocks_in_order_with_contiguous_indexes():
    events = shapes.MessageEvents("m", input_tokens=7)
    out = list(events.start())
    for chunk in (
        _chunk(role="assistant", content="Hi"),
        _chunk(content=" there"),
        _chunk(tool_calls=[ToolCallDelta(index=0, id="call_a", name="f", arguments='{"a":')]),
        _chunk(tool_calls=[ToolCallDelta(index=0, arguments="1}")]),
        _chunk(tool_calls=[ToolCallDelta(index=1, id="call_b", name="g", arguments="{}")]),
        _chunk(finish_reason="tool_calls"),
        _chunk(usage=Usage(7, 9)),
    ):
        out += events.chunk(chunk)
    out += events.finish()
    names = [name for name, _ in out]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    starts = [data for name, data in out if name == "content_block_start"]
    assert [s["index"] for s in starts] == [0, 1, 2]
    assert starts[1]["content_block"] == {"type": "tool_use", "id": "call_a", "name": "f", "input": {}}
    assert out[-2][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 9, "input_tokens": 7},
    }


def test_an_empty_answer_still_has_one_text_block():
    events = shapes.MessageEvents("m", 1)
    out = [
        *events.start(),
        *events.chunk(_chunk(role="assistant")),
        *events.chunk(_chunk(finish_reason="length")),
        *events.finish(),
    ]
    assert [n for n, _ in out][1:3] == ["content_block_start", "content_block_stop"]
    assert out[-2][1]["delta"]["stop_reason"] == "max_tokens"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, (400, "invalid_request_error")),
        (401, (401, "authentication_error")),
        (404, (404, "not_found_error")),
        (413, (413, "request_too_large")),
        (502, (500, "api_error")),
        (503, (529, "overloaded_error")),
        (504, (504, "timeout_error")),
    ],
)
def test_atmosphere_statuses_map_to_anthropic_status_and_error_type(status, expected):
    out_status, body = shapes.error_status_and_body(status, "why")
    assert (out_status, body["error"]["type"]) == expected
    assert body["type"] == "error" and body["error"]["message"] == "why"


def test_count_tokens_estimates_over_system_messages_and_tools():
    small = wire.count_tokens({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    big = wire.count_tokens(
        {
            "model": "m",
            "system": "x" * 400,
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "t", "input_schema": {"type": "object"}}],
        }
    )
    assert 1 <= small < big
