"""A web page on another origin, in real headless Chromium, uses the API only when allowed.

The page is served from its own little server; Chromium maps the names ``app.example`` and
``other.example`` to it, so the page's origin is a real foreign one (not a loopback name,
which the local-only guard treats as local). Only ``app.example`` is listed in
``ATMOSPHERE_ALLOWED_ORIGINS``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS
from playwright.sync_api import Browser, Page, sync_playwright

pytestmark = pytest.mark.browser

_PAGE = b"<!doctype html><html><head><meta charset='utf-8'><title>a page elsewhere</title></head><body>hi</body></html>"

# What a page's own script would do: list the models, then read a streamed chat as it arrives.
_USE_THE_API = """async (base) => {
  const out = {};
  try {
    const models = await fetch(base + '/v1/models');
    out.models = (await models.json()).data.map((m) => m.id);
  } catch (error) { out.modelsError = String(error); }
  try {
    const response = await fetch(base + '/v1/chat/completions', {
      method: 'POST',
      headers: {'Content-Type': 'application/json', 'Authorization': 'Bearer not-needed'},
      body: JSON.stringify({model: 'llama3.2', stream: true, messages: [{role: 'user', content: 'hello from a page'}]}),
    });
    out.backend = response.headers.get('x-atmosphere-backend');
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    out.events = 0;
    out.text = '';
    for (;;) {
      const {done, value} = await reader.read();
      if (done) break;
      const piece = decoder.decode(value, {stream: true});
      out.events += piece.split('\\n\\n').filter((e) => e.startsWith('data: ')).length;
      out.text += piece;
    }
  } catch (error) { out.chatError = String(error); }
  return out;
}"""


class _PageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(_PAGE)))
        self.end_headers()
        self.wfile.write(_PAGE)

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture(scope="module")
def page_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium (`make chromium` installs it)")
    args = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP app.example 127.0.0.1, MAP other.example 127.0.0.1"]
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def test_a_page_on_an_allowed_origin_lists_models_and_reads_a_streamed_chat(backends, make_gateway, page_server, page):
    gateway = make_gateway(backends, allowed_origins=f"http://app.example:{page_server}")
    page.goto(f"http://app.example:{page_server}/")
    result = page.evaluate(_USE_THE_API, gateway.url)
    assert "llama3.2:latest" in result["models"] and "fast" in result["models"]
    assert result["backend"] == "ollama"  # an exposed header the page can read
    assert result["text"].endswith("data: [DONE]\n\n") and "Ollama" in result["text"]
    assert result["events"] > 3, "the stream arrived in pieces"


def test_a_page_on_an_origin_not_allowed_can_neither_read_nor_run_a_prompt(backends, make_gateway, page_server, page):
    gateway = make_gateway(backends, allowed_origins=f"http://app.example:{page_server}")
    page.goto(f"http://other.example:{page_server}/")
    chats_before = len(backends.ollama.state.recorded("/api/chat"))
    result = page.evaluate(_USE_THE_API, gateway.url)
    assert "Failed to fetch" in result["modelsError"]
    assert "Failed to fetch" in result["chatError"]
    assert len(backends.ollama.state.recorded("/api/chat")) == chats_before  # refused at the preflight
