"""Atmosphere's own endpoints: the integrations (list, test, enable/disable) and ``/v1/execute``.

With ``/ws`` these are the only routes that read the registry; everything that runs a
prompt goes through the executor.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from atmosphere.api.common import body_limit, executor, json_response
from atmosphere.api.context import surfaces
from atmosphere.api.openai_shapes import embedding_usage_body, usage_body
from atmosphere.api.validation import (
    integer_param,
    optional_model,
    parse_chat_request,
    parse_embed_request,
    parse_generation_params,
    parse_params,
    read_json,
    require_object,
)
from atmosphere.domain import ChatCompletion, ChatRequest, Embeddings, EmbedRequest, GenerateRequest
from atmosphere.errors import AtmosphereError, InvalidRequest, NotFound
from atmosphere.registry import Registry
from atmosphere.router.intent import infer_capability
from atmosphere.timing import ms_since

router = APIRouter(prefix="/v1")
SURFACES = surfaces(router, {"/execute": "execute", "/integrations/test": "test"})


def _registry(request: Request) -> Registry:
    return request.app.state.registry  # type: ignore[no-any-return]


@router.get("/integrations")
async def integrations(request: Request, refresh: bool = False) -> Response:
    registry = _registry(request)
    items = await registry.scan(fresh=True) if refresh else registry.integrations()
    return json_response({"integrations": items, "timestamp": time.time()})


@router.post("/integrations/test")
async def test_integration(request: Request) -> Response:
    """Run one prompt on one integration, without fallback. A backend failure is a result."""
    data = require_object(await read_json(request, body_limit(request)))
    integration_id = data.get("integration_id")
    prompt = data.get("prompt")
    if not isinstance(integration_id, str) or not integration_id:
        raise InvalidRequest("'integration_id' must be a non-empty string.", param="integration_id")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequest("'prompt' must be a non-empty string.", param="prompt")
    model = optional_model(data)
    max_tokens = integer_param(data, "max_tokens", 1)
    result = await executor(request).test_one(integration_id, prompt, model, max_tokens)
    return json_response(
        {
            "success": result.success,
            "integration_id": result.integration_id,
            "response": result.response,
            "model_used": result.model_used,
            "error": result.error,
            "latency_ms": result.latency_ms,
        }
    )


@router.post("/integrations/{integration_id}/disable")
async def disable_integration(integration_id: str, request: Request) -> Response:
    return await _set_enabled(request, integration_id, False)


@router.post("/integrations/{integration_id}/enable")
async def enable_integration(integration_id: str, request: Request) -> Response:
    return await _set_enabled(request, integration_id, True)


async def _set_enabled(request: Request, integration_id: str, enabled: bool) -> Response:
    registry = _registry(request)
    if registry.get(integration_id) is None:
        raise NotFound(f"No integration with id '{integration_id}'.", param="integration_id")
    return json_response({"integration": await registry.set_enabled(integration_id, enabled)})


# --- intent execution -------------------------------------------------------------------


@router.post("/execute")
async def execute(request: Request) -> Response:
    data = require_object(await read_json(request, body_limit(request)))
    intent = data.get("intent")
    if not isinstance(intent, str) or not intent.strip():
        raise InvalidRequest("'intent' must be a non-empty string.", param="intent")
    capability = data.get("capability") or infer_capability(intent)
    if capability not in ("chat", "generate", "embeddings"):
        raise InvalidRequest("'capability' must be one of chat, generate, embeddings.", param="capability")
    action = _action_request(capability, intent, optional_model(data), parse_params(data))
    started = time.perf_counter()
    body: dict[str, Any] = {
        "success": False,
        "capability": capability,
        "backend": None,
        "model": None,
        "data": None,
        "error": None,
    }
    status = 200
    try:
        served = await executor(request).execute(action)
        body.update(
            success=True, backend=served.backend, model=served.model, data=_action_data(served.value, served.model, capability)
        )
        attempts = served.attempts
    except (InvalidRequest, NotFound):
        raise  # the caller's mistake: the usual OpenAI error body
    except AtmosphereError as exc:
        body["error"] = exc.message
        attempts = getattr(exc, "attempts", [])
        status = exc.status
    body["execution_time_ms"] = ms_since(started)
    body["attempts"] = [a.to_dict() for a in attempts]
    return json_response(body, status=status)


def _action_request(
    capability: str, intent: str, model: str | None, params: dict[str, Any]
) -> ChatRequest | GenerateRequest | EmbedRequest:
    """The domain request ``params`` describe; the intent is the input unless params give one."""
    if capability == "embeddings":
        return parse_embed_request({"model": model, "input": params.get("input", intent)})
    if capability == "generate":
        prompt = params.get("prompt", intent)
        if not isinstance(prompt, str):
            raise InvalidRequest("'params.prompt' must be a string.", param="params.prompt")
        return GenerateRequest(model=model, prompt=prompt, **parse_generation_params(params))
    messages = params.get("messages") or [{"role": "user", "content": intent}]
    return parse_chat_request({**{k: v for k, v in params.items() if k != "stream"}, "model": model, "messages": messages})


def _action_data(value: ChatCompletion | Embeddings, model: str, capability: str) -> dict[str, Any]:
    if isinstance(value, Embeddings):
        return {"embeddings": value.vectors, "usage": embedding_usage_body(value.usage)}
    if capability == "generate":
        return {
            "text": value.content or "",
            "model": model,
            "finish_reason": value.finish_reason,
            "usage": usage_body(value.usage),
        }
    return {"response": value.content, "finish_reason": value.finish_reason, "usage": usage_body(value.usage)}
