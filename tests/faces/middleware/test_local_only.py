"""Other web pages cannot drive the local gateway; local clients are unaffected."""

from __future__ import annotations

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect


def test_a_foreign_web_page_cannot_change_state_or_run_prompts(gateway):
    with gateway.client() as client:
        for path, body in [("/v1/integrations/ollama/disable", None), ("/v1/chat/completions", {"model": "fast"})]:
            response = client.post(path, json=body, headers={"Origin": "https://evil.example"})
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "forbidden"
        assert client.get("/v1/integrations").json()["integrations"][1]["enabled"] is True


def test_the_dashboard_and_its_dev_server_are_allowed(gateway):
    with gateway.client() as client:
        for origin in (gateway.url, "http://localhost:5173"):
            response = client.post("/v1/integrations/ollama/enable", headers={"Origin": origin})
            assert response.status_code == 200


def test_dns_rebinding_is_refused_by_the_host_check(gateway):
    with gateway.client() as client:
        response = client.get("/v1/integrations", headers={"Host": "rebind.evil.example:8000"})
    assert response.status_code == 403
    message = response.json()["error"]["message"]
    assert "only answers local requests" in message and "ATMOSPHERE_ALLOWED_HOSTS" in message  # what to set if it is ours


def test_a_foreign_page_cannot_open_the_live_socket(gateway):
    url = gateway.url.replace("http://", "ws://") + "/ws"
    with pytest.raises(InvalidStatus):
        with connect(url, origin="https://evil.example") as ws:
            ws.recv(timeout=2)
    with connect(url, origin=gateway.url) as ws:
        assert '"snapshot"' in ws.recv(timeout=5)
