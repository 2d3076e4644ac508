"""Helpers for the dashboard's browser tests: pages with an error watch, the gateway they
open, and the checks they share. The Chromium of a module is the `browser` fixture
(tests/conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
BUNDLE = ROOT / "atmosphere" / "static" / "index.html"
ARTIFACTS = ROOT / "test-artifacts"
DOCS_SCREENSHOT = ROOT / "docs" / "dashboard.png"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

HEALTH_INTERVAL = 0.5
LOAD_MS = 10_000  # first paint + socket
CHANGE_MS = 3_000  # a backend's status change: two health intervals plus a probe timeout, with slack
ACTION_MS = 5_000  # a click's round trip (test prompt, connect/disconnect)
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}  # a common phone viewport


def launch_chromium() -> Iterator[Browser]:
    """Debian's chromium, headless (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium (`make chromium` installs it)")
    if not BUNDLE.exists():
        pytest.fail(f"{BUNDLE.relative_to(ROOT)} is missing: build the dashboard first (`make ui` or `cd ui && npm run build`)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def new_page(browser: Browser, viewport: dict[str, int], expected: tuple[str, ...] = ()) -> Iterator[Page]:
    """A fresh page that fails the test if it logs an error, except console errors containing one of
    `expected` (Chromium logs every refused request, e.g. the 401 that makes the dashboard ask for a key).

    A refused connection is never counted: the gateway fixture stops before this page closes, and the
    dashboard's socket then retries against a closed port (the tests check the socket's state itself)."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"console.{msg.type}: {msg.text}")
            if msg.type == "error" and not any(text in msg.text for text in (*expected, "ERR_CONNECTION_REFUSED"))
            else None
        ),
    )
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"the page logged errors: {errors}"


def card(page: Page, integration_id: str):
    return page.get_by_test_id(f"integration-card-{integration_id}")


def model_tag(the_card: Any, model_id: str) -> Any:
    return the_card.locator(f'[data-testid="model-tag"][data-model="{model_id}"]')


def open_dashboard(page: Page, gateway: Any, expect_status: dict[str, str] | None = None) -> None:
    """Open `/` and wait for the live socket and the cards' status (both healthy unless told)."""
    page.goto(gateway.url + "/")
    expect(page.get_by_test_id("live-indicator")).to_have_attribute("data-state", "live", timeout=LOAD_MS)
    for integration_id, status in (expect_status or {"ollama": "healthy", "llamafarm": "healthy"}).items():
        expect(card(page, integration_id)).to_have_attribute("data-status", status, timeout=LOAD_MS)


def run_test(page: Page, integration_id: str, expected_text: str) -> None:
    """Click Test on one card and check the answer, the model used and a latency."""
    the_card = card(page, integration_id)
    the_card.get_by_test_id("test-button").click()
    result = the_card.get_by_test_id("test-result").first
    expect(result).to_have_attribute("data-success", "true", timeout=ACTION_MS)
    expect(result).to_contain_text(expected_text, timeout=ACTION_MS)
    expect(result.get_by_test_id("test-latency")).to_have_text(re.compile(r"\d"), timeout=ACTION_MS)
    expect(result.get_by_test_id("test-model-used")).not_to_be_empty(timeout=ACTION_MS)


def mark_document(page: Page) -> None:
    """Tag the current document so a later check can prove no reload happened."""
    page.evaluate("window.__atmosphereNoReload = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__atmosphereNoReload === true"), "the page reloaded; the change should arrive live"


def screenshot(page: Page, name: str) -> Path:
    """The whole page, taken with the viewport grown to fit it (a full-page capture would cut the 100vh sidebar short)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    viewport = page.viewport_size
    assert viewport is not None
    height = page.evaluate("document.scrollingElement.scrollHeight")
    page.set_viewport_size({"width": viewport["width"], "height": max(viewport["height"], height)})
    try:
        page.screenshot(path=str(path), animations="disabled")
    finally:
        page.set_viewport_size(viewport)
    return path


def assert_no_horizontal_scroll(page: Page, width: int) -> None:
    scroll_width = page.evaluate("document.scrollingElement.scrollWidth")
    assert scroll_width <= width, f"the page scrolls sideways at {width}px: scrollWidth is {scroll_width}px"
