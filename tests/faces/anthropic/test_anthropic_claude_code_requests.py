"""Claude Code's request, as it sends it for a local model name, through the gateway to each backend.

The shape is the one recorded in shared/reference/agents.md: ``HEAD /``, then
``POST /v1/messages?beta=true`` with a list ``system``, a system turn inside ``messages``,
``thinking``, ``context_management``, ``output_config``, ``metadata`` and a list of betas.
Earlier assistant turns may replay ``thinking`` blocks, and a ``tool_result`` may hold the
picture Claude Code's Read tool read (image blocks). What each backend receives is read
from the stand-in's own record of the request (the wire), not from the gateway's code.
"""

from __future__ import annotations

import orjson
import pytest
from agent_support import logged

from atmosphere.adapters.system_turns import one_leading_system

BETAS = (
    "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,"
    "mid-conversation-system-2026-04-07,effort-2025-11-24,some-future-beta-2027-01-01"
)
HEADERS = {
    "anthropic-version": "2023-06-01",
    "anthropic-beta": BETAS,
    "authorization": "Bearer local",
    "user-agent": "claude-cli/2.1.337 (external, sdk-cli)",
}
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAX+XDSwAAAABJRU5ErkJggg=="


def claude_code_body(model: str, *, stream: bool = True) -> dict:
    return {
        "model": model,
        "max_tokens": 32000,
        "stream": stream,
        "system": [
            {"type": "text", "text": "You are Claude Code."},
            {"type": "text", "text": "Be concise.", "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "<context/>"}, {"type": "text", "text": "first question"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "let me think", "signature": "c2ln"},
                    {"type": "redacted_thinking", "data": "ZW5jcnlwdGVk"},
                    {"type": "text", "text": "first answer"},
                ],
            },
            {"role": "user", "content": "say hi"},
            {"role": "system", "content": "The user is in /tmp/project."},
        ],
        "tools": [{"name": "Agent", "description": "Launch a sub-agent", "input_schema": {"type": "object", "properties": {}}}],
        "metadata": {"user_id": "user_abc_account__session_123"},
        "thinking": {"type": "adaptive"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "medium"},
    }


def events(text: str) -> list[str]:
    return [block.split("\n")[0].removeprefix("event: ") for block in text.split("\n\n") if block.strip()]


def streamed_text(text: str) -> str:
    datas = [orjson.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    return "".join(d["delta"].get("text", "") for d in datas if d["type"] == "content_block_delta")


def test_claude_codes_connectivity_check_head_slash_answers_2xx(gateway):
    with gateway.client() as http:
        assert 200 <= http.head("/").status_code < 300


def test_claude_codes_request_for_a_llamafarm_alias_streams_an_answer(gateway, backends):
    with gateway.client() as http:
        response = http.post("/v1/messages?beta=true", json=claude_code_body("fast"), headers=HEADERS)
    assert response.status_code == 200, response.text
    assert events(response.text)[0] == "message_start" and events(response.text)[-1] == "message_stop"
    assert streamed_text(response.text).startswith("Hello from the LlamaFarm emulator (chatbot/fast)! You said: say hi")

    (sent,) = [r.json for r in backends.llamafarm.state.recorded() if r.path.endswith("/chat/completions")]
    # LlamaFarm keeps only the last system message it is sent: everything is folded, in order, into one at the front.
    assert sent["messages"] == [
        {"role": "system", "content": "You are Claude Code.\n\nBe concise.\n\nThe user is in /tmp/project."},
        {"role": "user", "content": [{"type": "text", "text": "<context/>"}, {"type": "text", "text": "first question"}]},
        {"role": "assistant", "content": "first answer"},  # the thinking blocks were dropped, not refused
        {"role": "user", "content": "say hi"},
    ]
    for key in ("thinking", "context_management", "output_config", "metadata"):
        assert key not in sent


def test_claude_codes_request_for_an_ollama_model_keeps_the_system_turn_where_it_was(gateway, backends):
    with gateway.client() as http:
        response = http.post("/v1/messages?beta=true", json=claude_code_body("llama3.2:latest", stream=False), headers=HEADERS)
    assert response.status_code == 200, response.text
    assert response.json()["content"][0]["text"].startswith("Hello from the Ollama emulator")

    sent = backends.ollama.state.recorded("/api/chat")[-1].json
    # Ollama's templates see every message in place (template.go collate): nothing is moved.
    assert [(m["role"], m["content"]) for m in sent["messages"]] == [
        ("system", "You are Claude Code.\n\nBe concise."),
        ("user", "<context/>\nfirst question"),
        ("assistant", "first answer"),
        ("user", "say hi"),
        ("system", "The user is in /tmp/project."),
    ]
    assert "thinking" not in sent["messages"][2]
    for key in ("context_management", "output_config", "metadata"):
        assert key not in sent


@pytest.mark.parametrize("data", ["not base64!", "aGk", "aGk=aGk=", "aGk=\u00e9"])
def test_an_image_with_invalid_base64_is_a_400_naming_the_field_before_any_backend(gateway, backends, data):
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}
    content = [{"type": "text", "text": "?"}, image]
    body = {"model": "llava:latest", "max_tokens": 16, "messages": [{"role": "user", "content": content}]}
    with gateway.client() as http:
        response = http.post("/v1/messages", json=body)
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"].startswith("messages.0.content.1.source.data: is not valid base64")
    assert backends.ollama.state.recorded("/api/chat") == []


def test_base64_wrapped_over_lines_is_accepted(gateway, backends):
    wrapped = "\n".join(PNG[i : i + 76] for i in range(0, len(PNG), 76)) + "\n"
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": wrapped}}
    body = {"model": "llava:latest", "max_tokens": 16, "messages": [{"role": "user", "content": [image]}]}
    with gateway.client() as http:
        assert http.post("/v1/messages", json=body).status_code == 200


def test_folding_keeps_a_lone_leading_system_message_and_joins_text_parts_in_order():
    lone = [{"role": "system", "content": "a"}, {"role": "user", "content": "hi"}]
    assert one_leading_system(lone) is lone
    assert one_leading_system([{"role": "user", "content": "hi"}]) == [{"role": "user", "content": "hi"}]
    assert one_leading_system(
        [
            {"role": "system", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": "c"},
            {"role": "system", "content": ""},
        ]
    ) == [{"role": "system", "content": "a\nb\n\nc"}, {"role": "user", "content": "hi"}]


# --- tool results with images (Claude Code's Read of a picture) ------------------------------

READ = {
    "name": "Read",
    "description": "Read a file",
    "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}},
}


def image_block(data: str = PNG) -> dict:
    return {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}


def read_a_picture(model: str, result: list, *, after: list | None = None) -> dict:
    """Claude Code's turn after the model called Read on a PNG: the call, then its tool_result
    (a list holding the picture as an image block), maybe followed by more blocks in that turn."""
    call = {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "/tmp/project/shot.png"}}
    return {
        "model": model,
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "You are Claude Code."}],
        "messages": [
            {"role": "user", "content": "Read shot.png"},
            {"role": "assistant", "content": [{"type": "text", "text": "Reading it."}, call]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": result}, *(after or [])]},
        ],
        "tools": [READ],
    }


def post_messages(gateway, body: dict):
    with gateway.client() as http:
        return http.post("/v1/messages?beta=true", json=body, headers=HEADERS)


def test_a_read_pictures_result_reaches_ollama_as_images_on_the_tool_message(gateway, backends):
    response = post_messages(gateway, read_a_picture("llama3.2:latest", [image_block()]))
    assert response.status_code == 200, response.text
    assert "Read returned" in response.json()["content"][0]["text"]
    result = backends.ollama.state.recorded("/api/chat")[-1].json["messages"][-1]
    assert result == {"role": "tool", "content": "", "images": [PNG], "tool_name": "Read", "tool_call_id": "toolu_1"}


def test_a_tool_results_text_and_picture_reach_llamafarm_with_the_picture_on_a_user_turn_after_the_result(gateway, backends):
    result = [{"type": "text", "text": "shot.png, 1x1"}, image_block()]
    after = [{"type": "text", "text": "<system-reminder>be brief</system-reminder>"}]
    response = post_messages(gateway, read_a_picture("fast", result, after=after))
    assert response.status_code == 200, response.text
    sent = backends.llamafarm.state.recorded("/v1/projects/default/chatbot/chat/completions")[-1].json["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "user", "user"]
    assert sent[2]["tool_calls"][0]["id"] == "toolu_1"  # the result stays right after its call
    assert (sent[3]["tool_call_id"], sent[3]["content"]) == ("toolu_1", "shot.png, 1x1")
    label, image = sent[4]["content"]
    assert label == {"type": "text", "text": "The image from tool call toolu_1:"}
    assert image == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    assert sent[5]["content"] == "<system-reminder>be brief</system-reminder>"  # the turn's own text, in its place


def test_a_failed_tool_result_with_a_picture_keeps_its_error_and_its_picture(gateway, backends):
    body = read_a_picture("llama3.2:latest", [{"type": "text", "text": "too large"}, image_block()])
    body["messages"][-1]["content"][0]["is_error"] = True
    assert post_messages(gateway, body).status_code == 200
    result = backends.ollama.state.recorded("/api/chat")[-1].json["messages"][-1]
    assert (result["content"], result["images"]) == ("Error: too large", [PNG])


def test_a_text_only_tool_result_in_blocks_is_still_the_tool_messages_text(gateway, backends):
    blocks = [
        {"type": "text", "text": "line one"},
        {"type": "tool_reference", "tool_name": "Grep"},
        {"type": "text", "text": "line two"},
    ]
    assert post_messages(gateway, read_a_picture("llama3.2:latest", blocks)).status_code == 200
    result = backends.ollama.state.recorded("/api/chat")[-1].json["messages"][-1]
    assert result["content"] == "line one\nline two" and "images" not in result


def refused(gateway, backends, body: dict) -> str:
    """The 400's message, after checking it is Anthropic's error shape, nothing reached a
    backend and the request log says why."""
    response = post_messages(gateway, body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert backends.ollama.state.recorded("/api/chat") == []
    (entry,) = [e for e in logged(gateway) if e["status"] == 400]
    assert entry["surface"] == "anthropic" and entry["reason"] in error["error"]["message"]
    return error["error"]["message"]


@pytest.mark.parametrize("data", ["not base64!", "aGk", "aGk=aGk="])
def test_a_picture_with_invalid_base64_in_a_tool_result_is_a_400_naming_the_field(gateway, backends, data):
    message = refused(gateway, backends, read_a_picture("llama3.2:latest", [image_block(data)]))
    assert message.startswith("messages.2.content.0.content.0.source.data: is not valid base64")


URL_SOURCE = {"type": "image", "source": {"type": "url", "url": "http://169.254.169.254/latest/meta-data"}}


@pytest.mark.parametrize(
    "where, body",
    [
        ("messages.2.content.0.content.1.source", read_a_picture("llama3.2:latest", [{"type": "text", "text": "x"}, URL_SOURCE])),
        (
            "messages.0.content.0.source",
            {"model": "llava:latest", "max_tokens": 16, "messages": [{"role": "user", "content": [URL_SOURCE]}]},
        ),
    ],
    ids=["in a tool result", "in a user turn"],
)
def test_a_url_image_is_a_400_saying_the_gateway_never_fetches_it_wherever_it_is(gateway, backends, where, body):
    message = refused(gateway, backends, body)
    assert message.startswith(f"{where}: is a url source")
    assert "never fetches a URL a request names" in message and "base64" in message
