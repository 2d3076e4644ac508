"""/docs works on a machine without internet: every asset it needs comes from Atmosphere."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def test_the_docs_page_references_no_other_host_and_its_assets_are_served(make_gateway):
    gateway = make_gateway()
    with gateway.client() as client:
        page = client.get("/docs")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        references = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
        assert len(references) >= 4, references  # css, favicon, js, the OpenAPI document
        for reference in references:
            assert urlsplit(urljoin(gateway.url + "/docs", reference)).netloc == urlsplit(gateway.url).netloc, reference
            assert client.get(urljoin("/docs", reference)).status_code == 200, reference
        assert "validatorUrl" in page.text  # the online spec validator is off
        assert client.get("/docs/assets/index.j2").status_code == 404  # only the files the page uses


@pytest.mark.browser
def test_swagger_ui_renders_with_every_other_host_unreachable(make_gateway):
    from playwright.sync_api import expect, sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs it")
    gateway = make_gateway()
    elsewhere: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"])
        try:
            page = browser.new_page()

            def only_the_gateway(route):  # as on a machine without internet
                if urlsplit(route.request.url).netloc == urlsplit(gateway.url).netloc:
                    route.continue_()
                else:
                    elsewhere.append(route.request.url)
                    route.abort()

            page.route("**/*", only_the_gateway)
            page.goto(f"{gateway.url}/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("Atmosphere", timeout=10_000)
            expect(page.locator(".opblock-summary-path").first).to_be_visible()
        finally:
            browser.close()
    assert elsewhere == []
