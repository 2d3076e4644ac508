"""Images in tool results, for a backend that speaks OpenAI's chat dialect (LlamaFarm).

A tool message there takes text only, so a result that came with images (Codex's
``view_image`` sends the picture it read as the call's output) keeps its text on the tool
message, and its images travel on one user turn placed after the run of tool results: a
user turn between two results of the same assistant turn would break the pairing of calls
and results that chat backends check. Ollama needs none of this: a tool message there
carries ``images`` like any other (``ollama_wire.ollama_messages``).
"""

from __future__ import annotations

from typing import Any


def images_after_tool_results(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` with every tool message's images moved onto a user turn after its run of
    tool results; the same list when no tool message holds an image."""
    if not any(m.get("role") == "tool" and _images(m.get("content")) for m in messages):
        return messages
    out: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []  # the images of the current run of tool messages
    for message in messages:
        if message.get("role") != "tool" and held:
            out.append({"role": "user", "content": held})
            held = []
        images = _images(message.get("content")) if message.get("role") == "tool" else []
        if not images:
            out.append(message)
            continue
        noun = "image" if len(images) == 1 else "images"
        parts = message["content"]  # a list: it held images
        text = "\n".join(p["text"] for p in parts if p.get("type") == "text" and isinstance(p.get("text"), str))
        # Said in words, so the model reads the result and the user turn as one answer to its call.
        out.append({**message, "content": text or f"(the result is the {noun} below)"})
        held += [{"type": "text", "text": f"The {noun} from tool call {message.get('tool_call_id')}:"}, *images]
    if held:
        out.append({"role": "user", "content": held})
    return out


def _images(content: Any) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return []
    return [p for p in content if isinstance(p, dict) and p.get("type") == "image_url"]
