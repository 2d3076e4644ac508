"""Typed fields a face reads, forwards or echoes but does not otherwise interpret: each is
checked here, so ``"logprobs": "yes"`` or ``"user": 42`` is the client's 400 naming the field
rather than something a backend trips over (or a value read as true).

A field is absent when it is missing or null. Each face turns a wrong field into its own
error shape (``wrong_field`` gives the name and what was expected).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Expect:
    what: str  # "a boolean", for the message
    ok: Callable[[Any], bool]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def integer(low: int, high: int | None = None) -> Expect:
    what = f"an integer from {low} to {high}" if high is not None else f"an integer of at least {low}"
    return Expect(what, lambda v: _is_integer(v) and v >= low and (high is None or v <= high))


def number(low: float = -math.inf, high: float = math.inf) -> Expect:
    what = "a number" if math.isinf(low) and math.isinf(high) else f"a number between {low:g} and {high:g}"
    return Expect(what, lambda v: _is_number(v) and low <= v <= high)


BOOLEAN = Expect("a boolean", lambda v: isinstance(v, bool))
STRING = Expect("a string", lambda v: isinstance(v, str))
OBJECT = Expect("an object", lambda v: isinstance(v, dict))
STRINGS = Expect("an array of strings", lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v))
INTEGERS = Expect("an array of integers", lambda v: isinstance(v, list) and all(_is_integer(i) for i in v))
NUMBER = number()
# Ollama's and LlamaFarm's ``think``: on/off, or a level for the models that have levels.
THINK = Expect('a boolean or one of "low", "medium", "high"', lambda v: isinstance(v, bool) or v in ("low", "medium", "high"))

Spec = Mapping[str, Expect]


def wrong_field(data: Mapping[str, Any], spec: Spec, prefix: str = "") -> tuple[str, Expect, Any] | None:
    """The first field of ``spec`` present in ``data`` with a value of the wrong type."""
    for name, expect in spec.items():
        value = data.get(name)
        if value is not None and not expect.ok(value):
            return prefix + name, expect, value
    return None


def shown(value: Any) -> str:
    """A client's value, short, for an error message."""
    text = repr(value) if isinstance(value, str | int | float | bool) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


# --- what each face reads -------------------------------------------------------------

# OpenAI: fields of every /v1 face that take them.
OPENAI_COMMON: Spec = {"user": STRING, "metadata": OBJECT, "store": BOOLEAN}
OPENAI_PENALTIES: Spec = {"frequency_penalty": number(-2, 2), "presence_penalty": number(-2, 2)}
# /v1/chat/completions, besides those the parser reads itself; LlamaFarm's extras included.
OPENAI_CHAT: Spec = {
    **OPENAI_COMMON,
    **OPENAI_PENALTIES,
    "parallel_tool_calls": BOOLEAN,
    "reasoning_effort": STRING,
    "logit_bias": OBJECT,
    "modalities": STRINGS,
    "service_tier": STRING,
    "prompt_cache_key": STRING,
    "rag_enabled": BOOLEAN,
    "database": STRING,
    "rag_top_k": integer(1),
    "rag_score_threshold": NUMBER,
    "rag_queries": STRINGS,
    "rag_retrieval_strategy": STRING,
    "think": THINK,
    "thinking_budget": integer(0),
    "variables": OBJECT,
    "n_ctx": integer(1),
}
OPENAI_COMPLETIONS: Spec = {**OPENAI_COMMON, **OPENAI_PENALTIES, "echo": BOOLEAN}
OPENAI_EMBEDDINGS: Spec = {"user": STRING}
STREAM_OPTIONS: Spec = {"include_usage": BOOLEAN}
RESPONSES: Spec = {
    **OPENAI_COMMON,
    "background": BOOLEAN,
    "parallel_tool_calls": BOOLEAN,
    "text": OBJECT,
    "reasoning": OBJECT,
    "include": STRINGS,
    "prompt_cache_key": STRING,
    "client_metadata": OBJECT,
    "truncation": STRING,
    "top_logprobs": integer(0, 20),
}
# Anthropic /v1/messages: what Claude Code sends and the face ignores is still typed.
ANTHROPIC: Spec = {"metadata": OBJECT, "thinking": OBJECT, "context_management": OBJECT, "output_config": OBJECT}
ANTHROPIC_METADATA: Spec = {"user_id": STRING}
# Ollama /api/chat and /api/generate (``truncate``, ``shift``, ``raw``, ``logprobs``, ``keep_alive``:
# ollama/parse.py).
OLLAMA: Spec = {"think": THINK, "top_logprobs": integer(0, 20), "template": STRING, "context": INTEGERS}
OLLAMA_MESSAGE: Spec = {"tool_name": STRING, "thinking": STRING, "tool_call_id": STRING}
# ``options`` Ollama reads (api/types.go), besides the portable ones ollama/parse.py maps.
OLLAMA_OPTIONS: Spec = {
    **{key: integer(-1) for key in ("num_keep", "num_ctx", "num_batch", "num_gpu", "main_gpu", "num_thread", "repeat_last_n")},
    "top_k": integer(0),
    "mirostat": integer(0, 2),
    **{
        key: NUMBER
        for key in (
            "min_p",
            "typical_p",
            "repeat_penalty",
            "presence_penalty",
            "frequency_penalty",
            "mirostat_tau",
            "mirostat_eta",
        )
    },
    **{key: BOOLEAN for key in ("penalize_newline", "numa", "use_mmap", "use_mlock", "low_vram", "f16_kv", "vocab_only")},
}
