"""Splitting streamed answers into lines: as they arrive, across chunk borders, and bounded."""

from __future__ import annotations

import httpx
import pytest

from atmosphere.errors import BackendFailure
from atmosphere.http.client import iter_lines


class Chunks(httpx.AsyncByteStream):
    def __init__(self, *chunks: bytes):
        self.chunks = chunks

    async def __aiter__(self):
        for chunk in self.chunks:
            yield chunk


async def lines_of(*chunks: bytes, limit: int = 1024) -> list[bytes]:
    response = httpx.Response(200, stream=Chunks(*chunks))
    return [line async for line in iter_lines(response, "test", limit)]


async def test_lines_split_across_chunks_and_crlf():
    assert await lines_of(b'{"a":', b'1}\n{"b"', b":2}\r\n\n", b"data: [DONE]") == [b'{"a":1}', b'{"b":2}', b"", b"data: [DONE]"]


async def test_a_line_that_never_ends_is_cut_off():
    with pytest.raises(BackendFailure, match="longer than 1024 bytes"):
        await lines_of(*[b"x" * 300] * 10)
