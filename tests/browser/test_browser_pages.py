"""The fleet, Requests and Playground pages end to end, in headless Chromium against the real
gateway and the stand-ins: adding and removing a host, warming a model up, watching a request
appear live, and a streamed chat with the backend that served it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import (
    ACTION_MS,
    DESKTOP,
    HEALTH_INTERVAL,
    LOAD_MS,
    PHONE,
    assert_no_horizontal_scroll,
    card,
    new_page,
    open_dashboard,
)
from playwright.sync_api import Browser, Page, expect

from atmosphere.standins.ollama import create_ollama_app
from atmosphere.standins.scenes import INVALID_PROVIDER_ERROR, real_world_projects
from atmosphere.standins.server import EmulatorServer
from atmosphere.standins.state import EmulatorState

pytestmark = pytest.mark.browser

# A probe-driven change (a new host's first probe, a runtime's death, a warmed model listed) under a
# loaded CI machine: a wait that returns as soon as the page shows it, so slack costs nothing.
SETTLE_MS = 10_000


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    yield from new_page(browser, DESKTOP)


@pytest.fixture
def gateway(backends: Any, make_gateway: Any) -> Any:
    return make_gateway(backends, health_interval=HEALTH_INTERVAL, probe_timeout=0.5)


@pytest.fixture
def spare_ollama() -> Iterator[EmulatorServer]:
    """One more Ollama host, not in the gateway's settings: the person adds it from the dashboard."""
    server = EmulatorServer(create_ollama_app(EmulatorState())).start()
    try:
        yield server
    finally:
        server.stop()


def open_requests(page: Page, gateway: Any) -> None:
    page.goto(f"{gateway.url}/#/requests")
    expect(page.get_by_test_id("live-indicator")).to_have_attribute("data-state", "live", timeout=LOAD_MS)


def open_playground(page: Page, gateway: Any) -> None:
    """Open the Playground once the catalogue has arrived (its model list holds the Ollama models)."""
    page.goto(f"{gateway.url}/#/playground")
    expect(page.get_by_test_id("playground-model").locator('option[value="llama3.2:latest"]')).to_have_count(1, timeout=LOAD_MS)


def test_a_host_added_from_the_dashboard_gets_a_live_card_and_removing_it_asks_first(page, gateway, spare_ollama):
    open_dashboard(page, gateway)
    page.get_by_test_id("add-host-toggle").click()
    page.get_by_test_id("add-host-kind").select_option("ollama")
    page.get_by_test_id("add-host-name").fill("gpu-box")
    page.get_by_test_id("add-host-url").fill(spare_ollama.url)
    page.get_by_test_id("add-host-submit").click()

    added = page.get_by_test_id("group-ollama").locator('[data-testid^="integration-card-"]').filter(has_text="gpu-box")
    expect(added).to_have_attribute("data-status", "healthy", timeout=SETTLE_MS)
    expect(page.get_by_test_id("add-host-form")).to_have_count(0)
    with gateway.client() as client:
        hosts = {i["name"]: i for i in client.get("/v1/integrations").json()["integrations"]}
    assert hosts["gpu-box"]["url"] == spare_ollama.url and hosts["gpu-box"]["removable"] is True
    host_id = hosts["gpu-box"]["id"]
    expect(card(page, "ollama").get_by_test_id("remove-button")).to_have_count(0)  # from the settings: not removable

    page.reload()  # the host is kept by the service, not by the page
    expect(card(page, host_id)).to_have_attribute("data-status", "healthy", timeout=LOAD_MS)

    card(page, host_id).get_by_test_id("remove-button").click()
    expect(card(page, host_id).get_by_test_id("remove-confirm")).to_contain_text("Remove gpu-box?")
    with gateway.client() as client:
        assert any(i["id"] == host_id for i in client.get("/v1/integrations").json()["integrations"])
    card(page, host_id).get_by_test_id("remove-confirm-button").click()
    expect(card(page, host_id)).to_have_count(0, timeout=ACTION_MS)
    with gateway.client() as client:
        assert all(i["id"] != host_id for i in client.get("/v1/integrations").json()["integrations"])


def test_warm_up_on_an_ollama_card_loads_the_model_and_the_card_shows_it_loaded(page, gateway):
    open_dashboard(page, gateway)
    ollama = card(page, "ollama")
    expect(ollama.get_by_test_id("loaded-models")).not_to_contain_text("llava:latest")
    expect(card(page, "llamafarm").get_by_test_id("warmup-button")).to_have_count(0)  # 0.0.27 has no preload

    ollama.get_by_test_id("warmup-select").select_option("llava:latest")
    ollama.get_by_test_id("warmup-button").click()
    result = ollama.get_by_test_id("warmup-result")
    expect(result).to_have_attribute("data-success", "true", timeout=ACTION_MS)
    expect(result).to_contain_text("llava:latest is loaded")
    expect(ollama.get_by_test_id("loaded-models")).to_contain_text("llava:latest", timeout=SETTLE_MS)
    expect(ollama.locator('[data-testid="model-tag"][data-model="llava:latest"] [data-testid="model-loaded"]')).to_have_count(1)


def test_a_request_appears_live_on_the_requests_page_and_opens_to_its_timings(page, gateway):
    open_requests(page, gateway)
    expect(page.get_by_test_id("requests-empty")).to_be_visible(timeout=LOAD_MS)
    page.evaluate("window.__atmosphereNoReload = true")

    answer = gateway.openai().chat.completions.create(model="llama3.2:latest", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content

    row = page.get_by_test_id("request-row").first
    expect(row).to_have_attribute("data-outcome", "ok", timeout=ACTION_MS)
    expect(row.get_by_test_id("request-backend")).to_have_text("ollama")
    expect(row).to_contain_text("llama3.2:latest")
    assert page.evaluate("window.__atmosphereNoReload === true"), "the request should arrive live, not by a reload"

    row.get_by_role("button").click()
    detail = page.get_by_test_id("request-detail")
    expect(detail).to_contain_text("None: the first choice served it.")
    expect(detail).to_contain_text(re.compile(r"Upstream\s*\d"))

    page.get_by_test_id("filter-outcome").select_option("error")
    expect(page.get_by_test_id("request-row")).to_have_count(0)
    expect(page.get_by_test_id("requests-empty")).to_contain_text("No request matches")


def test_a_refused_codex_request_shows_live_with_why_and_which_tool_sent_it(page, gateway):
    open_requests(page, gateway)
    expect(page.get_by_test_id("requests-empty")).to_be_visible(timeout=LOAD_MS)
    agent = "codex_exec/0.171.0 (Debian 13; x86_64) xterm (codex_exec; 0.171.0)"
    shot = {"type": "input_image", "image_url": "https://example.com/shot.png"}
    body = {
        "model": "llama3.2:latest",
        "input": [
            {"type": "function_call", "call_id": "call_1", "name": "view_image", "arguments": '{"path":"shot.png"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": [shot]},
        ],
    }
    with gateway.client() as client:
        assert client.post("/v1/responses", json=body, headers={"User-Agent": agent}).status_code == 400

    row = page.get_by_test_id("request-row").first
    expect(row).to_have_attribute("data-outcome", "error", timeout=ACTION_MS)
    expect(row.get_by_test_id("request-reason")).to_contain_text("never fetches a URL a request names")
    expect(row.get_by_test_id("request-agent")).to_have_text("from codex_exec/0.171.0")
    expect(row.get_by_test_id("request-agent")).to_have_attribute("title", agent)
    row.get_by_role("button").click()
    expect(page.get_by_test_id("request-detail")).to_contain_text(agent)


def test_a_streamed_chat_in_the_playground_shows_the_answer_the_backend_and_its_speed(page, gateway):
    open_playground(page, gateway)
    page.get_by_test_id("playground-model").select_option("llama3.2:latest")
    page.get_by_test_id("playground-input").fill("Say hello")
    page.get_by_test_id("playground-send").click()

    answer = page.locator('[data-testid="chat-message"][data-role="assistant"]')
    expect(answer).to_contain_text("Ollama emulator", timeout=ACTION_MS)
    expect(page.get_by_test_id("playground-send")).to_be_visible(timeout=ACTION_MS)  # the stream ended
    expect(page.get_by_test_id("chat-backend")).to_have_text("ollama")
    expect(page.get_by_test_id("chat-model")).to_have_text("llama3.2:latest")
    expect(page.get_by_test_id("chat-tps")).to_have_text(re.compile(r"^\d+(\.\d)? tokens/s$"))
    expect(page.get_by_test_id("snippet-curl")).to_contain_text('"model":"llama3.2:latest"')
    expect(page.get_by_test_id("snippet-python")).to_contain_text(f'base_url="{gateway.url}/v1"')


def test_the_playground_shows_the_fallback_when_the_first_backend_is_down(page, gateway, backends):
    open_playground(page, gateway)
    backends.llamafarm.stop()
    page.get_by_test_id("playground-input").fill("Who answers?")
    page.get_by_test_id("playground-send").click()
    answer = page.locator('[data-testid="chat-message"][data-role="assistant"]')
    expect(answer).to_contain_text("Ollama emulator", timeout=ACTION_MS)
    expect(page.get_by_test_id("chat-backend")).to_have_text("ollama")
    expect(page.get_by_test_id("chat-attempts")).to_contain_text("llamafarm")


@pytest.fixture
def keyed_page(browser: Browser) -> Iterator[Page]:
    yield from new_page(browser, DESKTOP, expected=("status of 401",))


def test_with_an_api_key_the_dashboard_asks_for_it_once_and_then_works_live(keyed_page, backends, make_gateway):
    page = keyed_page
    gateway = make_gateway(backends, health_interval=HEALTH_INTERVAL, probe_timeout=0.5, api_key="s3cret-key")
    page.goto(gateway.url + "/")
    dialog = page.get_by_test_id("api-key-dialog")
    expect(dialog).to_be_visible(timeout=LOAD_MS)
    expect(page.get_by_test_id("api-key-dialog")).to_have_count(1)
    dialog.get_by_test_id("api-key-input").fill("s3cret-key")
    dialog.get_by_test_id("api-key-submit").click()

    expect(page.get_by_test_id("api-key-dialog")).to_have_count(0)
    expect(card(page, "ollama")).to_have_attribute("data-status", "healthy", timeout=LOAD_MS)
    expect(page.get_by_test_id("live-indicator")).to_have_attribute("data-state", "live", timeout=LOAD_MS)
    assert page.evaluate("sessionStorage.getItem('atmosphere.apiKey')") == "s3cret-key"

    page.get_by_test_id("nav-playground").click()  # every page's calls carry it
    expect(page.get_by_test_id("playground-model").locator('option[value="llama3.2:latest"]')).to_have_count(1, timeout=LOAD_MS)
    expect(page.get_by_test_id("snippet-curl")).to_contain_text("Bearer $ATMOSPHERE_API_KEY")
    expect(page.get_by_test_id("snippet-curl")).not_to_contain_text("s3cret-key")


def test_with_its_runtime_down_the_llamafarm_card_turns_amber_and_says_which_model_and_why(page, gateway, backends):
    open_dashboard(page, gateway)
    llamafarm = card(page, "llamafarm")
    expect(llamafarm.get_by_test_id("model-unavailable")).to_have_count(0)

    backends.runtime.stop()
    expect(llamafarm).to_have_attribute("data-status", "degraded", timeout=SETTLE_MS)
    expect(llamafarm.get_by_test_id("status-badge")).to_have_class(re.compile(r"\bdegraded\b"))
    expect(llamafarm.get_by_test_id("status-reason")).to_contain_text("not ready")
    with gateway.client() as client:
        snapshot = next(i for i in client.get("/v1/integrations").json()["integrations"] if i["id"] == "llamafarm")
    unready = [m for m in snapshot["models"] if m["ready"] is False]
    assert unready, "the API names the models the dead runtime serves"
    for model in unready:
        tag = llamafarm.locator(f'[data-testid="model-tag"][data-model="{model["id"]}"]')
        expect(tag).to_have_attribute("data-ready", "false")
        reason = llamafarm.locator(f'[data-testid="model-unavailable"][data-model="{model["id"]}"]')
        expect(reason).to_contain_text("Universal Runtime")
    expect(llamafarm.get_by_test_id("model-unavailable")).to_have_count(len(unready))

    backends.runtime.start()
    expect(llamafarm).to_have_attribute("data-status", "healthy", timeout=SETTLE_MS)
    expect(llamafarm.get_by_test_id("model-unavailable")).to_have_count(0)


def test_a_llamafarm_project_with_a_validation_error_is_shown_with_its_error(page, backends, make_gateway):
    backends.llamafarm.state.projects[:] = real_world_projects(backends.runtime.url + "/v1")
    gateway = make_gateway(backends, health_interval=HEALTH_INTERVAL, probe_timeout=0.5)
    open_dashboard(page, gateway, expect_status={"llamafarm": "degraded", "ollama": "healthy"})
    broken = card(page, "llamafarm").locator('[data-testid="project"][data-valid="false"]')
    expect(broken).to_have_count(1)
    expect(broken).to_contain_text("default/aaa-broken")
    expect(broken.get_by_test_id("project-error")).to_contain_text(INVALID_PROVIDER_ERROR[:40])
    expect(card(page, "llamafarm").get_by_test_id("locality-badge").first).to_be_visible()


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    yield from new_page(browser, PHONE)


def test_at_phone_width_the_fleet_form_the_request_log_and_the_playground_fit(phone_page, gateway):
    page = phone_page
    open_dashboard(page, gateway)
    page.get_by_test_id("add-host-toggle").click()
    page.get_by_test_id("add-host-kind").select_option("llamafarm")
    expect(page.get_by_test_id("add-host-runtime-url")).to_be_visible()
    assert_no_horizontal_scroll(page, PHONE["width"])

    gateway.openai().chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    with gateway.client() as client:  # a refusal too: its row carries a reason and the tool's name
        claude_code = {"User-Agent": "claude-cli/2.1.197 (external, sdk-cli)"}
        refused = client.post("/v1/messages", json={"model": "fast"}, headers=claude_code)
        assert refused.status_code == 400
    page.get_by_test_id("nav-requests").click()
    row = page.get_by_test_id("request-row").first
    expect(row).to_be_visible(timeout=ACTION_MS)
    expect(row.get_by_test_id("request-reason")).to_be_visible()  # its column stays at phone width
    expect(row.get_by_test_id("request-agent")).to_have_text("from claude-cli/2.1.197")
    assert_no_horizontal_scroll(page, PHONE["width"])
    row.get_by_role("button").click()
    expect(page.get_by_test_id("request-detail")).to_be_visible()
    assert_no_horizontal_scroll(page, PHONE["width"])

    page.get_by_test_id("nav-playground").click()
    expect(page.get_by_test_id("playground-model").locator('option[value="llama3.2:latest"]')).to_have_count(1, timeout=LOAD_MS)
    page.get_by_test_id("playground-input").fill("A long question " * 20)
    page.get_by_test_id("playground-send").click()
    expect(page.get_by_test_id("chat-backend")).to_be_visible(timeout=ACTION_MS)
    assert_no_horizontal_scroll(page, PHONE["width"])
