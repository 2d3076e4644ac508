"""Log probabilities for the Ollama emulator, deterministic so tests can check them.

Real Ollama (shared/reference/ollama-api.md §U.4) answers ``logprobs: true`` with a list of
``{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}``, each stream line
carrying its own tokens'; ``top_logprobs`` outside 0..20 is a 400. Servers older than the
feature ignore the field, which the emulator does too when its version is older.
"""

from __future__ import annotations

from typing import Any

_SINCE = (0, 12, 11)  # as the gateway assumes (adapters/ollama_wire.py); unconfirmed


def logprobs_asked(body: dict[str, Any], version: str) -> int | None:
    """How many alternatives per token to return, or None when no logprobs are sent."""
    if not body.get("logprobs"):
        return None
    numbers = [int(p) for p in version.split("-", 1)[0].split(".")[:3] if p.isdigit()]
    if tuple(numbers) < _SINCE:
        return None
    top = body.get("top_logprobs")
    return top if isinstance(top, int) and 0 <= top <= 20 else 0


def token_logprob(piece: str, top: int) -> dict[str, Any]:
    logprob = -round(0.05 * (len(piece) % 7 + 1), 4)
    alternatives = [
        {"token": f"{piece.strip() or '_'}{i}", "logprob": round(logprob - i - 1, 4), "bytes": list(f"{piece}{i}".encode())}
        for i in range(top)
    ]
    return {"token": piece, "logprob": logprob, "bytes": list(piece.encode()), "top_logprobs": alternatives}
