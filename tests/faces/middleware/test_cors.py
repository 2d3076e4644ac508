"""Pages on origins the user allowed can use the API (CORS); every other page still cannot."""

from __future__ import annotations

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from atmosphere.api.middleware.cors import OriginPolicy, parse_origins
from atmosphere.config import ConfigError, load_settings

APP = "https://app.example"


def _preflight(client, origin: str, path: str = "/v1/chat/completions"):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os",
        },
    )


def test_a_page_on_an_allowed_origin_gets_its_preflight_answered(make_gateway):
    gateway = make_gateway(allowed_origins=f"{APP}, http://localhost:*")
    with gateway.client() as client:
        response = _preflight(client, APP)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == APP
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "authorization, content-type, x-stainless-os"
    assert response.headers["vary"] == "Origin"


def test_answers_to_an_allowed_origin_carry_allow_origin_and_its_writes_pass_the_guard(backends, make_gateway):
    gateway = make_gateway(backends, allowed_origins=APP)
    with gateway.client() as client:
        models = client.get("/v1/models", headers={"Origin": APP})
        chat = client.post(
            "/v1/chat/completions",
            json={"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Origin": APP},
        )
    assert models.headers["access-control-allow-origin"] == APP
    assert chat.status_code == 200
    assert chat.headers["access-control-allow-origin"] == APP
    exposed = chat.headers["access-control-expose-headers"].split(", ")
    assert {"x-request-id", "request-id", "x-atmosphere-backend", "x-atmosphere-usage", "retry-after"} <= set(exposed)


def test_a_port_pattern_allows_every_port_of_that_host_only(make_gateway):
    gateway = make_gateway(allowed_origins="http://localhost:*")
    with gateway.client() as client:
        assert _preflight(client, "http://localhost:3000").status_code == 204
        refused = _preflight(client, "http://localhost.evil.example:3000")
    assert refused.status_code == 403
    assert "ATMOSPHERE_ALLOWED_ORIGINS" in refused.json()["error"]["message"]


def test_by_default_no_page_gets_cors_and_foreign_writes_stay_refused(make_gateway):
    gateway = make_gateway()
    with gateway.client() as client:
        preflight = _preflight(client, APP)
        models = client.get("/v1/models", headers={"Origin": APP})
        write = client.post("/v1/integrations/ollama/disable", headers={"Origin": APP})
    assert "access-control-allow-origin" not in preflight.headers  # as before this setting existed
    assert "access-control-allow-origin" not in models.headers
    assert write.status_code == 403


def test_an_origin_not_listed_is_refused_while_others_are_allowed(make_gateway):
    gateway = make_gateway(allowed_origins=APP)
    with gateway.client() as client:
        preflight = _preflight(client, "https://evil.example")
        models = client.get("/v1/models", headers={"Origin": "https://evil.example"})
        write = client.post("/v1/integrations/ollama/disable", headers={"Origin": "https://evil.example"})
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in models.headers
    assert write.status_code == 403


def test_star_allows_any_page_but_each_call_still_needs_the_key(make_gateway):
    gateway = make_gateway(allowed_origins="*", api_key="a-long-enough-key")
    page = {"Origin": "https://anything.example"}
    with gateway.client() as client:
        preflight = _preflight(client, "https://anything.example")  # browsers send no key on these
        refused = client.get("/v1/models", headers=page)
        models = client.get("/v1/models", headers={**page, "Authorization": "Bearer a-long-enough-key"})
    assert preflight.status_code == 204
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == "*"  # the page can read why
    assert models.status_code == 200 and models.headers["access-control-allow-origin"] == "*"


def test_star_without_an_api_key_stops_start_up_naming_both_settings():
    with pytest.raises(ConfigError, match="ATMOSPHERE_ALLOWED_ORIGINS: '\\*' lets any web page use the API.*ATMOSPHERE_API_KEY"):
        load_settings(allowed_origins="*")


def test_the_live_socket_accepts_an_allowed_origin_and_refuses_others(make_gateway):
    gateway = make_gateway(allowed_origins=APP)
    url = gateway.url.replace("http://", "ws://") + "/ws"
    with connect(url, origin=APP) as ws:
        assert '"snapshot"' in ws.recv(timeout=5)
    with pytest.raises(InvalidStatus):
        with connect(url, origin="https://evil.example") as ws:
            ws.recv(timeout=2)


def test_origins_are_compared_without_case_or_a_trailing_slash():
    policy = OriginPolicy(parse_origins(" HTTPS://App.Example/ ,http://127.0.0.1:*"))
    assert policy.allows("https://app.example")
    assert policy.allows("http://127.0.0.1:5173")
    assert not policy.allows("https://app.example.evil")
    assert not OriginPolicy(())


def test_an_entry_that_is_not_an_origin_stops_start_up_naming_the_setting():
    with pytest.raises(ConfigError, match="ATMOSPHERE_ALLOWED_ORIGINS: each entry must be an origin"):
        load_settings(allowed_origins="app.example")
