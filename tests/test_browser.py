"""The dashboard end to end, in real headless Chromium (Debian's, never a downloaded one).

Each test starts the emulated backends and a gateway (health_interval 0.5 s), opens `/`
in a fresh page of one module-wide browser, and watches the cards change through the
live socket. Waits are Playwright's auto-waiting assertions with explicit timeouts.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

pytestmark = pytest.mark.browser

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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
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


def _new_page(browser: Browser, viewport: dict[str, int]) -> Iterator[Page]:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"the page logged errors: {errors}"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    yield from _new_page(browser, DESKTOP)


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    yield from _new_page(browser, PHONE)


@pytest.fixture
def gateway(backends: Any, make_gateway: Any) -> Any:
    """The gateway in front of the emulators, re-probing fast enough to see a backend die within ~2 s."""
    return make_gateway(backends, health_interval=HEALTH_INTERVAL, probe_timeout=0.5)


def card(page: Page, integration_id: str):
    return page.get_by_test_id(f"integration-card-{integration_id}")


def model_tag(the_card: Any, model_id: str) -> Any:
    return the_card.locator(f'[data-testid="model-tag"][data-model="{model_id}"]')


def open_dashboard(page: Page, gateway: Any) -> None:
    """Open `/` and wait for both healthy cards and the live socket."""
    page.goto(gateway.url + "/")
    expect(page.get_by_test_id("live-indicator")).to_have_attribute("data-state", "live", timeout=LOAD_MS)
    for integration_id in ("ollama", "llamafarm"):
        expect(card(page, integration_id)).to_have_attribute("data-status", "healthy", timeout=LOAD_MS)


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


def test_both_backends_show_healthy_with_their_models_and_the_socket_goes_live(page, gateway):
    open_dashboard(page, gateway)
    expect(page.get_by_test_id("empty-state")).to_have_count(0)
    expect(page.get_by_test_id("api-error")).to_have_count(0)
    expected_models = {"ollama": "llama3.2:latest", "llamafarm": "fast"}
    for integration_id, model in expected_models.items():
        the_card = card(page, integration_id)
        expect(the_card).to_have_attribute("data-enabled", "true")
        expect(the_card.get_by_test_id("status-badge")).to_have_attribute("data-status", "healthy")
        expect(the_card.get_by_test_id("status-reason")).to_have_count(0)
        expect(model_tag(the_card, model)).to_be_visible()
        expect(the_card.get_by_test_id("disconnect-button")).to_be_visible()
    screenshot(page, "dashboard.png")


def test_test_button_shows_each_backends_answer_and_latency(page, gateway):
    open_dashboard(page, gateway)
    run_test(page, "ollama", "Ollama emulator")
    run_test(page, "llamafarm", "LlamaFarm emulator")
    path = screenshot(page, "dashboard-tested.png")
    if os.environ.get("ATMOSPHERE_UPDATE_SCREENSHOT"):  # `make screenshot` refreshes the README's picture
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOT)


def test_a_stopped_backend_turns_offline_live_and_recovers(page, gateway, backends):
    open_dashboard(page, gateway)
    mark_document(page)
    llamafarm = card(page, "llamafarm")

    backends.llamafarm.stop()
    expect(llamafarm).to_have_attribute("data-status", "offline", timeout=CHANGE_MS)
    expect(llamafarm.get_by_test_id("status-badge")).to_have_text("offline")
    expect(llamafarm.get_by_test_id("status-reason")).to_contain_text(re.compile(r"Reason:\s*\S"))
    expect(card(page, "ollama")).to_have_attribute("data-status", "healthy")
    expect(page.get_by_test_id("empty-state")).to_have_count(0)  # Ollama is still up

    backends.llamafarm.start()
    expect(llamafarm).to_have_attribute("data-status", "healthy", timeout=CHANGE_MS)
    expect(llamafarm.get_by_test_id("status-reason")).to_have_count(0)
    expect(model_tag(llamafarm, "fast")).to_be_visible()
    expect(page.get_by_test_id("live-indicator")).to_have_attribute("data-state", "live")
    assert_not_reloaded(page)


def test_disconnect_survives_a_reload_and_connect_restores(page, gateway):
    open_dashboard(page, gateway)
    llamafarm = card(page, "llamafarm")

    llamafarm.get_by_test_id("disconnect-button").click()
    expect(llamafarm).to_have_attribute("data-enabled", "false", timeout=ACTION_MS)
    expect(llamafarm.get_by_test_id("connect-button")).to_be_visible()

    page.reload()
    expect(page.get_by_test_id("live-indicator")).to_have_attribute("data-state", "live", timeout=LOAD_MS)
    expect(llamafarm).to_have_attribute("data-enabled", "false", timeout=LOAD_MS)
    expect(llamafarm.get_by_test_id("connect-button")).to_be_visible()
    expect(llamafarm.get_by_test_id("disconnect-button")).to_have_count(0)
    expect(card(page, "ollama")).to_have_attribute("data-enabled", "true")

    llamafarm.get_by_test_id("connect-button").click()
    expect(llamafarm).to_have_attribute("data-enabled", "true", timeout=ACTION_MS)
    expect(llamafarm.get_by_test_id("disconnect-button")).to_be_visible()
    expect(llamafarm).to_have_attribute("data-status", "healthy", timeout=CHANGE_MS)
    with gateway.client() as client:
        listed = {i["id"]: i["enabled"] for i in client.get("/v1/integrations").json()["integrations"]}
    assert listed == {"ollama": True, "llamafarm": True}


def test_empty_state_when_both_backends_are_down(page, gateway, backends):
    open_dashboard(page, gateway)
    expect(page.get_by_test_id("empty-state")).to_have_count(0)
    mark_document(page)

    backends.ollama.stop()
    backends.llamafarm.stop()
    empty = page.get_by_test_id("empty-state")
    expect(empty).to_be_visible(timeout=CHANGE_MS)
    expect(empty).to_contain_text("11434")
    expect(empty).to_contain_text("14345")
    for integration_id in ("ollama", "llamafarm"):
        expect(card(page, integration_id)).to_have_attribute("data-status", "offline", timeout=CHANGE_MS)
    assert_not_reloaded(page)

    page.reload()  # a fresh load with nothing healthy shows the same
    expect(page.get_by_test_id("empty-state")).to_be_visible(timeout=LOAD_MS)
    expect(page.get_by_test_id("api-error")).to_have_count(0)

    backends.ollama.start()
    expect(card(page, "ollama")).to_have_attribute("data-status", "healthy", timeout=CHANGE_MS)
    expect(page.get_by_test_id("empty-state")).to_have_count(0)


def test_phone_width_has_no_horizontal_scroll(phone_page, gateway, backends):
    page = phone_page
    open_dashboard(page, gateway)
    assert_no_horizontal_scroll(page, PHONE["width"])

    run_test(page, "ollama", "Ollama emulator")
    assert_no_horizontal_scroll(page, PHONE["width"])
    screenshot(page, "dashboard-phone.png")

    expander = card(page, "llamafarm").get_by_test_id("model-expander")
    expander.click()
    expect(expander).to_have_attribute("aria-expanded", "true", timeout=ACTION_MS)
    assert_no_horizontal_scroll(page, PHONE["width"])

    backends.ollama.stop()
    backends.llamafarm.stop()
    expect(page.get_by_test_id("empty-state")).to_be_visible(timeout=CHANGE_MS)
    assert_no_horizontal_scroll(page, PHONE["width"])

    page.get_by_test_id("nav-api").click()
    expect(page.get_by_test_id("api-base-url")).to_be_visible(timeout=ACTION_MS)
    assert_no_horizontal_scroll(page, PHONE["width"])


def test_at_phone_width_every_tab_is_on_screen_and_the_page_does_not_scroll_sideways(phone_page, gateway):
    page = phone_page
    open_dashboard(page, gateway)
    assert_no_horizontal_scroll(page, PHONE["width"])
    links = page.get_by_role("navigation", name="Main").get_by_role("link")
    assert links.count() >= 2
    for i in range(links.count()):
        link = links.nth(i)
        box = link.bounding_box()
        assert box is not None, f"tab {link.inner_text()!r} is not laid out"
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"tab {link.inner_text()!r} is cut off: {box}"
        link.click()
        expect(link).to_have_attribute("aria-current", "page", timeout=ACTION_MS)
        assert_no_horizontal_scroll(page, PHONE["width"])
