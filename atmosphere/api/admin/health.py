"""``/health``: is the service up (for people, scripts and load balancers); never guarded by a key."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from atmosphere import __version__
from atmosphere.api.common import json_response

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
