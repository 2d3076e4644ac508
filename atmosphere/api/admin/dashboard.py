"""Serves the built dashboard (``atmosphere/static``): ``/`` and the files of the bundle.

The bundle is served by FastAPI's frontend support (``app.frontend``), which sits below
every API route, so an API path keeps its own 404 and 405. A browser navigating to any
other path gets the page (the single-page app's fallback); a program gets a JSON 404.
Under the API's prefixes nobody gets the page: the ``_ApiSpace`` route claims those
paths last, so an unknown one is a 404 in the shape of the surface it names. Without a
built bundle, ``/`` explains how to build one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from atmosphere.api import paths

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"  # atmosphere/static

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Atmosphere</title>
<style>body{{font-family:system-ui,sans-serif;background:#0f1117;color:#e6e6e6;max-width:40rem;margin:4rem auto;padding:0 1rem}}
code{{background:#1d2230;padding:.1rem .3rem;border-radius:4px}}</style></head><body>
<h1>Atmosphere is running</h1>
{message}
<p>The API is live: try <a href="/v1/integrations">/v1/integrations</a> or <a href="/health">/health</a>.</p>
</body></html>"""
_NOT_BUILT = _PAGE.format(
    message="""<p>The dashboard has not been built yet. Build it with <code>make ui</code>
(or <code>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</code>) and reload this page.
<code>make serve</code> builds it for you.</p>"""
)
_BUILT_AFTER_START = _PAGE.format(
    message="""<p>The dashboard was built after Atmosphere started. Restart Atmosphere to serve it.</p>"""
)


class _ApiSpace(BaseRoute):
    """Claims unknown paths under the API prefixes, after every real route.

    It matches only partially, so a real route that matched partially first (a wrong method:
    405) still wins, and the frontend's fallback is never consulted for these paths.
    """

    def __init__(self, prefixes: tuple[str, ...]):
        self.prefixes = prefixes

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if scope["type"] == "http" and any(path == p or path.startswith(p + "/") for p in self.prefixes):
            return Match.PARTIAL, {}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise HTTPException(404)  # rendered by api.errors in the surface's own shape

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)


def install_dashboard(app: FastAPI, static_dir: Path = STATIC_DIR, api_prefixes: tuple[str, ...] = paths.API) -> None:
    """``/`` (the page, or how to build it) and the bundle's files, below the API routes.
    Call it after every API router is included."""
    served = (static_dir / "index.html").is_file()
    if served:
        app.frontend("/", directory=static_dir, fallback="index.html", check_dir=False)
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    async def index(request: Request) -> Response:
        page = static_dir / "index.html"
        if not page.is_file():
            return HTMLResponse(_NOT_BUILT)
        if not served:
            return HTMLResponse(_BUILT_AFTER_START)  # its assets are not mounted yet
        return FileResponse(page, headers={"Cache-Control": "no-cache"})  # so a rebuild shows on reload

    app.include_router(router)
    app.router.routes.append(_ApiSpace(api_prefixes))
