"""The one place a finished request is recorded: the request log, its ``/ws`` message and the metrics.

The executor opens a ``Trace`` per request (every surface passes through it) and closes it
once: when the answer is complete, when a stream ends (or its client leaves), or when the
request fails. A request refused before it reached the executor (a face's validation: a 400
or 413) is recorded by the error handlers through ``refused``, once, with the reason. Faces
record nothing themselves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from atmosphere.domain import Attempt, ChatChunk, Usage
from atmosphere.errors import AtmosphereError
from atmosphere.observe import context
from atmosphere.observe.metrics import Metrics
from atmosphere.observe.requestlog import Outcome, RequestEntry, RequestLog


class Recorder:
    def __init__(self, log: RequestLog, metrics: Metrics, *, log_prompts: bool = False):
        self.log = log
        self.metrics = metrics
        self.log_prompts = log_prompts

    def trace(self, requested_model: str | None, stream: bool, prompt: Callable[[], str | None] | None = None) -> Trace:
        keep = self.log_prompts or context.current().log_prompts  # everyone's, or a client key's own
        return Trace(self, requested_model, stream, prompt() if keep and prompt else None)

    def refused(self, error: AtmosphereError) -> None:
        """A request of an inference surface refused before the executor saw it (a face's
        validation), with why; nothing for other paths, or when its entry is written already."""
        current = context.current()
        if not current.declared or current.recorded:
            return
        Trace(self, None, False, None).fail(error)

    def _add(self, entry: RequestEntry, request: context.RequestContext) -> None:
        self.log.add(entry)
        self.metrics.observe(entry)
        request.entry = entry  # the usage history's row is written when the answer has been sent


class Trace:
    """Timings of one request as it goes; ``finish`` or ``fail`` writes it down, once."""

    __slots__ = ("_recorder", "context", "wall", "requested", "stream", "prompt", "upstream_at", "first_at", "queued", "_done")

    def __init__(self, recorder: Recorder, requested: str | None, stream: bool, prompt: str | None):
        self._recorder = recorder
        self.context = context.current()
        self.wall = time.time() - (time.perf_counter() - self.context.started)
        self.requested = requested
        self.stream = stream
        self.prompt = prompt
        self.upstream_at: float | None = None  # when the call to the backend that served began
        self.first_at: float | None = None  # when its first streamed chunk arrived
        self.queued = 0.0  # seconds waited for a host at its concurrency limit
        self._done = False

    def upstream_begins(self) -> None:
        self.upstream_at = time.perf_counter()

    def waited(self, seconds: float) -> None:
        self.queued += seconds

    def first_chunk(self) -> None:
        self.first_at = time.perf_counter()

    def finish(
        self,
        backend: str,
        model: str,
        attempts: list[Attempt],
        usage: Usage | None,
        *,
        substituted: bool = False,
        answer: str | None = None,
        status: int = 200,
    ) -> None:
        now = time.perf_counter()
        total = (now - self.context.started) * 1000
        upstream = (now - self.upstream_at) * 1000 if self.upstream_at is not None else None
        ttft = (self.first_at - self.upstream_at) * 1000 if self.first_at and self.upstream_at else None
        self._write(
            attempts,
            "fallback" if attempts and any(a.kind != "skipped" for a in attempts) else "ok",
            status,
            round(max(0.0, total - (upstream or 0.0) - self.queued * 1000), 3),
            backend=backend,
            model=model,
            upstream_ms=round(upstream, 3) if upstream is not None else None,
            ttft_ms=round(ttft, 3) if ttft is not None else None,
            usage=usage,
            substituted=substituted,
            answer=answer if self._recorder.log_prompts or self.prompt is not None else None,
        )

    def fail(self, error: BaseException) -> None:
        reason = None
        if isinstance(error, AtmosphereError):
            status, reason = error.status, error.message
        elif isinstance(error, asyncio.CancelledError) and self.context.shutting_down:
            status, reason = 503, "the gateway shut down before the answer started"  # the drain's doing
        else:  # 499: the client went away before an answer (nginx's word for it); else our own fault
            status = 499 if isinstance(error, asyncio.CancelledError) else 500
        total = (time.perf_counter() - self.context.started) * 1000
        attempts: list[Attempt] = getattr(error, "attempts", [])
        self._write(attempts, "error", status, round(total, 3), reason=reason, error=_error_kind(error))

    def _write(
        self,
        attempts: list[Attempt],
        outcome: Outcome,
        status: int,
        added_ms: float,
        *,
        backend: str | None = None,
        model: str | None = None,
        upstream_ms: float | None = None,
        ttft_ms: float | None = None,
        usage: Usage | None = None,
        substituted: bool = False,
        answer: str | None = None,
        reason: str | None = None,
        error: str | None = None,
    ) -> None:
        """Writes the request's entry, once: a later ``finish`` or ``fail`` of it is ignored.
        What a failed request lacks (who served, upstream timings, usage) is left None."""
        if self._done:
            return
        self._done = True
        self.context.recorded = True
        entry = RequestEntry(
            id=self.context.id,  # the x-request-id the client got
            time=round(self.wall, 3),
            surface=self.context.surface,
            requested_model=self.requested,
            backend=backend,
            model=model,
            substituted=substituted,
            attempts=[a.to_dict() for a in attempts] if attempts else [],
            status=status,
            outcome=outcome,
            added_ms=added_ms,
            upstream_ms=upstream_ms,
            ttft_ms=ttft_ms,
            tokens_in=usage.prompt_tokens if usage else None,
            tokens_out=usage.completion_tokens if usage else None,
            estimated=bool(usage and usage.estimated),
            key=self.context.key,
            stream=self.stream,
            client=self.context.client,
            agent=self.context.agent,
            prompt=self.prompt,
            answer=answer,
            queued_ms=round(self.queued * 1000, 3) if self.queued else None,
            dropped_tools=self.context.dropped_tools,
            reason=reason,
            error=error,
        )
        self._recorder._add(entry, self.context)


def _error_kind(error: BaseException) -> str:
    if isinstance(error, AtmosphereError):
        return error.code or error.type
    return "cancelled" if isinstance(error, asyncio.CancelledError) else "internal"


class StreamTally:
    """What a stream's chunks add up to for its entry: the backend's usage report or, without
    one, the number of content chunks (one token each for the backends we speak to), marked
    estimated; and its text when prompts are logged. ``add`` each chunk after the first."""

    __slots__ = ("usage", "pieces", "text")

    def __init__(self, first: ChatChunk, trace: Trace) -> None:
        self.usage: Usage | None = first.usage
        self.pieces = 1 if first.content else 0
        self.text: list[str] | None = [first.content or ""] if trace.prompt is not None else None

    def add(self, chunk: ChatChunk) -> None:
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.content:
            self.pieces += 1
            if self.text is not None:
                self.text.append(chunk.content)

    def result(self) -> tuple[Usage | None, str | None]:
        usage = self.usage
        if usage is None and self.pieces:
            usage = Usage(0, self.pieces, estimated=True)
        return usage, "".join(self.text) if self.text is not None else None


async def traced_stream(
    first: ChatChunk,
    rest: AsyncIterator[ChatChunk],
    trace: Trace,
    done: Callable[[Usage | None, str | None], None],
) -> AsyncIterator[ChatChunk]:
    """Pass ``rest`` through; at its end (or when the client leaves) report usage and the text
    (``StreamTally``). The executor does the same in its one pass (``streams.committed``)."""
    tally = StreamTally(first, trace)
    try:
        async for chunk in rest:
            tally.add(chunk)
            yield chunk
    finally:
        done(*tally.result())


def prompt_text(req: Any) -> str | None:
    """The text a request sends (only ever kept with ATMOSPHERE_LOG_PROMPTS=true)."""
    if hasattr(req, "messages"):
        parts = []
        for message in req.messages:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
        return "\n".join(parts)
    if hasattr(req, "prompt"):
        return str(req.prompt)
    if hasattr(req, "inputs"):
        return "\n".join(req.inputs)
    return None
