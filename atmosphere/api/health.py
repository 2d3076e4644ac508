"""``/health``: is the service up (for people, scripts and load balancers); never guarded by a key."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from atmosphere import __version__
from atmosphere.api.common import json_response

router = APIRouter()


@router.get("/health", include_in_schema=False)
async def health(request: Request) -> Response:
    return json_response({"status": "ok", "version": __version__, "websocket_clients": request.app.state.live.client_count})
