"""The app factory: wires settings, backends, registry, executor and the routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from atmosphere import __version__
from atmosphere.adapters.llamafarm import LlamaFarmBackend
from atmosphere.adapters.ollama import OllamaBackend
from atmosphere.api import dashboard, health, integrations, openai, websocket
from atmosphere.api.cors import CorsMiddleware, OriginPolicy, parse_origins
from atmosphere.api.errors import install_error_handlers
from atmosphere.api.guard import LocalOnlyGuard
from atmosphere.api.head import HeadAsGetMiddleware
from atmosphere.api.request_id import RequestIdMiddleware, install_log_tag
from atmosphere.config import Settings
from atmosphere.http.transport import PooledTransport
from atmosphere.ports import Backend
from atmosphere.registry import Registry
from atmosphere.router.executor import Executor

log = logging.getLogger("atmosphere")


def build_backends(settings: Settings) -> list[Backend]:
    """Backends in routing priority order: LlamaFarm first, Ollama as the fallback."""
    return [
        LlamaFarmBackend(
            settings.llamafarm_url,
            runtime_url=settings.llamafarm_runtime_url,
            namespace=settings.llamafarm_namespace,
            embed_model=settings.llamafarm_embed_model,
            probe_timeout=settings.probe_timeout,
            request_timeout=settings.request_timeout,
            transport_factory=PooledTransport,
        ),
        OllamaBackend(
            settings.ollama_url,
            probe_timeout=settings.probe_timeout,
            request_timeout=settings.request_timeout,
            transport_factory=PooledTransport,
        ),
    ]


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry = Registry(
            build_backends(settings),
            state_dir=settings.state_dir,
            probe_timeout=settings.probe_timeout,
            health_interval=settings.health_interval,
        )
        app.state.registry = registry
        app.state.executor = Executor(registry)
        app.state.live = websocket.LiveUpdates(registry)
        await registry.scan()  # so the first request already knows the backends
        for item in registry.integrations():
            log.info("%s at %s: %s%s", item["name"], item["url"], item["status"], f" ({item['error']})" if item["error"] else "")
        registry.start()
        try:
            yield
        finally:
            await registry.aclose()

    app = FastAPI(title="Atmosphere", version=__version__, lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.settings = settings
    origins = OriginPolicy(parse_origins(settings.allowed_origins))
    if origins.any:
        log.warning("ATMOSPHERE_ALLOWED_ORIGINS=*: any web page you visit can use this API")
    install_log_tag()
    # Added innermost first: the request id is outermost, so every answer carries it;
    # CORS answers preflights before anything that would ask a browser for credentials.
    app.add_middleware(LocalOnlyGuard, bound_host=settings.host, allowed=origins)
    app.add_middleware(HeadAsGetMiddleware)
    if origins:
        app.add_middleware(CorsMiddleware, policy=origins)
    app.add_middleware(RequestIdMiddleware)
    install_error_handlers(app)

    app.include_router(health.router)
    app.include_router(openai.router)
    app.include_router(integrations.router)
    app.include_router(websocket.router)
    app.include_router(dashboard.router)  # '/'; other unmatched GETs fall back to the app (api.errors)
    return app
