"""Guess which capability a free-text intent asks for (for /v1/execute)."""

from __future__ import annotations

import re

_EMBED = re.compile(r"\b(embed|embedding|embeddings|vector|vectors|vectorize|similarity)\b", re.I)
_GENERATE = re.compile(r"\b(complete|completion|continue|generate|write)\b", re.I)


def infer_capability(intent: str) -> str:
    """``embeddings`` when the intent talks about vectors, ``generate`` for completion-style
    requests, else ``chat`` (the safest default: every chat model can answer)."""
    if _EMBED.search(intent):
        return "embeddings"
    if _GENERATE.search(intent):
        return "generate"
    return "chat"
