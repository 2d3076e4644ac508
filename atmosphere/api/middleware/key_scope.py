"""What a client key may do, decided before the request runs: which paths are whose, and the
401 / 403 / 429 a key earns, as errors the caller's surface renders in its own shape.

A path belongs to a surface family (``openai``, ``anthropic``, ``ollama``), to every family
(the model lists), or to management (integrations, keys, usage, the request log, /ws,
/metrics): that is the admin key's alone. The model a key may use is checked by the executor
(the model is in the body), through ``RequestContext.refuse_model`` set here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.types import Message, Send

from atmosphere.api import paths
from atmosphere.errors import AtmosphereError, KeyRateLimited, NotAllowedForKey, Unauthorized
from atmosphere.observe.context import RequestContext
from atmosphere.store.keys import ClientKey
from atmosphere.store.limits import Limiter

ANY_FAMILY = "*"
_LABELS = {"openai": "OpenAI", "anthropic": "Anthropic", "ollama": "Ollama"}


def family(path: str) -> str | None:
    """The surface family ``path`` belongs to; ``ANY_FAMILY`` for model lists; None for management."""
    if paths.under(path, paths.OLLAMA):
        return "ollama"
    if path.startswith(paths.ANTHROPIC):
        return "anthropic"
    if path.startswith(paths.OPENAI):
        return "openai"
    if paths.under(path, paths.MODELS) and not path.startswith(paths.MODELS + "/equivalents"):
        return ANY_FAMILY
    return None


def _day(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")


def refusal(key: ClientKey, path: str, now: float | None = None) -> AtmosphereError | None:
    """Why ``key`` may not call ``path`` at all (revoked, expired, out of scope), or None."""
    now = time.time() if now is None else now
    if key.revoked_at is not None:
        return Unauthorized(f"The API key '{key.name}' was revoked.")
    if key.expired(now):
        assert key.expires_at is not None
        return Unauthorized(f"The API key '{key.name}' expired at {_day(key.expires_at)}.")
    wanted = family(path)
    if wanted is None:
        return NotAllowedForKey(f"Key '{key.name}' is a client key; {path} needs the admin key (ATMOSPHERE_API_KEY).")
    if wanted != ANY_FAMILY and not key.allows_surface(wanted):
        allowed = ", ".join(_LABELS.get(s, s) for s in key.surfaces or ()) or "none"
        return NotAllowedForKey(f"Key '{key.name}' may not use the {_LABELS[wanted]} API (it may use: {allowed}).")
    return None


def model_refusal(key: ClientKey) -> Callable[[str | None], str | None]:
    """The context's ``refuse_model`` for ``key``: why it may not use a model, or None."""

    def refuse(model: str | None) -> str | None:
        if key.allows_model(model):
            return None
        patterns = ", ".join(key.models or ())
        return f"Key '{key.name}' may not use model '{model or ''}' (it may use: {patterns or 'none'})."

    return refuse


async def admit(key: ClientKey, limiter: Limiter) -> KeyRateLimited | None:
    """Count the request against ``key``'s limits; the 429 when it is over one."""
    refused = await limiter.admit(key)
    return KeyRateLimited(refused.message, retry_after=refused.retry_after) if refused is not None else None


def answer_send(key: ClientKey, limiter: Limiter, send: Send) -> Send:
    """The ``send`` to answer an admitted request of ``key`` with. With a lease held on this replica
    (PostgreSQL, a key with a concurrency limit), it ends the lease before the answer's last byte goes
    out, so a client that sends its next request at once, to any replica, finds its slot free; else
    ``send`` itself (nothing more per message)."""
    leases = limiter.leases
    if not leases.holds(key.id):
        return send
    ended = False

    async def send_ending(message: Message) -> None:
        nonlocal ended
        if not ended and message["type"] == "http.response.body" and not message.get("more_body", False):
            ended = True
            await leases.end(key.id)
        await send(message)

    return send_ending


def hold_to(context: RequestContext | None, key: ClientKey) -> None:
    """The request is ``key``'s: its name in the log and history, its model scope, its prompt choice."""
    if context is None:
        return
    context.key = key.name
    if key.models is not None:
        context.refuse_model = model_refusal(key)
    context.log_prompts = key.log_prompts
