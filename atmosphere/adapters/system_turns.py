"""System turns for a backend that reads one leading system message only.

LlamaFarm's chat agent keeps the *last* system message of a request as its system prompt
and drops the others (``server/agents/base/agent.py``, 0.0.27), and it reads a system
message's content only when it is a string. Claude Code (the mid-conversation-system
beta) and Codex (developer messages) send several, in the middle of the conversation, so
for LlamaFarm they are folded, in order, into one system message at the front. Ollama
needs none of this: its templates see every message where it was sent.
"""

from __future__ import annotations

from typing import Any

_SYSTEM_ROLES = frozenset({"system", "developer"})


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # text parts (OpenAI's array form)
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def one_leading_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` with every system (and developer) turn folded, in order, into one
    leading system message; the same list when it already has at most that."""
    positions = [i for i, m in enumerate(messages) if m.get("role") in _SYSTEM_ROLES]
    first = messages[0] if messages else {}
    if not positions or (positions == [0] and first.get("role") == "system" and isinstance(first.get("content"), str)):
        return messages
    texts = [text for text in (_text(messages[i].get("content")) for i in positions) if text]
    rest = [m for m in messages if m.get("role") not in _SYSTEM_ROLES]
    return [{"role": "system", "content": "\n\n".join(texts)}, *rest] if texts else rest
