"""The Keys and Usage pages end to end, in headless Chromium against the real gateway and the
stand-ins: a key created from the dashboard, its secret shown once, listed, its limits edited and
revoked after asking; requests sent through the gateway counted on the Usage page, stacked by model
and by key, with "usage not recorded" when the history cannot be written; both pages at phone width.

Both pages read the gateway's own /v1/keys and /v1/usage, kept in SQLite in the state directory."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser_support import ACTION_MS, DESKTOP, LOAD_MS, PHONE, assert_no_horizontal_scroll, new_page, screenshot
from conftest import Gateway, gateway_settings
from playwright.sync_api import Browser, Page, expect

from atmosphere.standins.suite import EmulatorSuite

pytestmark = pytest.mark.browser

LIVE_MS = 10_000  # a request on /ws, the page's 3 s refresh delay, its fetch, on a loaded machine


@pytest.fixture
def gateway(backends: EmulatorSuite, tmp_path: Path) -> Iterator[Gateway]:
    urls = backends.urls
    settings = gateway_settings(tmp_path / "state", llamafarm=urls["llamafarm"], ollama=urls["ollama"], runtime=urls["runtime"])
    served = Gateway(settings).start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    yield from new_page(browser, DESKTOP)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    yield from new_page(browser, PHONE)


def drawn_pixels(page: Page, name: str) -> int:
    """How many pixels of a chart's canvas are not transparent: zero for a chart that drew nothing."""
    return int(
        page.get_by_test_id(f"chart-canvas-{name}").evaluate(
            """canvas => {
                const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                let drawn = 0;
                for (let i = 3; i < data.length; i += 4) if (data[i] > 0) drawn += 1;
                return drawn;
            }"""
        )
    )


def bars_pixels(page: Page, name: str) -> int:
    """Pixels of the chart's first dataset colour (#818cf8): bars, not axes, legend boxes aside."""
    return int(
        page.get_by_test_id(f"chart-canvas-{name}").evaluate(
            """canvas => {
                const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                let hits = 0;
                for (let i = 0; i < data.length; i += 4)
                    if (Math.abs(data[i] - 0x81) < 6 && Math.abs(data[i + 1] - 0x8c) < 6
                        && Math.abs(data[i + 2] - 0xf8) < 6) hits += 1;
                return hits;
            }"""
        )
    )


def send_chats(gateway: Gateway, model: str, count: int) -> None:
    client = gateway.openai()
    for _ in range(count):
        answer = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content


def recorded_requests(gateway: Gateway, count: int) -> None:
    """Wait until the history holds ``count`` requests: the row is queued once the answer has gone
    out, so a client can be faster than it. Bounded: 200 reads, each of which writes what waits."""
    with httpx.Client(base_url=gateway.url, timeout=5) as client:
        for _ in range(200):
            series = client.get("/v1/usage").json()["series"]
            if sum(point["requests"] for point in series) >= count:
                return
    raise AssertionError(f"the usage history never held {count} requests")


def test_a_key_made_on_the_keys_page_shows_its_secret_once_is_listed_edited_and_revoked_after_asking(page, gateway):
    page.goto(f"{gateway.url}/#/keys")
    expect(page.get_by_test_id("keys-empty")).to_be_visible(timeout=LOAD_MS)
    page.get_by_test_id("new-key-button").click()
    form = page.get_by_test_id("new-key-form")
    form.get_by_test_id("key-name").fill("alice-laptop")
    form.get_by_test_id("key-surface-ollama").uncheck()
    form.get_by_test_id("key-rpm").fill("30")
    form.get_by_test_id("key-budget").fill("500000")
    form.get_by_test_id("key-submit").click()

    secret_shown = page.get_by_test_id("new-key-secret")
    expect(secret_shown).to_have_text(re.compile(r"^atm_\S{20,}$"), timeout=ACTION_MS)
    secret = secret_shown.inner_text()
    for client in ("curl", "openai", "anthropic", "claude", "ollama", "codex"):
        expect(page.get_by_test_id(f"snippet-key-{client}")).to_contain_text(secret)
    expect(page.get_by_test_id("snippet-key-curl")).to_contain_text(f"{gateway.url}/v1/chat/completions")
    page.get_by_test_id("copy-secret").click()
    expect(page.get_by_test_id("copy-secret")).to_contain_text("Cop")  # "Copied", or "Select and copy" off a secure origin

    with gateway.client() as client:
        [stored] = client.get("/v1/keys").json()["data"]
    assert stored["name"] == "alice-laptop" and stored["surfaces"] == ["openai", "anthropic"]
    assert stored["limits"]["requests_per_minute"] == 30 and stored["monthly_token_budget"] == 500000

    page.get_by_test_id("new-key-done").click()
    expect(page.get_by_test_id("new-key")).to_have_count(0)
    assert secret not in page.content(), "the secret stays on the page after it was dismissed"
    the_card = page.get_by_test_id("key-card").filter(has_text="alice-laptop")
    expect(the_card).to_have_attribute("data-status", "active")
    expect(the_card).to_contain_text(f"{secret[:8]}…")
    expect(the_card.get_by_test_id("key-limits")).to_have_text("30 req/min")
    expect(the_card.get_by_test_id("key-last-used")).to_have_text("never")
    screenshot(page, "keys.png")

    the_card.get_by_test_id("edit-key").click()
    the_card.get_by_test_id("key-concurrent").fill("2")
    the_card.get_by_test_id("key-submit").click()
    expect(the_card.get_by_test_id("key-limits")).to_have_text("30 req/min · 2 at once", timeout=ACTION_MS)

    page.reload()  # kept by the service, not the page
    the_card = page.get_by_test_id("key-card").filter(has_text="alice-laptop")
    expect(the_card.get_by_test_id("key-limits")).to_have_text("30 req/min · 2 at once", timeout=LOAD_MS)
    the_card.get_by_test_id("revoke-key").click()
    expect(the_card.get_by_test_id("revoke-confirm")).to_contain_text("Revoke alice-laptop?")
    with gateway.client() as client:
        assert client.get("/v1/keys").json()["data"][0]["revoked_at"] is None  # asking revokes nothing
    the_card.get_by_test_id("revoke-confirm-button").click()
    expect(the_card).to_have_attribute("data-status", "revoked", timeout=ACTION_MS)
    with gateway.client() as client:
        assert client.get("/v1/keys").json()["data"][0]["revoked_at"] is not None


def test_requests_through_the_gateway_are_charted_on_the_usage_page_by_model_and_live(page, gateway):
    send_chats(gateway, "llama3.2:latest", 3)
    send_chats(gateway, "fast", 1)
    recorded_requests(gateway, 4)
    page.goto(f"{gateway.url}/#/usage")
    expect(page.get_by_test_id("live-indicator")).to_have_attribute("data-state", "live", timeout=LOAD_MS)
    expect(page.get_by_test_id("usage-total-requests")).to_have_text("4", timeout=LOAD_MS)
    rows = page.get_by_test_id("usage-top-models").get_by_test_id("usage-top-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("data-name", "llama3.2:latest")
    # Chart.js drew the stacks: the biggest model's colour is on the canvas, and each chart drew something.
    assert bars_pixels(page, "requests") > 50
    for name in ("tokens", "requests", "latency", "errors"):
        assert drawn_pixels(page, name) > 0, f"the {name} chart drew nothing"
    screenshot(page, "usage.png")
    page.get_by_test_id("chart-requests").locator("summary").click()
    table = page.get_by_test_id("chart-table-requests")
    expect(table.locator("thead th")).to_have_text(["Time", "llama3.2:latest", "fast"])
    expect(table.locator("tbody tr").last).to_contain_text("3")

    page.get_by_test_id("usage-group").get_by_text("Integration").click()
    expect(page.get_by_test_id("chart-requests")).to_contain_text("Requests per hour, by integration", timeout=ACTION_MS)
    expect(table.locator("thead th")).to_have_text(["Time", "ollama", "llamafarm"], timeout=ACTION_MS)

    page.evaluate("window.__atmosphereNoReload = true")
    send_chats(gateway, "llama3.2:latest", 2)  # the page hears of them on /ws and asks again
    expect(page.get_by_test_id("usage-total-requests")).to_have_text("6", timeout=LIVE_MS)
    assert page.evaluate("window.__atmosphereNoReload === true")


def test_the_usage_page_says_usage_is_not_recorded_when_the_history_cannot_be_written(page, gateway):
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not available here")
    send_chats(gateway, "fast", 1)
    recorded_requests(gateway, 1)  # its row is in the file before the file is frozen
    page.goto(f"{gateway.url}/#/usage")
    expect(page.get_by_test_id("usage-total-requests")).to_have_text("1", timeout=LOAD_MS)
    expect(page.get_by_test_id("usage-not-recorded")).to_have_count(0)
    state = gateway.settings.state_dir
    files = [str(state / "atmosphere.db"), str(state / "atmosphere.db-wal")]
    subprocess.run(["chattr", "+i", *files], check=True)  # no more writes, root's included
    try:
        send_chats(gateway, "fast", 1)  # served all the same; its row cannot be written
        page.get_by_test_id("usage-refresh").click()
        note = page.get_by_test_id("usage-not-recorded")
        expect(note).to_contain_text("Usage not recorded. the database cannot be written", timeout=LIVE_MS)
        expect(note).to_contain_text("1 dropped so far")
    finally:
        subprocess.run(["chattr", "-i", *files], check=True)


def test_usage_and_keys_read_at_phone_width(phone, gateway):
    send_chats(gateway, "llama3.2:latest", 2)
    recorded_requests(gateway, 2)
    phone.goto(f"{gateway.url}/#/usage")
    expect(phone.get_by_test_id("usage-total-requests")).to_have_text("2", timeout=LOAD_MS)
    assert drawn_pixels(phone, "tokens") > 0
    box = phone.get_by_test_id("chart-canvas-tokens").bounding_box()
    assert box is not None and box["width"] <= PHONE["width"] and box["height"] >= 150, box
    assert_no_horizontal_scroll(phone, PHONE["width"])
    screenshot(phone, "usage-phone.png")

    phone.get_by_test_id("nav-keys").click()
    phone.get_by_test_id("new-key-button").click()
    phone.get_by_test_id("key-name").fill("phone-key")
    phone.get_by_test_id("key-submit").click()
    expect(phone.get_by_test_id("new-key-secret")).to_be_visible(timeout=ACTION_MS)
    assert_no_horizontal_scroll(phone, PHONE["width"])  # the secret and every snippet wrap
    screenshot(phone, "keys-new-phone.png")
    phone.get_by_test_id("new-key-done").click()
    expect(phone.get_by_test_id("key-card")).to_have_attribute("data-name", "phone-key")
    assert_no_horizontal_scroll(phone, PHONE["width"])
