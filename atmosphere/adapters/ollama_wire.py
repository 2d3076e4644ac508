"""Ollama's wire shapes ↔ the domain's: messages, options, tool calls, usage, capabilities.

Pure conversions, no I/O; the adapter (``ollama.py``) does the talking.
"""

from __future__ import annotations

from typing import Any

from atmosphere import jsonfast
from atmosphere.domain import ModelSheet, Resident, Sampling, TokenLogprob, ToolCall, Usage
from atmosphere.errors import BackendFailure
from atmosphere.http.client import completion_id

# Ollama's model capabilities (api/show, api/tags on v0.30+) → ours.
_CAPABILITY_MAP = {
    "completion": ("chat", "generate"),
    "embedding": ("embeddings",),
    "vision": ("vision",),
    "tools": ("tools",),
}


# Ollama takes images only as base64 data; a URL would have to be fetched, which the gateway
# never does for a URL a request names. Said as a 400, not dropped (the model would answer blind).
IMAGE_URL_REFUSED = (
    "images must be base64 data URIs here: Ollama takes no image URLs, and Atmosphere never fetches a URL a request names"
)


def normalize_model_name(name: str) -> str:
    """Ollama treats a name without a tag as ``:latest``."""
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def guess_capabilities(name: str, family: str | None) -> set[str]:
    """For servers older than 0.6.4, which do not report capabilities."""
    lowered = name.lower()
    if "embed" in lowered or (family and "bert" in family.lower()):
        return {"embeddings"}
    caps = {"chat", "generate"}
    if "llava" in lowered or "vision" in lowered:
        caps.add("vision")
    return caps


def map_capabilities(reported: list[str]) -> set[str]:
    caps: set[str] = set()
    for item in reported:
        caps.update(_CAPABILITY_MAP.get(item, ()))
    return caps


def ollama_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI messages → Ollama's: string content, images as bare base64."""
    out = []
    call_names: dict[str, str] = {}  # tool call id → function name, for the tool results after it
    for message in messages:
        content = message.get("content")
        converted: dict[str, Any] = {"role": message.get("role", "user")}
        if message.get("role") == "developer":
            converted["role"] = "system"
        if isinstance(content, list):
            texts, images = [], []
            for part in content:
                kind = part.get("type")
                if kind == "text":
                    texts.append(part.get("text", ""))
                elif kind == "image_url":
                    url = (part.get("image_url") or {}).get("url", "")
                    if not (isinstance(url, str) and url.startswith("data:") and "," in url):
                        raise BackendFailure(IMAGE_URL_REFUSED, retryable=False)
                    images.append(url.split(",", 1)[1])
            converted["content"] = "\n".join(texts)
            if images:
                converted["images"] = images
        else:
            converted["content"] = content or ""
        if message.get("tool_calls"):
            converted["tool_calls"] = []
            for c in message["tool_calls"]:
                if not isinstance(c, dict) or not isinstance(c.get("function"), dict):
                    continue
                function = {"name": c["function"]["name"], "arguments": _json_arguments(c["function"].get("arguments"))}
                call: dict[str, Any] = {"function": function}
                if isinstance(c.get("id"), str):
                    call["id"] = c["id"]
                    call_names[c["id"]] = function["name"]
                converted["tool_calls"].append(call)
        if message.get("role") == "tool":
            # Ollama matches a result to its call by tool_name (and, in newer versions, tool_call_id).
            call_id = message.get("tool_call_id")
            name = message.get("name") or (call_names.get(call_id) if isinstance(call_id, str) else None)
            if name:
                converted["tool_name"] = name
            if call_id:
                converted["tool_call_id"] = call_id
        out.append(converted)
    return out


def _json_arguments(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return jsonfast.loads(arguments)
        except jsonfast.JSONDecodeError:
            return {}
    return arguments or {}


def options(req: Sampling) -> dict[str, Any]:
    """Sampling settings → Ollama ``options`` (``max_tokens`` is ``num_predict`` there)."""
    out: dict[str, Any] = {}
    for key in ("temperature", "top_p", "seed", "stop"):
        value = getattr(req, key)
        if value is not None:
            out[key] = value
    if req.max_tokens is not None:
        out["num_predict"] = req.max_tokens
    return out


def usage(final: dict[str, Any]) -> Usage:
    """Counts from a final line (``prompt_eval_count`` is absent when the prompt was cached)."""
    return Usage(prompt_tokens=int(final.get("prompt_eval_count") or 0), completion_tokens=int(final.get("eval_count") or 0))


def tool_calls(message: dict[str, Any]) -> list[ToolCall]:
    """Ollama's calls carry arguments as an object and often no id; OpenAI's carry JSON text and an id."""
    out = []
    for call in message.get("tool_calls") or ():
        if not isinstance(call, dict):
            continue
        function = call.get("function") or {}
        arguments = function.get("arguments", {})
        out.append(
            ToolCall(
                id=call.get("id") or f"call_{completion_id()[9:21]}",
                name=function.get("name", ""),
                arguments=arguments if isinstance(arguments, str) else jsonfast.dumps(arguments).decode(),
            )
        )
    return out


def finish(reason: str | None) -> str:
    reason = reason or "stop"
    return reason if reason in ("stop", "length", "tool_calls", "content_filter") else "stop"


# The first Ollama with ``logprobs`` on /api/chat (its release notes; the reference only says
# "newer versions", so unconfirmed). Older servers ignore the field silently, hence the check.
LOGPROBS_SINCE = (0, 12, 11)
# The first Ollama whose /api/embed reads ``dimensions`` (``git tag --contains`` on the commit
# adding it); older ones return full-length vectors without a word, hence the check too.
DIMENSIONS_SINCE = (0, 11, 11)


def version_at_least(version: str | None, wanted: tuple[int, ...]) -> bool:
    """Compare the leading ``major.minor.patch`` (versions carry suffixes: ``0.5.4-ipexllm-…``)."""
    if not version:
        return False
    numbers = []
    for piece in version.lstrip("v").split("-", 1)[0].split(".")[:3]:
        if not piece.isdigit():
            return False
        numbers.append(int(piece))
    return tuple(numbers) >= wanted


def logprobs_of(line: dict[str, Any]) -> list[TokenLogprob] | None:
    """Ollama's ``logprobs`` (the same shape as OpenAI's content logprobs)."""
    raw = line.get("logprobs")
    if not isinstance(raw, list):
        return None
    return [_token(item) for item in raw if isinstance(item, dict)]


def _token(item: dict[str, Any]) -> TokenLogprob:
    top = item.get("top_logprobs")
    raw_bytes = item.get("bytes")
    return TokenLogprob(
        token=str(item.get("token", "")),
        logprob=float(item.get("logprob") or 0.0),
        bytes=raw_bytes if isinstance(raw_bytes, list) else None,
        top=[_token(t) for t in top if isinstance(t, dict)] if isinstance(top, list) else [],
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def resident_of(entry: Any) -> Resident | None:
    """One ``/api/ps`` entry, its fields as the host sent them (None where it sent none)."""
    if not isinstance(entry, dict):
        return None
    name = entry.get("name") or entry.get("model")
    if not isinstance(name, str) or not name:
        return None
    return Resident(
        model=normalize_model_name(name),
        expires_at=_text(entry.get("expires_at")),
        size=_int(entry.get("size")),
        size_vram=_int(entry.get("size_vram")),
        context_length=_int(entry.get("context_length")),
        digest=_text(entry.get("digest")),
    )


def sheet_of(data: dict[str, Any]) -> ModelSheet:
    """An ``/api/show`` answer: its ``model_info`` and ``projector_info`` passed on as given."""
    metadata, projector = data.get("model_info"), data.get("projector_info")
    return ModelSheet(
        metadata=metadata if isinstance(metadata, dict) else None,
        projector=projector if isinstance(projector, dict) else None,
        parameters=_text(data.get("parameters")) or "",
        template=_text(data.get("template")) or "",
        modified_at=_text(data.get("modified_at")),
    )
