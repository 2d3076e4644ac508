"""The /v1 API: OpenAI-compatible endpoints plus Atmosphere's integration endpoints.

Routes are thin: parse, call the executor or the registry, shape the answer.
"""

from __future__ import annotations

import base64
import logging
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from atmosphere import jsonfast
from atmosphere.api.errors import attempts_header, header_safe
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
from atmosphere.domain import ChatRequest, EmbedRequest
from atmosphere.errors import AtmosphereError, BackendFailure, InvalidRequest, NotFound
from atmosphere.ports import Backend
from atmosphere.registry import Registry
from atmosphere.router.executor import Executor, Served, StartedStream
from atmosphere.router.intent import infer_capability

log = logging.getLogger("atmosphere.api")
router = APIRouter(prefix="/v1")

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_DONE = b"data: [DONE]\n\n"


def _executor(request: Request) -> Executor:
    return request.app.state.executor


def _registry(request: Request) -> Registry:
    return request.app.state.registry


def _limit(request: Request) -> int:
    return request.app.state.settings.max_request_bytes


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(jsonfast.dumps(data), status_code=status, media_type="application/json", headers=headers)


def _served_headers(served: Served[Any]) -> dict[str, str]:
    headers = {"X-Atmosphere-Backend": served.backend, "X-Atmosphere-Model": header_safe(served.model)}
    return {**headers, **attempts_header(served.attempts)}


# --- OpenAI-compatible ----------------------------------------------------------------


@router.post("/chat/completions")
async def chat_completions(request: Request) -> Response:
    req = parse_chat_request(await read_json(request, _limit(request)))
    executor = _executor(request)
    if not req.stream:
        served = await executor.chat(req)
        return _json(served.value, headers=_served_headers(served))
    started = await executor.chat_stream(req)
    return StreamingResponse(
        _sse(started.value),
        media_type="text/event-stream",
        headers={**_SSE_HEADERS, **_served_headers(started)},
    )


async def _sse(stream: StartedStream) -> AsyncIterator[bytes]:
    """Forward chunks as they arrive. The backend is committed now: a failure ends the
    stream with an OpenAI error event and [DONE] rather than switching backends."""
    yield b"data: " + jsonfast.dumps(stream.first) + b"\n\n"
    try:
        async for chunk in stream.rest:
            yield b"data: " + jsonfast.dumps(chunk) + b"\n\n"
    except Exception as exc:  # noqa: BLE001 - whatever broke, the client gets an error event and [DONE]
        reason = exc.reason if isinstance(exc, BackendFailure) else f"unexpected answer ({type(exc).__name__})"
        log.warning("stream failed after it started: %s", reason)
        error = {
            "message": f"The backend failed mid-stream: {reason}",
            "type": "server_error",
            "param": None,
            "code": "upstream_error",
        }
        yield b"data: " + jsonfast.dumps({"error": error}) + b"\n\n"
    yield _DONE


@router.get("/models")
async def list_models(request: Request) -> Response:
    return _json({"object": "list", "data": _model_objects(_registry(request))})


@router.get("/models/{model_id:path}")
async def get_model(model_id: str, request: Request) -> Response:
    for item in _model_objects(_registry(request)):
        if item["id"] == model_id:
            return _json(item)
    raise _executor(request).model_not_found(model_id)


def _model_objects(registry: Registry) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for integration in registry.integrations():
        if not integration["enabled"] or integration["status"] != "healthy":
            continue
        created = int(integration["last_checked"] or time.time())
        for model in integration["models"]:
            if model["id"] in seen:
                continue  # the higher-priority backend serves a shared name
            seen.add(model["id"])
            out.append({"id": model["id"], "object": "model", "created": created, "owned_by": integration["id"]})
    return out


@router.post("/embeddings")
async def embeddings(request: Request) -> Response:
    req = parse_embed_request(await read_json(request, _limit(request)))
    served = await _executor(request).embed(req)
    return _json(_embedding_body(req, served), headers=_served_headers(served))


def _embedding_body(req: EmbedRequest, served: Served[dict[str, Any]]) -> dict[str, Any]:
    vectors = served.value["vectors"]
    if req.encoding_format == "base64":
        # The OpenAI SDK asks for base64 by default and decodes little-endian float32.
        encoded: list[Any] = [base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() for v in vectors]
    else:
        encoded = vectors
    return {
        "object": "list",
        "model": served.model,
        "data": [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(encoded)],
        "usage": served.value["usage"],
    }


# --- Atmosphere: integrations ---------------------------------------------------------


@router.get("/integrations")
async def integrations(request: Request, refresh: bool = False) -> Response:
    registry = _registry(request)
    items = await registry.scan() if refresh else registry.integrations()
    return _json({"integrations": items, "timestamp": time.time()})


@router.post("/integrations/test")
async def test_integration(request: Request) -> Response:
    """Run one prompt on one integration, without fallback. A backend failure is a result."""
    data = require_object(await read_json(request, _limit(request)))
    integration_id = data.get("integration_id")
    prompt = data.get("prompt")
    if not isinstance(integration_id, str) or not integration_id:
        raise InvalidRequest("'integration_id' must be a non-empty string.", param="integration_id")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequest("'prompt' must be a non-empty string.", param="prompt")
    model = optional_model(data)
    registry = _registry(request)
    backend = _backend_or_404(registry, integration_id)
    result = registry.result(integration_id)
    native = (backend.resolve_model(model) or model) if model else (result.default_model if result else None)
    started = time.perf_counter()
    body: dict[str, Any] = {"success": False, "integration_id": integration_id, "response": None, "model_used": native}
    if native is None:
        status = result.status if result else "not probed"
        body["error"] = (
            f"{backend.name} has no chat model to test ({status}{': ' + result.error if result and result.error else ''})."
        )
    else:
        max_tokens = integer_param(data, "max_tokens", 1)
        req = ChatRequest(model=native, messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens)
        try:
            answer = await backend.chat(req, native)
            body.update(success=True, response=answer["choices"][0]["message"].get("content") or "", error=None)
        except BackendFailure as failure:
            body["error"] = failure.reason
    body["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    body.setdefault("error", None)
    return _json(body)


@router.post("/integrations/{integration_id}/disable")
async def disable_integration(integration_id: str, request: Request) -> Response:
    return await _set_enabled(request, integration_id, False)


@router.post("/integrations/{integration_id}/enable")
async def enable_integration(integration_id: str, request: Request) -> Response:
    return await _set_enabled(request, integration_id, True)


async def _set_enabled(request: Request, integration_id: str, enabled: bool) -> Response:
    registry = _registry(request)
    _backend_or_404(registry, integration_id)
    return _json({"integration": await registry.set_enabled(integration_id, enabled)})


def _backend_or_404(registry: Registry, integration_id: str) -> Backend:
    backend = registry.get(integration_id)
    if backend is None:
        raise NotFound(f"No integration with id '{integration_id}'.", param="integration_id")
    return backend


# --- Atmosphere: intent execution -----------------------------------------------------


@router.post("/execute")
async def execute(request: Request) -> Response:
    data = require_object(await read_json(request, _limit(request)))
    intent = data.get("intent")
    if not isinstance(intent, str) or not intent.strip():
        raise InvalidRequest("'intent' must be a non-empty string.", param="intent")
    capability = data.get("capability") or infer_capability(intent)
    if capability not in ("chat", "generate", "embeddings"):
        raise InvalidRequest("'capability' must be one of chat, generate, embeddings.", param="capability")
    model = optional_model(data)
    params = parse_params(data)
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
        served = await _run_capability(_executor(request), capability, intent, model, params)
        body.update(success=True, backend=served.backend, model=served.model, data=served.value)
        attempts = served.attempts
    except (InvalidRequest, NotFound):
        raise  # the caller's mistake: the usual OpenAI error body
    except AtmosphereError as exc:
        body["error"] = exc.message
        attempts = getattr(exc, "attempts", [])
        status = exc.status
    body["execution_time_ms"] = round((time.perf_counter() - started) * 1000, 2)
    body["attempts"] = [a.to_dict() for a in attempts]
    return _json(body, status=status)


async def _run_capability(
    executor: Executor, capability: str, intent: str, model: str | None, params: dict[str, Any]
) -> Served[Any]:
    if capability == "embeddings":
        raw = params.get("input", intent)
        req = parse_embed_request({"model": model, "input": raw})
        served = await executor.embed(req)
        served.value = {"embeddings": served.value["vectors"], "usage": served.value["usage"]}
        return served
    if capability == "generate":
        prompt = params.get("prompt", intent)
        if not isinstance(prompt, str):
            raise InvalidRequest("'params.prompt' must be a string.", param="params.prompt")
        return await executor.generate(prompt, model, parse_generation_params(params))
    messages = params.get("messages") or [{"role": "user", "content": intent}]
    req = parse_chat_request({**{k: v for k, v in params.items() if k != "stream"}, "model": model, "messages": messages})
    served = await executor.chat(req)
    choice = served.value["choices"][0]
    served.value = {
        "response": choice["message"].get("content"),
        "finish_reason": choice.get("finish_reason"),
        "usage": served.value.get("usage"),
    }
    return served
