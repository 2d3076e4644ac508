"""The Responses face with requests shaped like Codex CLI 0.171's (shared/reference/agents.md).

Codex's default offer has function tools, a ``namespace`` tool (``multi_agent_v1``) and a hosted
``web_search``; its body carries ``reasoning``, ``include``, ``prompt_cache_key``,
``client_metadata``, ``parallel_tool_calls`` and ``store: false``. All of it must be served:
namespace members flattened to functions (and calls to them returned with their namespace),
hosted tools dropped and named, OpenAI-only tuning accepted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from atmosphere.api.openai.responses.parse import parse_responses_request
from atmosphere.api.openai.responses.render import function_call_item
from atmosphere.api.openai.responses.tools import tool_offer
from atmosphere.domain import ToolCall
from atmosphere.standins.ollama_tools import planned_tool_call

MODEL = "llama3.2:latest"
_OBJECT = {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}


def function(name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "function", "name": name, "description": f"{name} (test)", "strict": False, "parameters": _OBJECT, **extra}


def codex_tools(*top_level: str) -> list[dict[str, Any]]:
    """Codex's default offer, by structure: functions, the sub-agent namespace, functions, web search."""
    members = [function(name) for name in ("close_agent", "resume_agent", "send_input", "spawn_agent", "wait_agent")]
    namespace = {"type": "namespace", "name": "multi_agent_v1", "description": "Sub-agents.", "tools": members}
    functions = [function(name) for name in top_level or ("exec_command", "write_stdin")]
    return [*functions, namespace, function("get_goal"), {"type": "web_search", "external_web_access": False}]


def codex_body(ask: str, tools: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "stream": False,
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "You are a coding agent."}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context/>"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": ask}]},
        ],
        "tools": codex_tools() if tools is None else tools,
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"summary": "auto"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "01a2-thread",
        "client_metadata": {"session_id": "01a2", "turn_id": "01a3", "x-codex-window-id": "01a2:0"},
        **extra,
    }


def post(gateway: Any, body: dict[str, Any], **kwargs: Any) -> Any:
    with gateway.client() as client:
        return client.post("/v1/responses", json=body, **kwargs)


def test_codexs_first_request_is_answered_with_web_search_named_as_dropped(gateway, backends):
    response = post(gateway, codex_body("say hi"))
    assert response.status_code == 200, response.text
    assert response.headers["x-atmosphere-dropped-tools"] == "web_search"
    assert response.json()["output"][0]["content"][0]["text"] == f"Hello from the Ollama emulator ({MODEL})! You said: say hi"
    offered = [tool["function"]["name"] for tool in backends.ollama.state.recorded("/api/chat")[-1].json["tools"]]
    assert offered == [
        "exec_command",
        "write_stdin",
        "get_goal",
        "close_agent",
        "resume_agent",
        "send_input",
        "spawn_agent",
        "wait_agent",
    ]
    with gateway.client() as client:
        (entry,) = client.get("/v1/requests").json()["requests"]
    assert entry["dropped_tools"] == ["web_search"]


def test_a_request_that_drops_nothing_has_no_header_and_no_log_field(gateway):
    response = post(gateway, codex_body("say hi", tools=[function("exec_command")]))
    assert response.status_code == 200
    assert "x-atmosphere-dropped-tools" not in response.headers
    with gateway.client() as client:
        (entry,) = client.get("/v1/requests").json()["requests"]
    assert "dropped_tools" not in entry


def test_every_hosted_tool_is_dropped_and_named_in_order_once(gateway):
    hosted = [
        {"type": "web_search"},
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
        {"type": "code_interpreter", "container": {"type": "auto"}},
        {"type": "image_generation"},
        {"type": "computer_use_preview", "display_width": 1024, "display_height": 768, "environment": "linux"},
        {"type": "mcp", "server_label": "deepwiki", "server_url": "https://mcp.example/"},
        {"type": "local_shell"},
        {"type": "custom", "name": "apply_patch", "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}},
        {"type": "web_search"},
    ]
    response = post(gateway, codex_body("say hi", tools=[function("exec_command"), *hosted]))
    assert response.status_code == 200, response.text
    assert response.headers["x-atmosphere-dropped-tools"].split(",") == [
        "web_search",
        "file_search",
        "code_interpreter",
        "image_generation",
        "computer_use_preview",
        "mcp",
        "local_shell",
        "custom:apply_patch",
    ]


def test_a_streamed_answer_names_the_dropped_tools_too(gateway):
    with (
        gateway.client() as client,
        client.stream("POST", "/v1/responses", json=codex_body("say hi", stream=True)) as response,
    ):
        assert response.status_code == 200
        assert response.headers["x-atmosphere-dropped-tools"] == "web_search"
        assert "response.completed" in response.read().decode()


def test_a_page_the_user_trusts_may_read_the_dropped_tools_header(backends, make_gateway):
    gateway = make_gateway(backends, allowed_origins="http://app.example")
    response = post(gateway, codex_body("say hi"), headers={"Origin": "http://app.example"})
    assert response.status_code == 200
    assert "x-atmosphere-dropped-tools" in response.headers["access-control-expose-headers"].split(", ")


def test_a_call_to_a_namespace_member_comes_back_with_its_namespace(gateway):
    response = post(gateway, codex_body("Please spawn an agent to say `hello`"))
    assert response.status_code == 200, response.text
    (call,) = [item for item in response.json()["output"] if item["type"] == "function_call"]
    assert (call["name"], call["namespace"]) == ("spawn_agent", "multi_agent_v1")
    assert json.loads(call["arguments"]) == {"message": "hello"}


def test_a_streamed_member_call_carries_its_namespace_in_every_event(gateway):
    with (
        gateway.client() as client,
        client.stream("POST", "/v1/responses", json=codex_body("spawn agent please", stream=True)) as response,
    ):
        raw = response.read().decode()
    events = [json.loads(block.split("\n", 1)[1].removeprefix("data: ")) for block in raw.strip().split("\n\n")]
    added = next(e for e in events if e["type"] == "response.output_item.added")["item"]
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    final = events[-1]["response"]["output"][0]
    assert (added["name"], added["namespace"]) == ("spawn_agent", "multi_agent_v1")
    assert done["name"] == "spawn_agent"
    assert (final["type"], final["name"], final["namespace"]) == ("function_call", "spawn_agent", "multi_agent_v1")


def test_a_top_level_function_is_called_without_a_namespace(gateway):
    response = post(gateway, codex_body("Use exec_command to run `echo hi`"))
    (call,) = [item for item in response.json()["output"] if item["type"] == "function_call"]
    assert call["name"] == "exec_command" and "namespace" not in call
    assert json.loads(call["arguments"]) == {"message": "echo hi"}


def test_a_member_whose_name_a_top_level_function_has_reaches_the_backend_under_a_joined_name(gateway, backends):
    tools = codex_tools("exec_command", "spawn_agent")
    replay = [
        {"type": "function_call", "call_id": "call_1", "name": "spawn_agent", "namespace": "multi_agent_v1", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "agent 7 started"},
        {"type": "function_call", "call_id": "call_2", "name": "spawn_agent", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_2", "output": "top-level spawn"},
    ]
    body = codex_body("say hi", tools=tools)
    body["input"] += replay
    assert post(gateway, body).status_code == 200
    sent = backends.ollama.state.recorded("/api/chat")[-1].json
    names = [tool["function"]["name"] for tool in sent["tools"]]
    assert "spawn_agent" in names and "multi_agent_v1__spawn_agent" in names
    calls = [m["tool_calls"][0]["function"]["name"] for m in sent["messages"] if m.get("tool_calls")]
    assert calls == ["multi_agent_v1__spawn_agent", "spawn_agent"]


def test_a_joined_backend_name_goes_back_to_the_client_as_the_member_and_its_namespace():
    req = parse_responses_request(codex_body("x", tools=codex_tools("spawn_agent")))
    item = function_call_item("fc_1", ToolCall("call_1", "multi_agent_v1__spawn_agent", "{}"), req.tools)
    assert (item["name"], item["namespace"]) == ("spawn_agent", "multi_agent_v1")
    item = function_call_item("fc_2", ToolCall("call_2", "spawn_agent", "{}"), req.tools)
    assert item["name"] == "spawn_agent" and "namespace" not in item


def test_names_taken_twice_over_stay_unique():
    clash = [function("a__b"), function("b"), {"type": "namespace", "name": "a", "tools": [function("b")]}]
    offer = tool_offer(clash)
    assert [f["function"]["name"] for f in offer.functions] == ["a__b", "b", "a__b_2"]
    assert offer.client_name("a__b_2") == {"name": "b", "namespace": "a"}
    assert offer.client_name("a__b") == {"name": "a__b"}


def test_echoed_tools_carry_strict_and_leave_out_what_was_dropped(gateway):
    tools = [
        {"type": "function", "name": "get_weather", "parameters": _OBJECT},  # strict not given: OpenAI's default
        function("exec_command"),
        {"type": "namespace", "name": "multi_agent_v1", "description": "Sub-agents.", "tools": [function("spawn_agent")]},
        {"type": "web_search"},
    ]
    echoed = post(gateway, codex_body("say hi", tools=tools)).json()["tools"]
    assert [(tool["type"], tool["name"]) for tool in echoed] == [
        ("function", "get_weather"),
        ("function", "exec_command"),
        ("namespace", "multi_agent_v1"),
    ]
    assert echoed[0]["strict"] is True and echoed[1]["strict"] is False
    assert echoed[2]["tools"][0]["strict"] is False


def test_codexs_service_fields_are_accepted_and_echoed_where_openai_echoes_them(gateway):
    response = post(gateway, codex_body("say hi", parallel_tool_calls=False))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["store"] is False and body["parallel_tool_calls"] is False and body["status"] == "completed"


def test_the_sdk_sees_the_member_call_with_its_namespace(gateway):
    body = codex_body("spawn agent")
    response = gateway.openai().responses.create(
        model=body.pop("model"), input=body.pop("input"), tools=body.pop("tools"), stream=body.pop("stream"), extra_body=body
    )
    (call,) = [item for item in response.output if item.type == "function_call"]
    assert call.name == "spawn_agent" and call.model_dump().get("namespace") == "multi_agent_v1"


@pytest.mark.parametrize(
    "choice, expected",
    [
        ({"type": "web_search"}, "auto"),
        (
            {"type": "function", "name": "spawn_agent", "namespace": "multi_agent_v1"},
            {"type": "function", "function": {"name": "spawn_agent"}},
        ),
        ("required", "required"),
    ],
)
def test_a_tool_choice_reaches_llamafarm_for_what_is_left(gateway, backends, choice, expected):
    assert post(gateway, codex_body("say hi", model="fast", tool_choice=choice)).status_code == 200
    sent = backends.llamafarm.state.recorded("/v1/projects/default/chatbot/chat/completions")[-1].json
    assert sent["tool_choice"] == expected


def test_when_every_tool_was_dropped_no_tool_choice_is_sent(gateway, backends):
    body = codex_body("say hi", model="fast", tools=[{"type": "web_search"}], tool_choice="required")
    assert post(gateway, body).status_code == 200
    sent = backends.llamafarm.state.recorded("/v1/projects/default/chatbot/chat/completions")[-1].json
    assert "tools" not in sent and "tool_choice" not in sent


@pytest.mark.parametrize(
    "tools, param",
    [
        ([{"type": "namespace", "tools": []}], "tools[0].name"),
        ([{"type": "namespace", "name": "ns", "tools": [{"type": "function"}]}], "tools[0].tools[0].name"),
        ([{"name": "untyped"}], "tools[0]"),
    ],
)
def test_a_malformed_namespace_or_untyped_tool_is_a_400_naming_it(gateway, tools, param):
    response = post(gateway, codex_body("say hi", tools=tools))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def _as_chat(ask: str) -> dict[str, Any]:
    """Codex's turn as the gateway hands it to an OpenAI-style backend: text parts, tools nested."""
    req = parse_responses_request(codex_body(ask))
    return {"tools": req.chat.extra["tools"], "messages": req.chat.messages}


def test_the_stand_in_never_calls_one_of_codexs_tools_unasked():
    assert planned_tool_call(_as_chat("say hi")) is None
    assert planned_tool_call(_as_chat("Summarise this repository for me")) is None


def test_the_stand_in_reads_codexs_text_parts_and_fills_the_backticked_command():
    body = _as_chat("Use exec_command to run `ls -la`")
    assert isinstance(body["messages"][-1]["content"], list)  # parts, as a LlamaFarm-style backend gets them
    call = planned_tool_call(body)
    assert call is not None and call["function"]["name"] == "exec_command"
    assert call["function"]["arguments"] == {"message": "ls -la"}


def test_tagged_context_in_a_part_is_not_the_users_ask():
    body = _as_chat("say hi")
    body["messages"][-1]["content"].insert(0, {"type": "text", "text": "<env>use exec_command and spawn_agent</env>"})
    assert planned_tool_call(body) is None


# --- tool results with images (Codex's view_image) -----------------------------------------

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def viewed_image(model: str, *outputs: tuple[str, Any]) -> dict[str, Any]:
    """Codex's turn after the model called view_image (and, for a second output, exec_command):
    the calls, then each output as Codex's handlers send it."""
    body = codex_body("Look at the screenshot", tools=codex_tools("exec_command", "view_image"), model=model)
    names = ["view_image", "exec_command"]
    for index, _ in enumerate(outputs):
        body["input"].append(
            {"type": "function_call", "call_id": f"call_{index}", "name": names[index], "arguments": '{"path":"shot.png"}'}
        )
    body["input"] += [{"type": "function_call_output", "call_id": call_id, "output": output} for call_id, output in outputs]
    return body


def codex_image(url: str = f"data:image/png;base64,{PNG}", **extra: Any) -> dict[str, Any]:
    return {"type": "input_image", "image_url": url, **extra}


def test_a_view_image_result_reaches_ollama_as_images_on_the_tool_message(gateway, backends):
    response = post(gateway, viewed_image(MODEL, ("call_0", [codex_image(detail="original")])))
    assert response.status_code == 200, response.text
    assert "view_image returned" in response.json()["output"][0]["content"][0]["text"]
    result = backends.ollama.state.recorded("/api/chat")[-1].json["messages"][-1]
    assert result == {"role": "tool", "content": "", "images": [PNG], "tool_name": "view_image", "tool_call_id": "call_0"}


def test_a_tool_results_text_and_image_reach_llamafarm_with_the_image_on_a_user_turn_after_the_results(gateway, backends):
    with_text = [{"type": "input_text", "text": "shot.png, 1x1"}, codex_image()]
    response = post(gateway, viewed_image("fast", ("call_0", with_text), ("call_1", "exit 0")))
    assert response.status_code == 200, response.text
    sent = backends.llamafarm.state.recorded("/v1/projects/default/chatbot/chat/completions")[-1].json["messages"]
    assert [m["role"] for m in sent[-4:]] == ["assistant", "tool", "tool", "user"]  # the results stay paired with the calls
    assert [(m["tool_call_id"], m["content"]) for m in sent[-3:-1]] == [("call_0", "shot.png, 1x1"), ("call_1", "exit 0")]
    label, image = sent[-1]["content"]
    assert label == {"type": "text", "text": "The image from tool call call_0:"}
    assert image == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "auto"}}


def test_an_image_only_result_says_so_in_the_tool_message_an_openai_style_backend_gets(gateway, backends):
    assert post(gateway, viewed_image("fast", ("call_0", [codex_image()]))).status_code == 200
    sent = backends.llamafarm.state.recorded("/v1/projects/default/chatbot/chat/completions")[-1].json["messages"]
    assert sent[-2] == {"role": "tool", "tool_call_id": "call_0", "content": "(the result is the image below)"}
    assert sent[-1]["content"][1]["image_url"]["url"].endswith(PNG)


def test_a_text_only_result_in_parts_is_still_the_tool_messages_text(gateway, backends):
    parts = [{"type": "input_text", "text": "line one"}, {"type": "input_text", "text": "line two"}]
    assert post(gateway, viewed_image(MODEL, ("call_0", parts))).status_code == 200
    result = backends.ollama.state.recorded("/api/chat")[-1].json["messages"][-1]
    assert result["content"] == "line one\nline two" and "images" not in result


@pytest.mark.parametrize("url", ["https://example.com/shot.png", "HTTP://example.com/shot.png"])
def test_an_image_url_in_a_tool_result_is_a_400_saying_the_gateway_never_fetches_it(gateway, backends, url):
    response = post(gateway, viewed_image(MODEL, ("call_0", [codex_image(url)])))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "input[4].output[0].image_url"
    assert "never fetches a URL a request names" in error["message"] and "data: URL" in error["message"]
    assert backends.ollama.state.recorded("/api/chat") == []  # nothing was fetched or sent
    with gateway.client() as client:
        (entry,) = client.get("/v1/requests").json()["requests"]
    assert (entry["surface"], entry["status"]) == ("responses", 400)
    assert "never fetches" in entry["reason"]


@pytest.mark.parametrize(
    "item, param, says",
    [
        (codex_image("data:image/png;base64,not base64!"), "input[4].output[0].image_url", "base64"),
        (codex_image("data:text/plain;base64,aGk="), "input[4].output[0].image_url", "data: URL"),
        ({"type": "input_image", "file_id": "file-123"}, "input[4].output[0].file_id", "stores no files"),
        ({"type": "input_file", "file_data": "aGk=", "filename": "a.txt"}, "input[4].output[0]", "input_text or input_image"),
    ],
)
def test_an_unusable_item_in_a_tool_result_is_a_400_naming_it(gateway, item, param, says):
    response = post(gateway, viewed_image(MODEL, ("call_0", [item])))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert says in response.json()["error"]["message"]


def test_the_llamafarm_shape_keeps_a_conversation_without_tool_images_as_it_is():
    from atmosphere.adapters.tool_images import images_after_tool_results

    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    messages = [{"role": "user", "content": [image]}, {"role": "tool", "tool_call_id": "c", "content": "ok"}]
    assert images_after_tool_results(messages) is messages
