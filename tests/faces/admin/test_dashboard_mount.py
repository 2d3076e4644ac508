"""The dashboard is served at / beside the API, and never hides an API path's own answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from atmosphere.api.admin.dashboard import install_dashboard
from atmosphere.api.errors import install_error_handlers
from atmosphere.standins.server import EmulatorServer

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def serve(static_dir: Path) -> Iterator[httpx.Client]:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/v1/chat/completions")
    async def chat() -> dict[str, str]:
        return {}

    install_dashboard(app, static_dir)
    server = EmulatorServer(app, 0)
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
            yield client
    finally:
        server.stop()


@pytest.fixture
def built(tmp_path) -> Iterator[httpx.Client]:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>Atmosphere dashboard</title>")
    (tmp_path / "assets" / "app-1234.js").write_text("console.log('hi')")
    yield from serve(tmp_path)


def test_a_built_dashboard_is_served_at_the_root_with_its_files(built):
    page = built.get("/", headers=BROWSER)
    script = built.get("/assets/app-1234.js")

    assert page.status_code == 200 and "Atmosphere dashboard" in page.text
    assert page.headers["cache-control"] == "no-cache"  # a rebuild shows on the next reload
    assert script.status_code == 200 and "console.log" in script.text


def test_an_unknown_api_path_is_a_json_404_even_when_a_browser_asks(built):
    for path in ("/v1/nothing-here", "/v1", "/ws/extra", "/api/nothing"):
        response = built.get(path, headers=BROWSER)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/json"), path


def test_a_browser_on_a_client_side_path_gets_the_page_and_a_program_gets_a_404(built):
    assert "Atmosphere dashboard" in built.get("/integrations/ollama", headers=BROWSER).text
    assert built.get("/integrations/ollama", headers={"Accept": "application/json"}).status_code == 404


def test_a_known_api_path_with_the_wrong_method_stays_a_405(built):
    assert built.get("/v1/chat/completions", headers=BROWSER).status_code == 405


def test_without_a_build_the_root_says_how_to_build_the_dashboard(tmp_path):
    for client in serve(tmp_path / "missing"):
        page = client.get("/")
        assert page.status_code == 200 and "make ui" in page.text
        assert client.get("/v1/nothing-here").status_code == 404
