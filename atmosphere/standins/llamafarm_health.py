"""The LlamaFarm server's `/health`, as 0.0.27 computes it (reference "Observed", O.2).

The verdict counts only `server` and `storage`: it stays `healthy` with the Universal
Runtime and Ollama both down. Those two are still checked for real (when the state names
their URLs) and listed as components with their own status, so a gateway that reads the
components can tell which models can run. `health_delay` reproduces the ~1.2 s the real
check takes (its RAG-worker probe); `/health/liveness` is never delayed.
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
import time
from pathlib import Path
from typing import Any

import httpx

from atmosphere.standins.state import EmulatorState

DATA_DIR = str(Path.home() / ".llamafarm")
_CHECK_TIMEOUT = 1.0  # LlamaFarm's own Ollama check uses about a second
_SEED_MODEL = "unsloth/Qwen3-1.7B-GGUF:Q4_K_M"


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every check: httpx builds a new one per client by loading the CA
    bundle (~20 ms of CPU), and a gateway probing this stand-in asks for /health every interval."""
    return httpx.create_ssl_context()


async def _get_json(url: str) -> tuple[Any, str | None]:
    """GET one URL; (body, None) on a 200 JSON answer, else (None, the error text)."""
    try:
        async with httpx.AsyncClient(timeout=_CHECK_TIMEOUT, trust_env=False, verify=_tls()) as client:
            resp = await client.get(url)
        if resp.status_code != 200:
            return None, f"HTTP {resp.status_code}"
        return resp.json(), None
    except (httpx.HTTPError, ValueError) as exc:
        # The real message is the Python connection error's text; this is close enough.
        return None, str(exc) or type(exc).__name__


async def _ollama(url: str | None) -> dict[str, Any]:
    host = url or "http://localhost:11434"
    if url is None:  # not wired to a stand-in: reported up, as before, and never contacted
        return _component("ollama", "healthy", f"{host} reachable, 4 model(s) available", 12, {"host": host, "model_count": 4})
    started = time.perf_counter()
    body, error = await _get_json(f"{url}/api/tags")
    latency = round((time.perf_counter() - started) * 1000)
    if error is not None or not isinstance(body, dict):
        return _component("ollama", "unhealthy", error or "unexpected answer", latency, {"host": host})
    names = [m.get("name") for m in body.get("models") or [] if isinstance(m, dict)]
    details = {"host": host, "model_count": len(names), "models": names}
    return _component("ollama", "healthy", f"{host} reachable, {len(names)} model(s) available", latency, details)


async def _runtime(url: str | None) -> dict[str, Any]:
    host = url or "http://127.0.0.1:11540"
    if url is None:
        details = {"host": host, "device": "unknown", "model_count": 0, "models": [], "streaming_supported": True}
        details["loaded_models"] = []
        return _component("universal-runtime", "healthy", "Reachable on unknown, 0 model(s) loaded", 3, details)
    started = time.perf_counter()
    body, error = await _get_json(f"{url}/health")
    latency = round((time.perf_counter() - started) * 1000)
    if error is not None or not isinstance(body, dict):
        reason = error or "unexpected answer"
        return _component("universal-runtime", "unhealthy", reason, latency, {"host": host, "error": reason})
    loaded = [k for k in body.get("loaded_models") or [] if isinstance(k, str)]
    details = {
        "host": host,
        "device": "unknown",  # what 0.0.27 reported on CPU
        "model_count": len(loaded),
        "models": loaded,
        "streaming_supported": True,
        "loaded_models": loaded,
    }
    return _component("universal-runtime", "healthy", f"Reachable on unknown, {len(loaded)} model(s) loaded", latency, details)


def _component(name: str, status: str, message: str, latency: int, details: dict[str, Any] | None = None) -> dict[str, Any]:
    component: dict[str, Any] = {"name": name, "status": status, "message": message, "latency_ms": latency}
    if details is not None:
        component["details"] = details
    return component


async def health_body(state: EmulatorState) -> dict[str, Any]:
    """The whole `/health` answer; the `unhealthy` fault makes storage fail (so the verdict)."""
    checks = asyncio.gather(_ollama(state.lf_ollama_url), _runtime(state.lf_runtime_url))
    if state.health_delay > 0:
        ollama, runtime = (await asyncio.gather(checks, asyncio.sleep(state.health_delay)))[0]
    else:
        ollama, runtime = await checks
    storage_ok = state.fault != "unhealthy"
    components = [
        _component("server", "healthy", "FastAPI process responding", 0, {"pid": os.getpid(), "host": "0.0.0.0"}),
        _component(
            "storage",
            "healthy" if storage_ok else "unhealthy",
            f"{DATA_DIR}/projects exists and writable" if storage_ok else f"{DATA_DIR}/projects is not writable",
            1,
        ),
        _component("designer", "degraded", "Designer static files not found", 0),
        ollama,
        runtime,
        _component("rag-service", "unhealthy", "RAG worker not responding (immediate check)", 1100),
    ]
    seeds = [
        {
            "name": "seed:project",
            "status": runtime["status"],
            "message": "Model available" if runtime["status"] == "healthy" else "Runtime not reachable",
            "latency_ms": 15,
            "runtime": {"provider": "universal", "model": _SEED_MODEL, "host": runtime["details"]["host"]},
        }
    ]
    # compute_overall_status: worst of `server` and `storage` only.
    verdict = "healthy" if storage_ok else "unhealthy"
    return {
        "status": verdict,
        "summary": ", ".join(f"{c['name']}={c['status']}" for c in components + seeds),
        "components": components,
        "seeds": seeds,
        "timestamp": int(time.time()),
    }
