"""With an API key set, every API call needs it, and the key opens the door for real clients.
(That the key never reaches a log is shown with the real server: tests/system/test_exposure.py.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from atmosphere.standins.suite import start_all_in_process
from tests.conftest import Gateway, gateway_settings

KEY = "s3cret-key-for-the-tests"
CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """One gateway with a key for the module: the refused calls change nothing, by design."""
    suite = start_all_in_process()
    urls = suite.urls
    settings = gateway_settings(
        tmp_path_factory.mktemp("state"), llamafarm=urls["llamafarm"], ollama=urls["ollama"], runtime=urls["runtime"], api_key=KEY
    )
    served = Gateway(settings).start()
    try:
        yield served
    finally:
        served.stop()
        suite.stop()


def test_openai_calls_without_the_key_get_a_401_in_the_openai_shape(keyed):
    with keyed.client() as client:
        guarded = [("POST", "/v1/chat/completions"), ("GET", "/v1/models"), ("GET", "/v1/integrations"),
                   ("POST", "/v1/integrations/ollama/disable"), ("GET", "/v1/nowhere"), ("GET", "/metrics")]  # fmt: skip
        for method, path in guarded:
            missing = client.request(method, path, json=CHAT)
            assert missing.status_code == 401, (path, missing.text)
            error = missing.json()["error"]
            assert set(error) == {"message", "type", "param", "code"} and error["code"] == "invalid_api_key"
            assert "Authorization: Bearer" in error["message"]
            assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer not-the-key"})
        assert wrong.status_code == 401 and "not valid" in wrong.json()["error"]["message"]
        assert KEY not in wrong.text
        assert client.get("/v1/integrations").status_code == 401
    with keyed.client() as client:  # and nothing was switched off by the refused call
        integrations = client.get("/v1/integrations", headers={"x-api-key": KEY}).json()["integrations"]
        assert all(item["enabled"] for item in integrations)


def test_the_openai_sdk_with_the_key_is_served(keyed):
    from openai import AuthenticationError, OpenAI

    with OpenAI(base_url=f"{keyed.url}/v1", api_key=KEY, max_retries=0, timeout=10) as client:
        answer = client.chat.completions.create(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content
        assert [chunk for chunk in client.chat.completions.create(model="llama3.2", messages=CHAT["messages"], stream=True)]
    with OpenAI(base_url=f"{keyed.url}/v1", api_key="wrong-key-here", max_retries=0, timeout=10) as client:
        with pytest.raises(AuthenticationError):
            client.models.list()


def test_either_header_carries_the_key(keyed):
    with keyed.client() as client:
        for headers in ({"Authorization": f"Bearer {KEY}"}, {"authorization": f"bearer {KEY}"}, {"x-api-key": KEY}):
            assert client.post("/v1/chat/completions", json=CHAT, headers=headers).status_code == 200


def test_health_the_dashboard_and_docs_stay_open_and_health_says_a_key_is_needed(keyed, make_gateway):
    with keyed.client() as client:
        health = client.get("/health")
        assert health.status_code == 200 and health.json()["auth_required"] is True
        assert client.get("/").status_code == 200
        assert client.get("/docs").status_code == 200
    with make_gateway().client() as client:
        assert client.get("/health").json()["auth_required"] is False
        assert client.get("/v1/integrations").status_code == 200  # no key set: nothing asked


async def _socket_outcome(url: str, first: str | None = None, **kwargs: Any) -> tuple[str, int | None, str]:
    """('snapshot', None, '') when the live socket opened for us, else ('closed', code, reason)."""
    from websockets.exceptions import ConnectionClosed

    async with connect(url, **kwargs) as ws:
        if first is not None:
            await ws.send(first)
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return "closed", closed.rcvd.code, closed.rcvd.reason
        return message["type"], None, ""


def test_the_live_socket_takes_the_key_as_header_query_or_first_message(keyed):
    ws = keyed.url.replace("http://", "ws://") + "/ws"
    auth = json.dumps({"type": "auth", "key": KEY})
    outcomes = asyncio.run(_all_outcomes(ws, auth))
    assert outcomes["header"] == ("snapshot", None, "")
    assert outcomes["query"] == ("snapshot", None, "")
    assert outcomes["first message"] == ("snapshot", None, "")
    for refused in ("none", "wrong query", "wrong first message", "another first message"):
        kind, code, reason = outcomes[refused]
        assert (kind, code) == ("closed", 4401), refused
        assert KEY not in reason and reason


async def _all_outcomes(ws: str, auth: str) -> dict[str, tuple[str, int | None, str]]:
    return {
        "header": await _socket_outcome(ws, additional_headers={"Authorization": f"Bearer {KEY}"}),
        "query": await _socket_outcome(f"{ws}?key={KEY}"),
        "first message": await _socket_outcome(ws, first=auth),
        "none": await _socket_outcome(ws, first='{"type": "refresh"}'),
        "wrong query": await _socket_outcome(f"{ws}?key=nope-nope-nope"),
        "wrong first message": await _socket_outcome(ws, first=json.dumps({"type": "auth", "key": "nope"})),
        "another first message": await _socket_outcome(ws, first="hello"),
    }


def test_the_key_comes_from_the_environment_flag_or_file_and_a_bad_one_is_named_not_printed(tmp_path, monkeypatch):
    from atmosphere.cli import _settings_from as settings_from
    from atmosphere.cli import build_parser
    from atmosphere.config import ConfigError, load_settings

    monkeypatch.setenv("ATMOSPHERE_API_KEY", f"  {KEY}\n")
    assert load_settings().api_key.get_secret_value() == KEY
    assert KEY not in repr(load_settings()) and KEY not in str(load_settings())
    monkeypatch.delenv("ATMOSPHERE_API_KEY")
    flagged = settings_from(build_parser().parse_args(["serve", "--api-key", KEY]))
    assert flagged.api_key.get_secret_value() == KEY
    (tmp_path / "key").write_text(KEY + "\n")
    assert load_settings(api_key_file=str(tmp_path / "key")).api_key.get_secret_value() == KEY
    for bad, named in [({"api_key": "short!"}, "ATMOSPHERE_API_KEY"), ({"api_key_file": str(tmp_path / "none")}, "API_KEY_FILE")]:
        with pytest.raises(ConfigError) as refused:
            load_settings(**bad)
        assert named in str(refused.value) and "short!" not in str(refused.value) and "\n" not in str(refused.value)


def test_anthropic_and_ollama_callers_get_the_401_in_their_own_protocol(keyed):
    with keyed.client() as client:
        anthropic = client.post("/v1/messages", json={"model": "llama3.2", "max_tokens": 8, "messages": CHAT["messages"]})
        assert anthropic.status_code == 401
        body = anthropic.json()
        assert body["type"] == "error" and body["error"]["type"] == "authentication_error" and body["error"]["message"]
        for method, path in [("POST", "/api/chat"), ("GET", "/api/tags"), ("GET", "/api/version")]:
            ollama = client.request(method, path, json={"model": "llama3.2", "messages": CHAT["messages"]})
            assert ollama.status_code == 401, path
            assert set(ollama.json()) == {"error"} and isinstance(ollama.json()["error"], str)


def test_the_anthropic_and_ollama_clients_with_the_key_are_served(keyed):
    import anthropic
    import ollama

    with anthropic.Anthropic(base_url=keyed.url, api_key=KEY, max_retries=0, timeout=10) as client:
        reply = client.messages.create(model="llama3.2", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
        assert reply.content[0].text
    with anthropic.Anthropic(base_url=keyed.url, api_key="not-the-key", max_retries=0, timeout=10) as client:
        with pytest.raises(anthropic.AuthenticationError):
            client.messages.create(model="llama3.2", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    served = ollama.Client(host=keyed.url, headers={"Authorization": f"Bearer {KEY}"})
    assert served.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}]).message.content
    with pytest.raises(ollama.ResponseError) as refused:
        ollama.Client(host=keyed.url).chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code == 401
