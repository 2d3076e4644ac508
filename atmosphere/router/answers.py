"""Rules every answer obeys, whichever backend gave it.

- One ``finish_reason`` per choice: a stream ends at the first chunk that carries one (then
  the usage report, when asked), and the upstream is closed there. LlamaFarm 0.0.27 streams
  ten whole generations when a model stops on ``length``; nobody downstream sees the repeats.
- Honest usage: never 0 completion tokens for a non-empty answer. The backend's counts are
  kept when they are real; otherwise a stream's content deltas are counted (one per token on
  llama.cpp-based runtimes) and a buffered answer is estimated from its length. Either way
  ``Usage.estimated`` is set (the OpenAI face says so in ``X-Atmosphere-Usage: estimated``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

from atmosphere.domain import ChatChunk, ChatCompletion, Usage
from atmosphere.router.streams import close_quietly

# How long to wait after a finish chunk for the usage report that OpenAI-style backends send
# right behind it; anything else, or nothing within this, ends the stream.
_USAGE_GRACE = 2.0
_CHARS_PER_TOKEN = 4  # the usual rule of thumb for English text with BPE tokenizers


def tokens_for_chars(chars: int) -> int:
    """The one token estimate: about four characters a token, rounded up (0 for nothing)."""
    return -(-chars // _CHARS_PER_TOKEN) if chars > 0 else 0


def estimate_tokens(text: str) -> int:
    return tokens_for_chars(len(text))


def prompt_estimate(messages: Iterable[Any]) -> int:
    """A rough prompt size for backends that count nothing (only used when they do not)."""
    total = 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(len(p.get("text") or "") for p in content if isinstance(p, dict))
    return tokens_for_chars(total)


def honest_usage(usage: Usage | None, answer_tokens: int, prompt_tokens: int) -> Usage:
    """The backend's counts where real; ``answer_tokens``/``prompt_tokens`` (counted or
    estimated) where it said nothing or 0."""
    usage = usage or Usage(estimated=True)
    if answer_tokens and usage.completion_tokens == 0:
        usage = Usage(usage.prompt_tokens, answer_tokens, estimated=True)
    if usage.prompt_tokens == 0 and prompt_tokens:
        usage = Usage(prompt_tokens, usage.completion_tokens, estimated=True)
    return usage


def settle_completion(answer: ChatCompletion, prompt_tokens: int) -> ChatCompletion:
    """A buffered answer with honest usage (estimated from its text when uncounted)."""
    text = (answer.content or "") + (answer.reasoning or "")
    answer.usage = honest_usage(answer.usage, estimate_tokens(text), prompt_tokens)
    return answer


def _is_usage_report(chunk: ChatChunk) -> bool:
    return chunk.usage is not None and not chunk.has_content and chunk.role is None and not chunk.content


async def one_answer(upstream: AsyncIterator[ChatChunk], include_usage: bool, prompt_tokens: int) -> AsyncIterator[ChatChunk]:
    """Forward ``upstream`` up to and including its first finish chunk, then (when asked)
    one usage report with honest counts; the upstream is closed however this ends."""
    iterator = aiter(upstream)
    usage: Usage | None = None
    deltas = 0
    last: ChatChunk | None = None
    try:
        async for chunk in iterator:
            if _is_usage_report(chunk):
                usage = chunk.usage
                continue
            if chunk.usage is not None:  # usage riding on a content or finish chunk
                usage, chunk.usage = chunk.usage, None
            if chunk.content or chunk.reasoning or chunk.tool_calls:
                deltas += 1
            last = chunk
            yield chunk
            if chunk.finish_reason:
                usage = await _trailing_usage(iterator) or usage
                break
    finally:
        await close_quietly(iterator)  # closes the upstream answer: it stops sending repeats
    if include_usage and last is not None:
        yield ChatChunk(id=last.id, created=last.created, model=last.model, usage=honest_usage(usage, deltas, prompt_tokens))


async def _trailing_usage(iterator: AsyncIterator[ChatChunk]) -> Usage | None:
    """The usage report right behind a finish chunk, if that is what comes next."""
    try:
        following = await asyncio.wait_for(anext(iterator), _USAGE_GRACE)
    except (StopAsyncIteration, TimeoutError):
        return None
    return following.usage if _is_usage_report(following) else None
