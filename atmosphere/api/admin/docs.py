"""``/docs``: Swagger UI served from this process, so it works without internet.

FastAPI's default page loads Swagger UI from a CDN; on an offline machine, or one whose
browser may not reach the internet, that page is blank. The assets come from the
``swagger-ui-bundle-v2`` package instead, and the online spec validator is switched off.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import FileResponse, Response
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

router = APIRouter(include_in_schema=False)

_ASSETS = Path(swagger_ui_path)
_SERVED = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})


@router.get("/docs")
async def docs(request: Request) -> Response:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title=f"{request.app.title} API",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/docs/assets/{name}")
async def asset(name: str) -> Response:
    if name not in _SERVED:
        return Response(status_code=404)
    return FileResponse(_ASSETS / name, headers={"Cache-Control": "public, max-age=86400"})
