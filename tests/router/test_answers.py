"""The rules every answer obeys (router/answers.py), on streams made up in the test."""

from __future__ import annotations

from collections.abc import AsyncIterator

from atmosphere.adapters.llamafarm_catalog import build_catalogue
from atmosphere.domain import ChatChunk, ChatCompletion, Usage
from atmosphere.router.answers import one_answer, settle_completion


def chunk(content: str | None = None, finish: str | None = None, usage: Usage | None = None) -> ChatChunk:
    return ChatChunk("c", 0, "m", content=content, finish_reason=finish, usage=usage)


class Upstream:
    """An upstream stream that records how far it was read and whether it was closed."""

    def __init__(self, chunks: list[ChatChunk]) -> None:
        self.chunks = chunks
        self.read = 0
        self.closed = False

    def __aiter__(self) -> AsyncIterator[ChatChunk]:
        return self.run()

    async def run(self) -> AsyncIterator[ChatChunk]:
        try:
            for item in self.chunks:
                self.read += 1
                yield item
        finally:
            self.closed = True


async def collect(stream: AsyncIterator[ChatChunk]) -> list[ChatChunk]:
    return [c async for c in stream]


async def test_a_stream_ends_at_its_first_finish_and_the_upstream_is_closed():
    generation = [chunk("Hello"), chunk(" there"), chunk(finish="length")]
    upstream = Upstream(generation * 10 + [chunk("I've reached the maximum number of tool calls.", "stop")])

    out = await collect(one_answer(aiter(upstream), include_usage=True, prompt_tokens=7))

    assert [c.finish_reason for c in out if c.finish_reason] == ["length"]
    assert "".join(c.content or "" for c in out) == "Hello there"
    assert upstream.closed and upstream.read == 4  # the finish, and one look for a usage report
    assert out[-1].usage == Usage(prompt_tokens=7, completion_tokens=2, estimated=True)


async def test_a_usage_report_right_behind_the_finish_is_kept():
    upstream = Upstream([chunk("Hi"), chunk(finish="stop"), chunk(usage=Usage(12, 5))])

    out = await collect(one_answer(aiter(upstream), include_usage=True, prompt_tokens=1))

    assert out[-1].usage == Usage(12, 5) and out[-1].content is None


async def test_usage_riding_on_the_finish_chunk_becomes_the_usage_report():
    upstream = Upstream([chunk("Hi"), chunk(finish="stop", usage=Usage(3, 1))])

    out = await collect(one_answer(aiter(upstream), include_usage=True, prompt_tokens=0))

    assert out[-2].finish_reason == "stop" and out[-2].usage is None
    assert out[-1].usage == Usage(3, 1)


async def test_zero_completion_tokens_are_replaced_by_the_counted_deltas():
    upstream = Upstream([chunk("a"), chunk("b"), chunk("c"), chunk(finish="stop"), chunk(usage=Usage(9, 0))])

    out = await collect(one_answer(aiter(upstream), include_usage=True, prompt_tokens=0))

    assert out[-1].usage == Usage(9, 3, estimated=True)


async def test_without_include_usage_no_usage_report_is_sent():
    upstream = Upstream([chunk("a"), chunk(finish="stop"), chunk(usage=Usage(9, 1))])

    out = await collect(one_answer(aiter(upstream), include_usage=False, prompt_tokens=0))

    assert all(c.usage is None for c in out)


def test_a_buffered_answer_without_counts_is_estimated_and_real_counts_are_kept():
    uncounted = settle_completion(ChatCompletion("c", 0, "m", "twelve chars", usage=Usage(18, 0)), 5)
    counted = settle_completion(ChatCompletion("c", 0, "m", "twelve chars", usage=Usage(18, 4)), 5)
    empty = settle_completion(ChatCompletion("c", 0, "m", "", usage=None), 0)

    assert uncounted.usage == Usage(18, 3, estimated=True)  # the prompt count is the backend's
    assert counted.usage == Usage(18, 4)
    assert empty.usage is not None and empty.usage.completion_tokens == 0


def test_project_listings_keep_no_secret_and_name_only_the_provider_host():
    listing = {
        "projects": [
            {
                "name": "hosted",
                "config": {
                    "runtime": {
                        "models": [
                            {
                                "name": "gpt",
                                "provider": "openai",
                                "model": "gpt-4o-mini",
                                "base_url": "https://user:sk-in-url@api.example.com:8443/v1?key=sk-in-query",
                                "api_key": "sk-secret-value",
                            }
                        ]
                    }
                },
            },
            {
                "name": "broken",
                "config": {"runtime": {"models": [{"name": "x", "provider": "nonsense", "api_key": "sk-secret-value"}]}},
                "validation_error": "runtime.models.0: bad value 'sk-secret-value'",
            },
        ]
    }

    catalogue = build_catalogue([("default", listing)], multi_namespace=False)

    assert repr(catalogue).count("sk-") == 0
    [target] = catalogue.targets
    assert target.host == "https://api.example.com:8443" and target.id == "hosted/gpt"
    assert catalogue.ids.keys() == {"hosted/gpt", "gpt"}
    assert catalogue.projects[0].validation_error == "runtime.models.0: bad value '***'"
