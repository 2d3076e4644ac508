"""Serves the built dashboard (``atmosphere/static``) at ``/``.

The API keeps /v1 and /ws; everything else is the single-page app. Without a
built bundle, ``/`` explains how to build one instead of answering 404.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import FileResponse, HTMLResponse, Response

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
router = APIRouter()

_NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Atmosphere</title>
<style>body{font-family:system-ui,sans-serif;background:#0f1117;color:#e6e6e6;max-width:40rem;margin:4rem auto;padding:0 1rem}
code{background:#1d2230;padding:.1rem .3rem;border-radius:4px}</style></head><body>
<h1>Atmosphere is running</h1>
<p>The dashboard has not been built yet. Build it with <code>make ui</code>
(or <code>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</code>) and reload this page.
<code>make serve</code> builds it for you.</p>
<p>The API is live: try <a href="/v1/integrations">/v1/integrations</a> or <a href="/health">/health</a>.</p>
</body></html>"""


@router.get("/", include_in_schema=False)
async def index() -> Response:
    page = STATIC_DIR / "index.html"
    if page.is_file():
        return FileResponse(page, headers={"Cache-Control": "no-cache"})
    return HTMLResponse(_NOT_BUILT)


async def static_or_app(path: str) -> Response | None:
    """A built file, or the app itself for a client-side route; None under /v1, /api and /ws,
    where programs expect data (an HTML page there crashes a client decoding JSON).

    Called for GETs that matched no route, so the API's own 404 and 405 stay intact.
    """
    path = path.lstrip("/")
    if path.startswith(("v1/", "api/", "ws")) or path in ("v1", "api") or not _plausible(path):
        return None
    candidate = (STATIC_DIR / path).resolve()
    if candidate.is_file() and STATIC_DIR.resolve() in candidate.parents:
        cache = "public, max-age=31536000, immutable" if path.startswith("assets/") else "no-cache"
        return FileResponse(candidate, headers={"Cache-Control": cache})
    return await index()


def _plausible(path: str) -> bool:
    """A path the dashboard could have: no NUL, no segment longer than a file name may be,
    not longer than a path may be (the file system would raise rather than say no)."""
    return "\x00" not in path and len(path) <= 1024 and all(len(segment) <= 255 for segment in path.split("/"))
