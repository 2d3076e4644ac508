"""A LlamaFarm version with preload: its concurrency sets the host's limit, and warm-up preloads
the project (0.0.27 has neither; see test_fleet_hosts for the warm-up it then refuses)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import respx

from atmosphere.adapters.llamafarm import LlamaFarmBackend

LF = "http://lf.test"
RT = "http://rt.test"
EMBED = "sentence-transformers/all-MiniLM-L6-v2"
CHATBOT = {
    "namespace": "default",
    "name": "chatbot",
    "config": {"runtime": {"default_model": "smart", "models": [{"name": "smart", "provider": "universal", "model": "m"}]}},
}


def serve_probe(router: respx.MockRouter) -> None:
    router.get(f"{LF}/health/liveness").respond(200, json={"status": "alive"})
    router.get(f"{LF}/health").respond(200, json={"status": "healthy", "summary": "server=healthy"})
    router.get(f"{LF}/info").respond(200, json={"version": "0.0.30"})
    router.get(f"{LF}/v1/projects/default").respond(200, json={"total": 1, "projects": [CHATBOT]})
    router.get(f"{RT}/health").respond(200, json={"status": "healthy", "device": {"device": "cpu"}})


@pytest.fixture
async def backend() -> AsyncIterator[LlamaFarmBackend]:
    backend = LlamaFarmBackend(LF, runtime_url=RT, namespace="default", embed_model=EMBED, probe_timeout=1, request_timeout=5)
    yield backend
    await backend.aclose()


async def test_a_llamafarm_that_reports_its_concurrency_and_preload_is_warmed_through_its_project(
    backend: LlamaFarmBackend,
) -> None:
    with respx.mock(assert_all_called=False) as router:
        serve_probe(router)
        router.get(f"{RT}/v1/preload/resources").respond(200, json={"device": "cuda", "optimal_concurrency": 6})
        preload = router.post(f"{LF}/v1/models/preload/default/chatbot").respond(200, json={"status": "loaded"})
        result = await backend.probe()
        assert result.status == "healthy"
        assert backend.warmup_supported is True and result.reported_concurrency == 6
        await backend.warm("smart")
        assert preload.called


async def test_llamafarm_0_0_27_has_no_preload_so_no_warm_up_and_the_default_limit(backend: LlamaFarmBackend) -> None:
    with respx.mock(assert_all_called=False) as router:
        serve_probe(router)
        router.get(f"{RT}/v1/preload/resources").respond(404, json={"detail": "Not Found"})
        result = await backend.probe()
    assert backend.warmup_supported is False and result.reported_concurrency is None
