"""Atmosphere's own endpoints: the one resource ``/v1/integrations`` (list, add, remove,
reorder, test, enable/disable, warm up) and ``/v1/execute``.

These are the only routes that read the registry (``/ws`` gets its cards from
``router.integrations``); everything that runs a prompt goes through the executor. The
HTTP input is checked here; ``state.hosts`` checks what it means.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from atmosphere.api.body import integer_param, optional_model, read_json, require_object
from atmosphere.api.common import body_limit, executor, json_response
from atmosphere.api.middleware.context import surfaces
from atmosphere.api.openai.parse import parse_chat_request, parse_embed_request, parse_generation_params, parse_params
from atmosphere.api.openai.render import embedding_usage_body, usage_body
from atmosphere.domain import ChatCompletion, ChatRequest, Embeddings, EmbedRequest, GenerateRequest
from atmosphere.errors import AtmosphereError, Conflict, InvalidRequest, NotFound
from atmosphere.host_policy import TooManyHosts
from atmosphere.router.integrations import Integrations
from atmosphere.router.intent import infer_capability
from atmosphere.state.hostlist import HostListError
from atmosphere.state.hosts import Hosts
from atmosphere.state.registry import Registry
from atmosphere.timing import ms_since

router = APIRouter(prefix="/v1")
SURFACES = surfaces(router, {"/execute": "execute", "/integrations/test": "test"})


def _registry(request: Request) -> Registry:
    return request.app.state.registry  # type: ignore[no-any-return]


def _hosts(request: Request) -> Hosts:
    return request.app.state.hosts  # type: ignore[no-any-return]


def _cards(request: Request) -> Integrations:
    return request.app.state.integrations  # type: ignore[no-any-return]


async def _body(request: Request) -> dict[str, Any]:
    return require_object(await read_json(request, body_limit(request)))


@router.get("/integrations")
async def integrations(request: Request, refresh: bool = False) -> Response:
    if refresh:
        await _registry(request).scan(fresh=True)
    return json_response({"integrations": _cards(request).all(), "timestamp": time.time()})


# --- the set of hosts -------------------------------------------------------------------


@router.post("/integrations", status_code=201)
async def add_integration(request: Request) -> Response:
    data = await _body(request)
    kind, url = _text(data, "kind"), _text(data, "url")
    name, runtime_url = _optional_text(data, "name"), _optional_text(data, "runtime_url")
    try:
        host_id = await _hosts(request).add(kind, name or "", url, runtime_url or None)
    except TooManyHosts as exc:
        raise Conflict(str(exc), code="too_many_hosts") from None
    except HostListError as exc:
        raise InvalidRequest(str(exc), param=exc.param) from None
    return json_response({"integration": _cards(request).get(host_id)}, status=201)


def _text(data: dict[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"'{field}' must be a non-empty string.", param=field)
    return value


def _optional_text(data: dict[str, Any], field: str) -> str | None:
    value = data.get(field)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"'{field}' must be a string.", param=field)
    return value


@router.post("/integrations/order")
async def reorder_integrations(request: Request) -> Response:
    order = (await _body(request)).get("order")
    if not isinstance(order, list) or not all(isinstance(i, str) for i in order) or not order:
        raise InvalidRequest("'order' must be a non-empty list of integration ids.", param="order")
    await _hosts(request).reorder(order)
    return json_response({"integrations": _cards(request).all()})


@router.delete("/integrations/{integration_id}")
async def remove_integration(integration_id: str, request: Request) -> Response:
    await _hosts(request).remove(integration_id)
    return json_response({"removed": integration_id})


@router.post("/integrations/{integration_id}/warm")
async def warm_integration(integration_id: str, request: Request) -> Response:
    """Load a model on one host now (the router's residency action, as the Ollama face's
    load calls): 404 for an unknown host or a model it does not list; a host that cannot
    preload, or fails to, answers ``success: false`` with why."""
    model = (await _body(request)).get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("'model' must be a non-empty string.", param="model")
    warmed = await executor(request).residency.warm_on(integration_id, model)
    body = {"success": warmed.success, "integration_id": warmed.host, "model": warmed.model}
    return json_response({**body, "latency_ms": warmed.latency_ms, "error": warmed.error})


@router.post("/integrations/test")
async def test_integration(request: Request) -> Response:
    """Run one prompt on one integration, without fallback. A backend failure is a result."""
    data = await _body(request)
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
    await registry.set_enabled(integration_id, enabled)
    return json_response({"integration": _cards(request).get(integration_id)})


# --- intent execution -------------------------------------------------------------------


@router.post("/execute")
async def execute(request: Request) -> Response:
    data = await _body(request)
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
