"""What a client chooses cannot grow the gateway: the request log cuts every string it keeps
and bounds its total, ``/metrics`` labels are a bounded set, and so are model equivalents."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Gateway

from atmosphere.observe.context import new_id
from atmosphere.observe.metrics import MAX_MODEL_LABELS, Metrics
from atmosphere.observe.requestlog import FIELD_CHARS, TEXT_CHARS, TRUNCATED, RequestEntry, RequestLog
from atmosphere.router.equivalents import MAX_EQUIVALENTS, Equivalent, Equivalents, TooManyEquivalents


@pytest.fixture
def gateway(shared_gateway: Gateway) -> Gateway:
    """Bad input changes nothing: the module's cases share one gateway (conftest.shared_gateway)."""
    return shared_gateway


HUGE = "m" * (3 * 1024 * 1024)  # the audit's 3 MiB model name


def test_chats_naming_a_3_mib_model_leave_a_small_request_log(backends, make_gateway) -> None:
    gateway = make_gateway(backends)  # its own: the log it reads holds only these requests
    with gateway.client(timeout=30) as client:
        for stream in (False, True, False, False):
            body = {"model": HUGE, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
            assert client.post("/v1/chat/completions", json=body).status_code == 404
        assert client.post("/api/chat", json={"model": HUGE, "messages": [{"role": "user", "content": "hi"}]}).status_code == 404
        answer = client.get("/v1/requests", params={"limit": "500"})
        metrics = client.get("/metrics")
    assert answer.status_code == 200 and len(answer.content) < 64 * 1024
    huge = [e for e in answer.json()["requests"] if (e["requested_model"] or "").startswith("mmm")]
    assert len(huge) == 5
    assert all(len(e["requested_model"]) == FIELD_CHARS and e["requested_model"].endswith(TRUNCATED) for e in huge)
    assert len(metrics.content) < 64 * 1024 and "mmmmmmmmmm" not in metrics.text


def entry(log: RequestLog, **fields: object) -> RequestEntry:
    values: dict[str, object] = {
        "id": new_id(),
        "time": 1.0,
        "surface": "openai.chat",
        "requested_model": "m",
        "backend": "ollama",
        "model": "m",
        "substituted": False,
        "attempts": [],
        "status": 200,
        "outcome": "ok",
        "added_ms": 1.0,
        "upstream_ms": 2.0,
        "ttft_ms": None,
        "tokens_in": 1,
        "tokens_out": 1,
        "stream": False,
        "client": "127.0.0.1",
    }
    values.update(fields)
    return RequestEntry(**values)  # type: ignore[arg-type]


def test_every_string_an_entry_keeps_is_cut_with_a_marker() -> None:
    log = RequestLog()
    long = "x" * 10_000
    attempts = [{"backend": long, "reason": long, "kind": "error"} for _ in range(40)]
    log.add(entry(log, requested_model=long, model=long, surface=long, client=long, attempts=attempts, prompt=long, answer=long))
    kept = log.query()[0]
    for value in (kept.requested_model, kept.model, kept.surface, kept.client, kept.attempts[0]["reason"]):
        assert value is not None and len(value) == FIELD_CHARS and value.endswith(TRUNCATED)
    assert kept.prompt is not None and len(kept.prompt) == TEXT_CHARS and kept.prompt.endswith(TRUNCATED)
    assert len(kept.attempts) == 16 and kept.attempts[0]["kind"] == "error"
    short = entry(log, requested_model="qwen3:4b")
    log.add(short)
    assert log.query()[0].requested_model == "qwen3:4b"


def test_the_ring_drops_its_oldest_entries_past_its_total_size() -> None:
    log = RequestLog(size=500, max_bytes=20_000)
    for i in range(1, 201):
        log.add(entry(log, id=f"req-{i}", prompt="p" * 3000, answer=None))
    kept = log.query(limit=500)
    assert 2 <= len(kept) <= 7 and kept[0].id == "req-200"
    small = RequestLog(size=3)
    for i in range(1, 11):
        small.add(entry(small, id=f"req-{i}"))
    assert [e.id for e in small.query()] == ["req-10", "req-9", "req-8"]


def test_models_past_the_label_bound_are_counted_as_other() -> None:
    metrics = Metrics()
    for i in range(MAX_MODEL_LABELS + 50):
        metrics.observe(entry(RequestLog(), model=f"model-{i}"))
    metrics.observe(entry(RequestLog(), model="model-0"))
    text = metrics.render().decode()
    assert 'model="model-0"' in text and f'model="model-{MAX_MODEL_LABELS - 1}"' in text
    assert f'model="model-{MAX_MODEL_LABELS}"' not in text
    other = next(line for line in text.splitlines() if line.startswith("atmosphere_requests_total") and 'model="other"' in line)
    assert other.endswith(" 50.0")


async def test_the_models_file_holds_a_bounded_number_of_shared_names(tmp_path: Path) -> None:
    lines = [f'[models.m{i}]\nollama = "m{i}:latest"\n' for i in range(MAX_EQUIVALENTS + 5)]
    (tmp_path / "models.toml").write_text("\n".join(lines))
    equivalents = Equivalents(tmp_path / "models.toml")
    assert len(equivalents.all()) == MAX_EQUIVALENTS
    with pytest.raises(TooManyEquivalents):
        await equivalents.add(Equivalent("one-more", {"ollama": "x"}))
    await equivalents.add(Equivalent("m0", {"ollama": "replaced"}))  # replacing one is fine
    assert equivalents.get("m0") == Equivalent("m0", {"ollama": "replaced"})


def test_the_api_refuses_an_equivalent_with_a_huge_member(gateway) -> None:
    with gateway.client() as client:
        refused = client.post("/v1/models/equivalents", json={"name": "x", "members": {"ollama": "y" * 10_000}})
    assert refused.status_code == 400 and "256" in refused.json()["error"]["message"]


def test_past_the_shared_names_cap_the_api_answers_409_and_a_replacement_still_saves(backends, make_gateway, tmp_path) -> None:
    models = tmp_path / "models.toml"
    models.write_text("\n".join(f'[models.m{i}]\nollama = "m{i}:latest"\n' for i in range(MAX_EQUIVALENTS)))
    gateway = make_gateway(backends, models_file=models)
    with gateway.client() as client:
        refused = client.post("/v1/models/equivalents", json={"name": "one-more", "members": {"ollama": "x"}})
        replaced = client.post("/v1/models/equivalents", json={"name": "m0", "members": {"ollama": "other:latest"}})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "too_many_equivalents"
    assert str(MAX_EQUIVALENTS) in refused.json()["error"]["message"]
    assert replaced.status_code == 200 and 'ollama = "other:latest"' in models.read_text()
