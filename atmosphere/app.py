"""The app factory: wires settings, backends, registry, executor and the routers."""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from atmosphere import __version__
from atmosphere.adapters.llamafarm import LlamaFarmBackend
from atmosphere.adapters.ollama import OllamaBackend
from atmosphere.api import paths
from atmosphere.api.admin import dashboard, docs, health, integrations, keys, usage, websocket
from atmosphere.api.admin import equivalents as equivalents_api
from atmosphere.api.admin import requests as requests_api
from atmosphere.api.anthropic import routes as anthropic
from atmosphere.api.errors import add_error_renderer, install_error_handlers
from atmosphere.api.middleware.auth import ApiKeyGuard
from atmosphere.api.middleware.context import RequestContextMiddleware
from atmosphere.api.middleware.cors import CorsMiddleware, OriginPolicy, parse_origins
from atmosphere.api.middleware.front import FrontedApp
from atmosphere.api.middleware.guard import LocalOnlyGuard
from atmosphere.api.middleware.head import HeadAsGetMiddleware
from atmosphere.api.middleware.hot import HotRoutes, hot_endpoints
from atmosphere.api.ollama import routes as ollama
from atmosphere.api.openai import routes as openai
from atmosphere.api.openai.responses import routes as responses
from atmosphere.config import Settings
from atmosphere.host_policy import HostRules, peer_refusal
from atmosphere.http.budget import BufferBudget
from atmosphere.http.client import BUDGET_EXTENSION
from atmosphere.http.transport import PooledTransport, tls_context
from atmosphere.lifecycle.drain import Drain
from atmosphere.observe.context import install_log_tag
from atmosphere.observe.metrics import Metrics
from atmosphere.observe.recorder import Recorder
from atmosphere.observe.requestlog import RequestLog
from atmosphere.ports import Backend
from atmosphere.router.balancer import Balancer
from atmosphere.router.breaker import Breakers
from atmosphere.router.equivalents import Equivalents
from atmosphere.router.executor import Executor
from atmosphere.router.integrations import Integrations, host_gauges
from atmosphere.router.streams import StreamLimits
from atmosphere.state.hostlist import HostSpec
from atmosphere.state.hosts import Hosts
from atmosphere.store.metrics import UsageCollector
from atmosphere.store.service import Store

log = logging.getLogger("atmosphere")


@functools.cache
def _tls(ca_bundle: Path | None) -> Callable[[], ssl.SSLContext]:
    """One TLS context per trust configuration, made on the first https:// connection."""
    return functools.cache(lambda: tls_context(ca_bundle))


@functools.cache
def _budget(limit: int) -> BufferBudget:
    """The process-wide budget of buffered answer bytes (one per limit, so one in practice)."""
    return BufferBudget(limit)


def transport_factory(settings: Settings) -> Callable[[], PooledTransport]:
    """A keep-alive pool per backend client, all verifying TLS the same way and sharing
    one budget for buffered answers."""
    extensions = {BUDGET_EXTENSION: _budget(settings.max_buffered_bytes)}
    peers = peer_refusal(settings.host_allow_list())  # a name that resolves to a metadata address
    return functools.partial(PooledTransport, ssl_context=_tls(settings.ca_bundle), extensions=extensions, peer_check=peers)


def build_backend(spec: HostSpec, settings: Settings) -> Backend:
    """One adapter for one host, under the host's own id and name."""
    backend: Backend
    if spec.kind == "llamafarm":
        backend = LlamaFarmBackend(
            spec.url,
            runtime_url=spec.runtime_url or spec.url,
            namespace=settings.llamafarm_namespace,
            embed_model=settings.llamafarm_embed_model,
            default_model=settings.llamafarm_default_model,
            allow_cloud=settings.allow_cloud,
            probe_timeout=settings.probe_timeout,
            request_timeout=settings.request_timeout,
            transport_factory=transport_factory(settings),
        )
    else:
        backend = OllamaBackend(
            spec.url,
            allow_cloud=settings.allow_cloud,
            probe_timeout=settings.probe_timeout,
            request_timeout=settings.request_timeout,
            transport_factory=transport_factory(settings),
        )
    backend.id, backend.name = spec.id, spec.name
    return backend


def build_hosts(settings: Settings) -> Hosts:
    """The hosts (those the settings name plus those added from the dashboard, ``hosts.json``)
    and their registry, for ``serve`` and ``scan`` alike."""
    return Hosts(
        settings.hosts(),
        state_dir=settings.state_dir,
        build=lambda spec: build_backend(spec, settings),
        rules=HostRules(settings.host_allow_list(), settings.max_hosts),
        probe_timeout=settings.probe_timeout,
        health_interval=settings.health_interval,
    )


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hosts = build_hosts(settings)
        registry = hosts.registry
        balancer = Balancer(
            queue_size=settings.queue_size,
            queue_timeout=settings.queue_timeout or settings.request_timeout,  # the request's own deadline
            max_inflight=settings.max_inflight,
        )
        requests = RequestLog()
        metrics = Metrics(lambda: host_gauges(registry, balancer))
        metrics.collect_also(UsageCollector(store))  # written / dropped / queued, read at scrape time
        breakers = Breakers(on_change=registry.refresh, on_trip=metrics.breaker_tripped)
        cards = Integrations(hosts, balancer=balancer, breakers=breakers, requests=requests)
        equivalents = Equivalents(settings.models_path())
        limits = StreamLimits(settings.first_token_timeout, settings.stream_idle_timeout)
        app.state.executor = Executor(
            registry,
            balancer=balancer,
            recorder=Recorder(requests, metrics, log_prompts=settings.log_prompts),
            equivalents=equivalents,
            allow_cloud=settings.allow_cloud,
            limits=limits,
            breakers=breakers,
        )
        app.state.live = websocket.LiveUpdates(cards, rescan=registry.request_scan)
        requests.add_listener(app.state.live.request_done)
        app.state.registry, app.state.hosts, app.state.integrations = registry, hosts, cards
        app.state.metrics, app.state.requests, app.state.equivalents = metrics, requests, equivalents
        await registry.scan()  # so the first request already knows the backends
        for item in cards.all():
            log.info("%s at %s: %s%s", item["name"], item["url"], item["status"], f" ({item['error']})" if item["error"] else "")
        registry.start()
        await store.open()  # never fails the start: without a database, usage is "not recorded"
        try:
            yield
        finally:
            await registry.aclose()
            await store.close()  # the last batch is written

    app = FrontedApp(title="Atmosphere", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.store = store = Store(settings)  # opened in the lifespan; requests queue usage from the first
    app.state.drain = Drain()  # SIGTERM: open streams end with their error event (lifecycle/drain.py)
    origins = OriginPolicy(parse_origins(settings.allowed_origins))
    if origins.any:
        log.warning("ATMOSPHERE_ALLOWED_ORIGINS=*: any web page may call this API (each call still needs the key)")
    install_log_tag()
    app.include_router(health.router)
    app.include_router(docs.router)  # /docs, with Swagger UI's assets served locally
    app.include_router(equivalents_api.router)  # first: /v1/models/equivalents is not a model id
    app.include_router(requests_api.router)
    app.include_router(openai.router)
    app.include_router(responses.router)
    app.include_router(integrations.router)
    app.include_router(anthropic.router)
    app.include_router(ollama.router)
    app.include_router(keys.router)
    app.include_router(usage.router)
    app.include_router(websocket.router)
    faces = (openai, responses, anthropic, ollama, integrations)
    surfaces = {p: n for face in faces for p, n in face.SURFACES.items()}
    # In front of the framework's own middlewares (api/middleware/front.py), added innermost first:
    # the inference POSTs skip the framework's routing (api/middleware/hot.py); the
    # request context is outermost, so every answer carries its id; CORS answers preflights
    # before anything that would ask a browser for credentials.
    app.add_front(HotRoutes, routes=hot_endpoints((face.router for face in faces), surfaces))
    # Inside the guard and CORS: foreign pages and preflights never need a key.
    admin_key = settings.api_key.get_secret_value() if settings.api_key is not None else None
    app.add_front(ApiKeyGuard, key=admin_key, store=store, require_keys=settings.require_keys)
    app.add_front(LocalOnlyGuard, bound_host=settings.host, allowed=origins, allowed_hosts=settings.allowed_host_names())
    app.add_front(HeadAsGetMiddleware)
    if origins:
        app.add_front(CorsMiddleware, policy=origins)
    record = store.usage.record if settings.record_usage else None
    app.add_front(RequestContextMiddleware, surfaces=surfaces, record=record)
    install_error_handlers(app)
    add_error_renderer(app, paths.ANTHROPIC, anthropic.render_error)
    add_error_renderer(app, paths.OLLAMA, ollama.render_error)

    dashboard.install_dashboard(app)  # '/' and the bundle's files, below every API route
    return app
