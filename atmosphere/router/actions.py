"""Atmosphere's own actions beside routing: test one chosen integration, without fallback
(``/v1/integrations/test``); and the requests ``/v1/execute`` may run."""

from __future__ import annotations

import logging
import time

from atmosphere.domain import ChatRequest, EmbedRequest, GenerateRequest, TestResult
from atmosphere.errors import BackendFailure, NotFound, unexpected_answer
from atmosphere.state.registry import Registry
from atmosphere.timing import ms_since

log = logging.getLogger("atmosphere.executor")

ActionRequest = ChatRequest | GenerateRequest | EmbedRequest


async def test_one(registry: Registry, integration: str, prompt: str, model: str | None, max_tokens: int | None) -> TestResult:
    """One chat turn on ``integration`` only. Whatever the backend or its adapter does, the
    answer is a result that says what happened, not an error of the gateway."""
    backend = registry.get(integration)
    if backend is None:
        raise NotFound(f"No integration with id '{integration}'.", param="integration_id")
    result = registry.result(integration)
    native = (backend.resolve_model(model) or model) if model else (result.default_model if result else None)
    if native is None:
        status = result.status if result else "not probed"
        detail = f": {result.error}" if result and result.error else ""
        return TestResult(False, integration, None, error=f"{backend.name} has no chat model to test ({status}{detail}).")
    started = time.perf_counter()
    req = ChatRequest(model=native, messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens)
    try:
        answer = await backend.chat(req, native)
    except BackendFailure as failure:
        return TestResult(False, integration, native, error=failure.reason, latency_ms=ms_since(started))
    except Exception as exc:  # noqa: BLE001 - an adapter bug is reported as this test's failure
        log.exception("test of %s: unexpected answer", integration)
        reason = unexpected_answer(exc, detail=True)
        return TestResult(False, integration, native, error=reason, latency_ms=ms_since(started))
    return TestResult(True, integration, native, response=answer.content or "", latency_ms=ms_since(started))
