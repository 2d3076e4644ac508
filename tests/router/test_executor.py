"""The executor's rules, with stand-in backends that fail on cue."""

from __future__ import annotations

from typing import Any

import pytest

from atmosphere.domain import ChatCompletion, ChatRequest, ModelInfo, ProbeResult
from atmosphere.errors import BackendFailure, InvalidRequest, ModelNotFound, NoBackendAvailable, UpstreamError, UpstreamTimeout
from atmosphere.router.executor import Executor
from atmosphere.state.registry import Registry


class FakeBackend:
    type = "fake"

    def __init__(self, backend_id: str, models: list[str], *, fail: Exception | None = None, status: str = "healthy"):
        self.id = self.name = backend_id
        self.url = f"http://{backend_id}.invalid"
        self.models = models
        self.fail = fail
        self.status = status
        self.calls = 0

    async def probe(self) -> ProbeResult:
        infos = [ModelInfo(id=m, capabilities=["chat", "generate"]) for m in self.models]
        return ProbeResult(
            status=self.status, models=infos, default_model=self.models[0], error=None if self.status == "healthy" else "down"
        )

    def resolve_model(self, model: str) -> str | None:
        return model if model in self.models else None

    def describe(self, result: ProbeResult | None) -> dict[str, Any]:
        return {}

    async def chat(self, req: ChatRequest, model: str) -> ChatCompletion:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return ChatCompletion(id="chatcmpl-1", created=0, model=model, content=f"served by {self.id}")

    async def aclose(self) -> None:
        pass


async def executor_for(tmp_path, *backends: FakeBackend, disabled: tuple[str, ...] = ()) -> Executor:
    registry = Registry(list(backends), state_dir=tmp_path, probe_timeout=1, health_interval=60)
    await registry.scan()
    for backend_id in disabled:
        await registry.set_enabled(backend_id, False)
    return Executor(registry)


def ask(model: str | None = "shared") -> ChatRequest:
    return ChatRequest(model=model, messages=[{"role": "user", "content": "hi"}])


async def test_an_adapter_bug_on_a_weird_answer_falls_back_instead_of_a_500(tmp_path):
    first = FakeBackend("llamafarm", ["shared"], fail=KeyError("choices"))
    second = FakeBackend("ollama", ["shared"])
    served = await (await executor_for(tmp_path, first, second)).chat(ask())
    assert served.backend == "ollama"
    assert "unexpected answer (KeyError" in served.attempts[0].reason


async def test_a_request_the_backend_refuses_is_not_retried_elsewhere(tmp_path):
    first = FakeBackend("llamafarm", ["shared"], fail=BackendFailure("HTTP 400: bad", retryable=False))
    second = FakeBackend("ollama", ["shared"])
    with pytest.raises(InvalidRequest):
        await (await executor_for(tmp_path, first, second)).chat(ask())
    assert second.calls == 0


async def test_auto_skips_unhealthy_backends_with_their_reason(tmp_path):
    down = FakeBackend("llamafarm", ["a"], status="offline")
    up = FakeBackend("ollama", ["b"])
    served = await (await executor_for(tmp_path, down, up)).chat(ask("auto"))
    assert (served.backend, served.model) == ("ollama", "b")
    assert served.attempts[0].kind == "skipped" and "offline: down" in served.attempts[0].reason


async def test_a_model_only_a_disabled_backend_has_is_a_404_that_says_so(tmp_path):
    executor = await executor_for(tmp_path, FakeBackend("llamafarm", ["a"]), FakeBackend("ollama", ["b"]), disabled=("ollama",))
    with pytest.raises(ModelNotFound, match="only available on disabled integration"):
        await executor.chat(ask("b"))


@pytest.mark.parametrize(
    "failures, expected",
    [
        (("unreachable", "unreachable"), NoBackendAvailable),
        (("unreachable", "timeout"), UpstreamTimeout),
        (("timeout", "error"), UpstreamError),
    ],
)
async def test_when_every_backend_fails_the_status_says_how(tmp_path, failures, expected):
    backends = [
        FakeBackend(name, ["shared"], fail=BackendFailure(f"{kind}!", kind=kind))
        for name, kind in zip(("llamafarm", "ollama"), failures, strict=True)
    ]
    with pytest.raises(expected) as err:
        await (await executor_for(tmp_path, *backends)).chat(ask())
    assert "llamafarm: " in err.value.message and "ollama: " in err.value.message
    assert [a.backend for a in err.value.attempts] == ["llamafarm", "ollama"]


async def test_testing_an_integration_whose_adapter_breaks_reports_a_failure_not_an_error(tmp_path):
    broken = FakeBackend("llamafarm", ["shared"], fail=KeyError("choices"))
    executor = await executor_for(tmp_path, broken, FakeBackend("ollama", ["shared"]))

    result = await executor.test_one("llamafarm", "hi", None, None)

    assert result.success is False and result.model_used == "shared"
    assert result.error is not None and "unexpected answer (KeyError" in result.error


async def test_the_catalogue_lists_a_shared_model_once_under_the_first_integration(tmp_path):
    executor = await executor_for(tmp_path, FakeBackend("llamafarm", ["shared", "a"]), FakeBackend("ollama", ["shared", "b"]))

    models = executor.models()
    await executor.registry.scan()

    assert [(m.id, m.owned_by) for m in models] == [("shared", "llamafarm"), ("a", "llamafarm"), ("b", "ollama")]
    assert [m.created for m in executor.models()] == [m.created for m in models]  # stable across probes
    assert executor.model("b").owned_by == "ollama"
    with pytest.raises(ModelNotFound):
        executor.model("ghost")


def test_attempts_travel_in_one_safe_header_line():
    from atmosphere.api.errors import attempts_header
    from atmosphere.errors import Attempt

    header = attempts_header([Attempt("llamafarm", "HTTP 500: boom\r\nX-Injected: yes"), Attempt("ollama", "modèle absent")])
    value = header["X-Atmosphere-Attempts"]
    assert "\r" not in value and "\n" not in value and value.isascii()
    assert value.startswith("llamafarm: HTTP 500: boom") and "ollama: mod" in value


async def test_a_request_that_waited_for_a_host_at_its_limit_shows_the_wait_in_the_request_log(tmp_path):
    import asyncio

    from atmosphere.router.balancer import Balancer

    gate = asyncio.Event()

    class Slow(FakeBackend):
        async def chat(self, req: ChatRequest, model: str) -> ChatCompletion:
            await gate.wait()
            return await super().chat(req, model)

    registry = Registry([Slow("one", ["shared"])], state_dir=tmp_path, probe_timeout=1, health_interval=60)
    await registry.scan()
    executor = Executor(registry, balancer=Balancer(max_inflight=1))
    first = asyncio.create_task(executor.chat(ask()))
    second = asyncio.create_task(executor.chat(ask()))
    for _ in range(5):
        await asyncio.sleep(0.01)
    gate.set()
    await first, await second
    entries = [e.to_dict() for e in executor.recorder.log.query()]
    waits = sorted(e["queued_ms"] or 0 for e in entries)
    assert waits[0] == 0 and waits[1] >= 30  # the second waited for the first's slot, and says so
    assert all(e["status"] == 200 for e in entries)
