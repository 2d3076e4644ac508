"""A request body read for every face: JSON within the size limit and the nesting depth,
and the small typed checks each face's parser shares (an object, a number in a range, an
integer, a model name), each a 400 naming the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from starlette.requests import ClientDisconnect, Request

from atmosphere import jsonfast
from atmosphere.api.fields import Spec, shown, wrong_field
from atmosphere.errors import InvalidRequest, PayloadTooLarge

# Deeper than any real tool schema; well under the 254 levels orjson can write back out,
# which a body must survive on its way to a backend.
MAX_DEPTH = 64


async def read_json(request: Request, limit: int) -> Any:
    """The request body as JSON, refusing bodies over ``limit`` bytes without reading them all,
    and bodies nested deeper than a backend could be sent."""
    try:
        body = await _read_body(request, limit)
    except ClientDisconnect:
        # Nobody is left to answer; an error (not a trace) ends the request quietly.
        raise InvalidRequest("The client disconnected before sending the whole body.") from None
    if not body:
        raise InvalidRequest("Request body is empty; expected a JSON object.")
    try:
        data = jsonfast.loads(body)
    except jsonfast.JSONDecodeError as exc:
        raise InvalidRequest(f"Request body is not valid JSON: {exc}") from None
    if _too_deep(data, MAX_DEPTH):
        raise InvalidRequest(f"Request body is nested more than {MAX_DEPTH} levels deep.")
    return data


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            too_big = int(declared) > limit
        except ValueError:
            raise InvalidRequest("Content-Length is not a number") from None
        if too_big:
            raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes.")
        return await request.body()
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes.")
        parts.append(part)
    return b"".join(parts)


def _too_deep(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels (iterative: no recursion limit)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def typed(data: dict[str, Any], spec: Spec, prefix: str = "") -> None:
    """A 400 naming the first field of ``spec`` with a value of the wrong type (api/fields.py)."""
    wrong = wrong_field(data, spec, prefix)
    if wrong is not None:
        name, expect, value = wrong
        raise InvalidRequest(f"'{name}' must be {expect.what} (got {shown(value)}).", param=name)


def typed_items(items: list[Any], where: str) -> Iterator[tuple[str, Any, str | None]]:
    """Each item of an array with where it is (``where[i]``, as a 400 names it) and its ``type``
    (None when the item is not an object)."""
    for index, item in enumerate(items):
        yield f"{where}[{index}]", item, item.get("type") if isinstance(item, dict) else None


def require_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidRequest("Request body must be a JSON object.")
    return data


def number_param(data: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise InvalidRequest(f"'{key}' must be a number between {low:g} and {high:g}.", param=key)
    return value


def integer_param(data: dict[str, Any], key: str, low: int | None = None) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low):
        bound = f" of at least {low}" if low is not None else ""
        raise InvalidRequest(f"'{key}' must be an integer{bound}.", param=key)
    return value


def stream_param(data: dict[str, Any]) -> bool:
    """``stream`` on every OpenAI surface: absent or null is off; anything else must be a real
    boolean (OpenAI answers 400 to ``"stream": 0``; chat, completions and responses now agree)."""
    stream = data.get("stream")
    if stream is None:
        return False
    if not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean.", param="stream")
    return stream


def optional_model(data: dict[str, Any]) -> str | None:
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise InvalidRequest("'model' must be a string.", param="model")
    return model
