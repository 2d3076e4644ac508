"""OpenAI requests → domain requests: chat, text-completion and embeddings bodies in, 400s for bad input.

Hand-written rather than pydantic: this is the hot path, and it must also give
OpenAI-style messages that name the offending parameter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from atmosphere.api.body import integer_param, number_param, optional_model, require_object, stream_param, typed
from atmosphere.api.fields import OPENAI_CHAT, OPENAI_COMPLETIONS, OPENAI_EMBEDDINGS, STREAM_OPTIONS
from atmosphere.domain import ChatRequest, EmbedRequest, GenerateRequest
from atmosphere.errors import InvalidRequest

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_PART_TYPES = frozenset({"text", "image_url", "input_audio", "file"})
# Keys we forward to backends that understand them (others are ignored, as OpenAI clients
# send vendor extras through ``extra_body``).
_PASSTHROUGH = (
    "tools",
    "tool_choice",
    "response_format",
    "frequency_penalty",
    "presence_penalty",
    "rag_enabled",
    "database",
    "rag_top_k",
    "rag_score_threshold",
    "rag_queries",
    "rag_retrieval_strategy",
    "think",
    "thinking_budget",
    "variables",
    "n_ctx",
)


MAX_STOP_SEQUENCES = 64


def stream_options(data: dict[str, Any]) -> dict[str, Any] | None:
    options = data.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidRequest("'stream_options' must be an object.", param="stream_options")
    if options:
        typed(options, STREAM_OPTIONS, "stream_options.")
    return options


def max_tokens_param(data: dict[str, Any]) -> int | None:
    """The answer's token limit: ``max_completion_tokens`` (OpenAI's current name) wins over
    ``max_tokens`` when both are sent."""
    found = integer_param(data, "max_completion_tokens", 1)
    return found if found is not None else integer_param(data, "max_tokens", 1)


def _messages(data: dict[str, Any]) -> list[dict[str, Any]]:
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array of messages.", param="messages")
    for index, message in enumerate(messages):
        _message(message, f"messages[{index}]")
    return messages


def _message(message: Any, where: str) -> None:
    """One chat message, checked as far as any adapter reads it."""
    if not isinstance(message, dict):
        raise InvalidRequest(f"'{where}' must be an object.", param=where)
    role = message.get("role")
    if not isinstance(role, str) or role not in _ROLES:
        raise InvalidRequest(
            f"'{where}.role' must be one of system, developer, user, assistant, tool, function (got {_shown(role)}).",
            param=f"{where}.role",
        )
    content = message.get("content")
    if content is None:
        if role not in ("assistant", "tool", "function"):
            raise InvalidRequest(f"'{where}.content' is required.", param=f"{where}.content")
    elif isinstance(content, list):
        for part_index, part in enumerate(content):
            _content_part(part, f"{where}.content[{part_index}]")
    elif not isinstance(content, str):
        raise InvalidRequest(f"'{where}.content' must be a string or an array of parts.", param=f"{where}.content")
    for key in ("name", "tool_call_id"):
        if message.get(key) is not None and not isinstance(message[key], str):
            raise InvalidRequest(f"'{where}.{key}' must be a string.", param=f"{where}.{key}")
    if message.get("tool_calls") is not None:
        _tool_calls(message["tool_calls"], f"{where}.tool_calls")


def _content_part(part: Any, where: str) -> None:
    kind = part.get("type") if isinstance(part, dict) else None
    if not isinstance(kind, str) or kind not in _PART_TYPES:
        raise InvalidRequest(
            f"'{where}.type' must be one of text, image_url, input_audio or file (got {_shown(kind)}).", param=f"{where}.type"
        )
    if kind == "text" and not isinstance(part.get("text"), str):
        raise InvalidRequest(f"'{where}.text' must be a string.", param=f"{where}.text")
    if kind in ("image_url", "input_audio", "file") and not isinstance(part.get(kind), dict):
        raise InvalidRequest(f"'{where}.{kind}' must be an object.", param=f"{where}.{kind}")
    if kind == "image_url" and not isinstance(part["image_url"].get("url"), str):
        raise InvalidRequest(f"'{where}.image_url.url' must be a string (a data: URL).", param=f"{where}.image_url.url")
    if kind == "input_audio" and not isinstance(part["input_audio"].get("data"), str):
        raise InvalidRequest(f"'{where}.input_audio.data' must be a base64 string.", param=f"{where}.input_audio.data")


def _tool_calls(calls: Any, where: str) -> None:
    for here, function in _with_functions(calls, where, "tool calls"):
        arguments = function.get("arguments")
        if arguments is not None and not isinstance(arguments, (str, dict)):
            raise InvalidRequest(f"'{here}.function.arguments' must be a JSON string.", param=f"{here}.function.arguments")


def _with_functions(items: Any, where: str, what: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The items of an array of objects that each carry a named ``function`` (tool calls, tools),
    with where each is and its function; a 400 naming the first that is not one."""
    if not isinstance(items, list):
        raise InvalidRequest(f"'{where}' must be an array of {what}.", param=where)
    for index, item in enumerate(items):
        here = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise InvalidRequest(f"'{here}' must be an object.", param=here)
        _function(item.get("function"), f"{here}.function")
        yield here, item["function"]


def _function(function: Any, where: str) -> None:
    if not isinstance(function, dict):
        raise InvalidRequest(f"'{where}' must be an object with a 'name'.", param=where)
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"'{where}.name' must be a non-empty string.", param=f"{where}.name")


def _tools(data: dict[str, Any]) -> None:
    """``tools``, ``tool_choice`` and ``response_format``: the shapes the adapters forward."""
    tools = data.get("tools")
    if tools is not None:
        for where, function in _with_functions(tools, "tools", "tools"):
            parameters = function.get("parameters")
            if parameters is not None and not isinstance(parameters, dict):
                raise InvalidRequest(
                    f"'{where}.function.parameters' must be a JSON Schema object.", param=f"{where}.function.parameters"
                )
    choice = data.get("tool_choice")
    if choice is not None and not isinstance(choice, (str, dict)):
        raise InvalidRequest("'tool_choice' must be a string or an object.", param="tool_choice")
    response_format = data.get("response_format")
    if response_format is not None and not (isinstance(response_format, dict) and isinstance(response_format.get("type"), str)):
        raise InvalidRequest("'response_format' must be an object with a 'type'.", param="response_format")


def _shown(value: Any) -> str:
    """A client's value, short, for an error message."""
    text = repr(value) if isinstance(value, str | int | float | bool | None) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def stop_param(data: dict[str, Any]) -> list[str] | None:
    """``stop`` as a list. OpenAI allows 4; local backends take more and clients such as
    Continue send longer lists, so only an absurd count is refused."""
    stop = data.get("stop")
    if isinstance(stop, str):
        return [stop]
    if stop is not None and (
        not isinstance(stop, list) or not all(isinstance(s, str) for s in stop) or len(stop) > MAX_STOP_SEQUENCES
    ):
        raise InvalidRequest(f"'stop' must be a string or an array of at most {MAX_STOP_SEQUENCES} strings.", param="stop")
    return stop or None


def parse_chat_request(data: Any) -> ChatRequest:
    data = require_object(data)
    model = optional_model(data)
    messages = _messages(data)
    _tools(data)
    typed(data, OPENAI_CHAT)
    stream = stream_param(data)
    n = integer_param(data, "n", 1)
    if n is not None and n > 1:
        raise InvalidRequest("'n' greater than 1 is not supported by LlamaFarm or Ollama.", param="n")
    max_tokens = max_tokens_param(data)
    stop = stop_param(data)
    options = stream_options(data)
    include_usage = bool(options and options.get("include_usage"))
    extra = {key: data[key] for key in _PASSTHROUGH if data.get(key) is not None}
    extra.update(_logprobs(data))
    return ChatRequest(
        model=model,
        messages=messages,
        stream=stream,
        temperature=number_param(data, "temperature", 0, 2),
        top_p=number_param(data, "top_p", 0, 1),
        max_tokens=max_tokens,
        stop=stop,
        seed=integer_param(data, "seed"),
        include_usage=include_usage and stream,
        user=data["user"][:200] if isinstance(data.get("user"), str) and data["user"] else None,
        extra=extra,
    )


def _logprobs(data: dict[str, Any]) -> dict[str, Any]:
    """``logprobs`` / ``top_logprobs``, for the adapters to honour or refuse (never drop)."""
    wanted = data.get("logprobs")
    if wanted is not None and not isinstance(wanted, bool):
        raise InvalidRequest("'logprobs' must be a boolean.", param="logprobs")
    top = integer_param(data, "top_logprobs", 0)
    if top is not None and (top > 20 or not wanted):
        raise InvalidRequest("'top_logprobs' must be an integer from 0 to 20, with 'logprobs': true.", param="top_logprobs")
    if not wanted:
        return {}
    return {"logprobs": True, "top_logprobs": top or 0}


def texts_param(data: dict[str, Any], key: str, *, tokens_refused: str) -> list[str]:
    """``key`` as one text or a non-empty array of texts; arrays of token ids (which OpenAI
    also takes) are refused with ``tokens_refused``, since local backends want text."""
    raw = data.get(key)
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw:
        if all(isinstance(item, str) for item in raw):
            return raw
        if all(isinstance(item, (int, list)) for item in raw):
            raise InvalidRequest(tokens_refused, param=key)
    raise InvalidRequest(f"'{key}' must be a non-empty string or a non-empty array of strings.", param=key)


def parse_embed_request(data: Any) -> EmbedRequest:
    data = require_object(data)
    model = optional_model(data)
    typed(data, OPENAI_EMBEDDINGS)
    inputs = texts_param(
        data,
        "input",
        tokens_refused="Token arrays are not supported; send 'input' as text. LangChain's OpenAIEmbeddings sends token ids "
        "by default: create it with check_embedding_ctx_length=False.",
    )
    if any(not item for item in inputs):
        raise InvalidRequest("'input' must not contain empty strings.", param="input")
    encoding = data.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise InvalidRequest("'encoding_format' must be 'float' or 'base64'.", param="encoding_format")
    return EmbedRequest(model=model, inputs=inputs, encoding_format=encoding, dimensions=integer_param(data, "dimensions", 1))


def parse_params(data: dict[str, Any]) -> dict[str, Any]:
    """The free-form ``params`` object of /v1/execute (checked per capability later)."""
    params = data.get("params")
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise InvalidRequest("'params' must be an object.", param="params")
    return params


def parse_generation_params(params: dict[str, Any]) -> dict[str, Any]:
    """Text-generation parameters, validated like the chat endpoint's."""
    system = params.get("system")
    if system is not None and not isinstance(system, str):
        raise InvalidRequest("'params.system' must be a string.", param="params.system")
    return {
        "temperature": number_param(params, "temperature", 0, 2),
        "top_p": number_param(params, "top_p", 0, 1),
        "max_tokens": max_tokens_param(params),
        "stop": stop_param(params),
        "seed": integer_param(params, "seed"),
        "system": system,
    }


MAX_PROMPTS = 16  # prompts in one request; each is a generation on a local backend


def parse_completion_request(data: Any) -> tuple[list[str], GenerateRequest]:
    """The prompts, and the generation every one of them runs as."""
    data = require_object(data)
    prompts = texts_param(data, "prompt", tokens_refused="Token-id prompts are not supported; send 'prompt' as text.")
    if len(prompts) > MAX_PROMPTS:
        raise InvalidRequest(f"'prompt' may hold at most {MAX_PROMPTS} prompts.", param="prompt")
    typed(data, OPENAI_COMPLETIONS)
    if data.get("echo"):
        raise InvalidRequest(
            "'echo' is not supported: LlamaFarm and Ollama do not return the prompt with the completion.", param="echo"
        )
    for key in ("n", "best_of"):
        count = integer_param(data, key, 1)
        if count is not None and count > 1:
            raise InvalidRequest(f"'{key}' greater than 1 is not supported by LlamaFarm or Ollama.", param=key)
    suffix = data.get("suffix")
    if suffix is not None and not isinstance(suffix, str):
        raise InvalidRequest("'suffix' must be a string.", param="suffix")
    stream = stream_param(data)
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
