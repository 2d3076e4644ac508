"""The dashboard end to end, in real headless Chromium (Debian's, never a downloaded one).

Each test starts the emulated backends and a gateway (health_interval 0.5 s), opens `/`
in a fresh page of the module's one browser, and watches the cards change through the
live socket. Waits are Playwright's auto-waiting assertions with explicit timeouts.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import (
    ACTION_MS,
    CHANGE_MS,
    DESKTOP,
    DOCS_SCREENSHOT,
    HEALTH_INTERVAL,
    LOAD_MS,
    PHONE,
    assert_no_horizontal_scroll,
    assert_not_reloaded,
    card,
    mark_document,
    model_tag,
    new_page,
    open_dashboard,
    run_test,
    screenshot,
)
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    yield from new_page(browser, DESKTOP)


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    yield from new_page(browser, PHONE)


@pytest.fixture
def gateway(backends: Any, make_gateway: Any) -> Any:
    """The gateway in front of the emulators, re-probing fast enough to see a backend die within ~2 s."""
    return make_gateway(backends, health_interval=HEALTH_INTERVAL, probe_timeout=0.5)


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
