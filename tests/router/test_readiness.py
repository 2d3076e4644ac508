"""The plan's readiness and locality steps (router/readiness.py) on their own: which backend a
request skips and why, the 403 for a prompt that would leave the network, and which attempts a
client is told about. (What a user of a real LlamaFarm sees: test_llamafarm_readiness.py.)"""

from __future__ import annotations

from typing import Any

from atmosphere.domain import Attempt, ModelInfo, ProbeResult
from atmosphere.router.readiness import ROUTABLE, attempts_before, cloud_reason, not_local, screen


class Host:
    def __init__(self, host_id: str):
        self.id = host_id


def host(host_id: str = "h") -> Any:
    return Host(host_id)


PROBE = ProbeResult(
    "healthy",
    models=[
        ModelInfo("ready:latest"),
        ModelInfo("fast", aliases=["chatbot/fast"], ready=False, unavailable_reason="the Universal Runtime is down"),
        ModelInfo("broken", ready=False),
        ModelInfo("big:cloud", locality="cloud"),
    ],
)


def test_a_ready_local_model_and_one_the_probe_did_not_describe_are_tried() -> None:
    assert screen(host(), PROBE, "ready:latest", allow_cloud=False) is None
    assert screen(host(), PROBE, "unlisted:latest", allow_cloud=False) is None  # the backend decides


def test_a_model_that_is_not_ready_is_skipped_saying_why_under_any_of_its_names() -> None:
    for name in ("fast", "chatbot/fast"):
        skip = screen(host("lf"), PROBE, name, allow_cloud=False)
        assert skip == Attempt("lf", f"model {name} is not ready: the Universal Runtime is down", "skipped")
    broken = screen(host(), PROBE, "broken", allow_cloud=False)
    assert broken is not None and broken.reason == "model broken is not ready: unavailable"


def test_a_cloud_model_is_skipped_unless_cloud_models_are_allowed() -> None:
    assert screen(host("o"), PROBE, "big:cloud", allow_cloud=False) == Attempt("o", cloud_reason("big:cloud"), "skipped")
    assert screen(host("o"), PROBE, "big:cloud", allow_cloud=True) is None


def test_the_403_comes_only_when_every_skip_was_for_the_cloud() -> None:
    cloud = [Attempt("a", cloud_reason("big:cloud"), "skipped"), Attempt("b", cloud_reason("big:cloud"), "skipped")]
    refusal = not_local("big:cloud", cloud)
    assert refusal is not None and (refusal.status, refusal.code, refusal.param) == (403, "model_not_local", "model")
    assert "ATMOSPHERE_ALLOW_CLOUD=true" in refusal.message and "`big:cloud`" in refusal.message
    assert not_local("big:cloud", [*cloud, Attempt("c", "model big:cloud is not ready: unavailable", "skipped")]) is None
    assert not_local("big:cloud", []) is None


def test_the_client_hears_of_skips_only_before_the_backend_that_served() -> None:
    backends: Any = [host("first"), host("second"), host("third")]
    attempts = [
        Attempt("first", "model m is not ready: unavailable", "skipped"),
        Attempt("second", "HTTP 500", "error"),
        Attempt("third", "model m is not ready: unavailable", "skipped"),
    ]
    assert attempts_before(attempts, "second", backends) == attempts[:2]
    assert attempts_before(attempts, "nobody", backends) == attempts  # nothing served: all are news
    tried_later = [Attempt("third", "cut", "error"), Attempt("third", "model m is not ready: unavailable", "skipped")]
    assert attempts_before(tried_later, "first", backends) == tried_later  # a backend that was tried stays


def test_a_degraded_integration_is_routable_and_an_offline_one_is_not() -> None:
    assert ROUTABLE == {"healthy", "degraded"}  # never "offline" or "error"
