"""For monitors: ``/health`` (is the service up, for people, scripts and load balancers; never
guarded by a key) and ``GET /metrics`` for Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from atmosphere import __version__
from atmosphere.api.common import json_response
from atmosphere.observe.metrics import CONTENT_TYPE, Metrics

router = APIRouter()


@router.get("/health", include_in_schema=False)
async def health(request: Request) -> Response:
    body = {
        "status": "ok",
        "version": __version__,
        "websocket_clients": request.app.state.live.client_count,
        "auth_required": request.app.state.settings.api_key is not None,  # the dashboard asks for a key when true
        "usage": request.app.state.store.recording(),  # {"ok": false, "reason": ...}: usage not recorded
    }
    return json_response(body)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE)
