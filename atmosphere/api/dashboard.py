"""Serves the built dashboard (``atmosphere/static``): ``/`` and the files of the bundle.

The bundle's files are served by FastAPI's frontend support, which sits below every API
route, so an API path keeps its own 404 and 405. The dashboard routes by URL hash
(``#/integrations``), so there is no client-side path to fall back to: an unknown path is
the API's 404, in the shape of the surface it names. Without a built bundle, ``/``
explains how to build one.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import FileResponse, HTMLResponse, Response

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

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


def install_dashboard(app: FastAPI, static_dir: Path = STATIC_DIR) -> None:
    """``/`` (the page, or how to build it) and the bundle's files, below the API routes."""
    served = (static_dir / "index.html").is_file()
    if served:
        app.frontend("/", directory=static_dir, fallback=None, check_dir=False)
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
