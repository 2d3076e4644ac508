"""Client keys, through the real SDKs on each surface: a key made with /v1/keys works once and is
shown once; wrong, revoked, expired, out-of-scope and over-limit keys are refused in each client's
own error shape (OpenAI, Anthropic, Ollama); the database holds the hash, never the secret; no
secret reaches a log line. The stories run on SQLite and, marked ``postgres``, on PostgreSQL."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import ollama
import openai
import pytest
from conftest import Gateway

from harness.polling import wait_until

ADMIN = "admin-key-for-tests"
MODEL = "llama3.2:latest"


def make_key(gateway: Gateway, admin: str | None = None, **fields: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {admin}"} if admin else {}
    with gateway.client(headers=headers) as client:
        answer = client.post("/v1/keys", json={"name": "alice", **fields})
    assert answer.status_code == 201, answer.text
    return answer.json()


def keys_api(gateway: Gateway, admin: str | None = None) -> httpx.Client:
    return gateway.client(headers={"Authorization": f"Bearer {admin}"} if admin else {})


# Each surface through its own SDK: call(gateway, secret) -> the answer text; each raises its SDK's error.


def openai_chat(gateway: Gateway, secret: str, model: str = MODEL) -> str:
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=secret, max_retries=0, timeout=10.0)
    answer = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    return answer.choices[0].message.content or ""


def anthropic_message(gateway: Gateway, secret: str, model: str = MODEL) -> str:
    client = anthropic.Anthropic(base_url=gateway.url, api_key=secret, max_retries=0, timeout=10.0)
    answer = client.messages.create(model=model, max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    return "".join(block.text for block in answer.content if block.type == "text")


def ollama_chat(gateway: Gateway, secret: str, model: str = MODEL) -> str:
    client = ollama.Client(host=gateway.url, headers={"Authorization": f"Bearer {secret}"}, timeout=10.0)
    return client.chat(model=model, messages=[{"role": "user", "content": "hi"}]).message.content or ""


SURFACES: dict[str, Callable[..., str]] = {"openai": openai_chat, "anthropic": anthropic_message, "ollama": ollama_chat}


def refused(call: Callable[..., str], gateway: Gateway, secret: str, **kwargs: Any) -> tuple[int, str, dict[str, str]]:
    """(status, message, headers) of a refusal, read from the SDK's own error, so each body's shape is its client's."""
    try:
        call(gateway, secret, **kwargs)
    except (openai.APIStatusError, anthropic.APIStatusError) as exc:
        return exc.status_code, _message(exc.body), dict(exc.response.headers)
    except ollama.ResponseError as exc:
        return exc.status_code, exc.error, {}
    raise AssertionError("the request was served")


def _message(body: Any) -> str:
    assert isinstance(body, dict), body
    error = body.get("error", body)
    assert isinstance(error, dict) and isinstance(error.get("message"), str), body  # OpenAI's or Anthropic's shape
    return error["message"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def gateway(request, backends) -> Gateway:
    """The gateway on each engine: SQLite in its state directory, or a PostgreSQL database of its own
    (asked for first, so it is dropped only after the gateway has stopped)."""
    overrides = {"database_url": request.getfixturevalue("postgres_database")} if request.param == "postgres" else {}
    make_gateway = request.getfixturevalue("make_gateway")
    return make_gateway(backends, **overrides)  # type: ignore[no-any-return]


def test_a_new_key_is_shown_once_and_works_on_every_surface_and_its_name_is_in_the_history(gateway):
    made = make_key(gateway)
    assert made["secret"].startswith("atm_") and made["prefix"] == made["secret"][:8]
    for call in SURFACES.values():
        assert call(gateway, made["secret"])
    with keys_api(gateway) as client:
        [listed] = client.get("/v1/keys").json()["data"]
        assert "secret" not in listed and listed["revoked_at"] is None
        assert wait_until(lambda: client.get("/v1/keys").json()["data"][0]["last_used_at"] is not None, 5)
        assert wait_until(lambda: client.get("/v1/keys").json()["data"][0]["tokens_this_month"] > 0, 5)

        def top_keys() -> list[dict[str, Any]]:
            return client.get("/v1/usage", params={"group_by": "key"}).json()["top"]["keys"]  # type: ignore[no-any-return]

        assert wait_until(lambda: sum(entry["requests"] for entry in top_keys()) >= 3, 5), top_keys()
        [top] = top_keys()
        requests = client.get("/v1/requests").json()["requests"]
    assert top["name"] == "alice" and top["requests"] == 3
    assert {entry["key"] for entry in requests} == {"alice"}


@pytest.mark.parametrize("surface", SURFACES)
def test_a_wrong_key_is_a_401_in_the_surfaces_shape(gateway, surface):
    make_key(gateway)
    status, message, _ = refused(SURFACES[surface], gateway, "atm_" + "x" * 43)
    assert (status, message) == (401, "The API key is not valid.")


@pytest.mark.parametrize("surface", SURFACES)
def test_a_revoked_key_is_refused_at_once_on_every_surface(gateway, surface):
    made = make_key(gateway)
    assert SURFACES[surface](gateway, made["secret"])
    with keys_api(gateway) as client:
        revoked = client.delete(f"/v1/keys/{made['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    status, message, _ = refused(SURFACES[surface], gateway, made["secret"])
    assert (status, message) == (401, "The API key 'alice' was revoked.")


def test_an_expired_key_is_a_401_saying_when_it_expired_on_every_surface(gateway):
    made = make_key(gateway, expires_at=time.time() + 1.0)  # one key, one wait for its expiry, every surface
    assert wait_until(lambda: time.time() > made_expiry(made), 3)
    for surface, call in SURFACES.items():
        status, message, _ = refused(call, gateway, made["secret"])
        assert status == 401 and message.startswith("The API key 'alice' expired at "), (surface, status, message)


def made_expiry(made: dict[str, Any]) -> float:
    from datetime import datetime

    return datetime.fromisoformat(made["expires_at"].replace("Z", "+00:00")).timestamp()


@pytest.mark.parametrize("surface", SURFACES)
def test_a_model_outside_the_keys_patterns_is_a_403_naming_the_model(gateway, surface):
    made = make_key(gateway, models=["qwen*"])
    status, message, _ = refused(SURFACES[surface], gateway, made["secret"])
    assert status == 403
    assert message == f"Key 'alice' may not use model '{MODEL}' (it may use: qwen*)."
    allowed = make_key(gateway, name="bob", models=["llama3*"])
    assert SURFACES[surface](gateway, allowed["secret"])


@pytest.mark.parametrize("surface", SURFACES)
def test_a_surface_the_key_may_not_use_is_a_403_naming_the_surface(gateway, surface):
    others = [name for name in SURFACES if name != surface]
    made = make_key(gateway, surfaces=others)
    status, message, _ = refused(SURFACES[surface], gateway, made["secret"])
    assert status == 403 and message.startswith(f"Key 'alice' may not use the {_label(surface)} API")
    assert SURFACES[others[0]](gateway, made["secret"])


def _label(surface: str) -> str:
    return {"openai": "OpenAI", "anthropic": "Anthropic", "ollama": "Ollama"}[surface]


@pytest.mark.parametrize("surface", SURFACES)
def test_over_the_requests_per_minute_limit_is_a_429_with_retry_after(gateway, surface):
    made = make_key(gateway, limits={"requests_per_minute": 2})
    for _ in range(2):
        assert SURFACES[surface](gateway, made["secret"])
    status, message, headers = refused(SURFACES[surface], gateway, made["secret"])
    assert (status, message) == (429, "Key 'alice' is over its limit of 2 requests per minute.")
    if surface != "ollama":  # the Ollama client keeps only the body
        assert 1 <= int(headers["retry-after"]) <= 60


def test_the_429_carries_retry_after_on_the_ollama_surface_too(gateway):
    made = make_key(gateway, limits={"requests_per_minute": 1})
    with gateway.client(headers={"Authorization": f"Bearer {made['secret']}"}) as client:
        body = {"model": MODEL, "stream": False, "messages": [{"role": "user", "content": "hi"}]}
        assert client.post("/api/chat", json=body).status_code == 200
        answer = client.post("/api/chat", json=body)
    assert answer.status_code == 429 and 1 <= int(answer.headers["retry-after"]) <= 60
    assert answer.json() == {"error": "Key 'alice' is over its limit of 1 requests per minute."}


def test_a_key_over_its_monthly_budget_is_a_429_until_the_month_ends(gateway):
    made = make_key(gateway, monthly_token_budget=1)
    assert openai_chat(gateway, made["secret"])  # the first request spends past the budget
    with keys_api(gateway) as client:
        assert wait_until(lambda: client.get("/v1/keys").json()["data"][0]["tokens_this_month"] >= 1, 5)
    status, message, headers = refused(openai_chat, gateway, made["secret"])
    assert (status, message) == (429, "Key 'alice' has used its monthly budget of 1 tokens.")
    assert int(headers["retry-after"]) > 0


def test_refusals_are_in_the_history_and_counted_on_the_key(gateway):
    made = make_key(gateway, limits={"requests_per_minute": 1}, models=["llama3*"])
    assert openai_chat(gateway, made["secret"])
    refused(openai_chat, gateway, made["secret"])  # 429
    with keys_api(gateway) as client:
        assert wait_until(lambda: client.get("/v1/keys").json()["data"][0]["limited_last_hour"] == 1, 5)
        report = client.get("/v1/usage", params={"group_by": "key"}).json()
        limited = [entry for entry in client.get("/v1/requests").json()["requests"] if entry["status"] == 429]
    [point] = report["series"]
    assert (point["group"], point["requests"], point["errors"]) == ("alice", 2, 1)
    [entry] = limited  # the live request log shows who was limited, and why
    assert entry["key"] == "alice" and entry["reason"] == "Key 'alice' is over its limit of 1 requests per minute."
    with keys_api(gateway) as client:
        metrics = client.get("/metrics").text
    assert 'atmosphere_key_requests_total{key="alice",status="2xx"} 1.0' in metrics
    assert 'atmosphere_key_requests_total{key="alice",status="4xx"} 1.0' in metrics


def test_a_client_key_cannot_manage_the_gateway(gateway):
    made = make_key(gateway)
    with gateway.client(headers={"Authorization": f"Bearer {made['secret']}"}) as client:
        for method, path in (("GET", "/v1/keys"), ("GET", "/v1/usage"), ("POST", "/v1/integrations/ollama/disable")):
            answer = client.request(method, path)
            assert answer.status_code == 403, (path, answer.text)
            assert "needs the admin key" in answer.json()["error"]["message"]
        assert client.get("/v1/models").status_code == 200  # listing models is every client's


def test_with_an_admin_key_keys_are_managed_only_with_it_and_client_keys_still_serve(backends, make_gateway):
    gateway = make_gateway(backends, api_key=ADMIN)
    with gateway.client() as client:
        assert client.get("/v1/keys").status_code == 401
    made = make_key(gateway, admin=ADMIN)
    assert openai_chat(gateway, made["secret"])
    assert openai_chat(gateway, ADMIN)
    status, _, _ = refused(openai_chat, gateway, "not-the-key")
    assert status == 401


def test_require_keys_on_loopback_refuses_a_request_without_one(backends, make_gateway):
    gateway = make_gateway(backends, require_keys=True)
    with gateway.client() as client:
        answer = client.post("/v1/chat/completions", json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 401 and "API key is required" in answer.json()["error"]["message"]
    status, _, _ = refused(openai_chat, gateway, "not-needed")  # what the SDKs send when told any key will do
    assert status == 401
    made = make_key(gateway)  # managing stays the loopback operator's without an admin key
    assert openai_chat(gateway, made["secret"])


def test_without_keys_required_loopback_clients_still_need_none(gateway):
    assert openai_chat(gateway, "not-needed")  # what the SDKs send when told any key will do


def test_the_database_holds_the_keys_hash_never_the_secret(backends, make_gateway):
    gateway = make_gateway(backends)  # SQLite: every byte the database keeps is in the state directory
    made = make_key(gateway)
    state = gateway.settings.state_dir
    connection = sqlite3.connect(state / "atmosphere.db")
    try:
        [(stored,)] = connection.execute("SELECT secret_hash FROM client_keys").fetchall()
    finally:
        connection.close()
    assert len(stored) == 64 and made["secret"] not in stored
    files = b"".join(path.read_bytes() for path in state.iterdir() if path.is_file())
    assert made["secret"].encode() not in files and made["secret"][4:].encode() not in files
    assert oct((state / "key-secret").stat().st_mode & 0o777) == "0o600"


def test_no_secret_reaches_any_log_line(backends, make_gateway, caplog):
    caplog.set_level(logging.DEBUG)
    gateway = make_gateway(backends, log_level="debug")
    made = make_key(gateway, limits={"requests_per_minute": 1})
    for call in SURFACES.values():
        try:
            call(gateway, made["secret"])
        except (openai.APIStatusError, anthropic.APIStatusError, ollama.ResponseError):
            pass  # over the limit after the first
    refused(openai_chat, gateway, made["secret"] + "x")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged, "nothing was logged: the test would prove nothing"
    assert made["secret"] not in logged and made["secret"][4:20] not in logged


def test_a_key_made_again_under_a_live_keys_name_is_a_400(gateway):
    make_key(gateway)
    with keys_api(gateway) as client:
        answer = client.post("/v1/keys", json={"name": "alice"})
    assert answer.status_code == 400 and "exists" in answer.json()["error"]["message"]


def test_a_bad_draft_is_a_400_naming_the_field(gateway):
    with keys_api(gateway) as client:
        for body, param in (
            ({"name": ""}, "name"),
            ({"name": "a", "surfaces": ["smtp"]}, "surfaces"),
            ({"name": "a", "limits": {"requests_per_minute": 0}}, "limits.requests_per_minute"),
            ({"name": "a", "expires_at": "tomorrow"}, "expires_at"),
        ):
            answer = client.post("/v1/keys", json=body)
            assert answer.status_code == 400 and answer.json()["error"]["param"] == param, answer.text
        assert client.patch("/v1/keys/key_nope", json={"name": "x"}).status_code == 404
