"""The API's paths by who owns them: the one list of prefixes.

The Ollama face is mounted at ``OLLAMA``; errors below ``ANTHROPIC`` and ``OLLAMA`` are
rendered in those protocols' shapes (``api/errors.py``), and so are the refusals made before
any routing (``connections.py``: a head too large); a client key's scope names families of
these (``middleware/key_scope.py``); the admin key guards ``GUARDED``; the dashboard never
answers a page below ``API``.
"""

from __future__ import annotations

OLLAMA = "/api"
ANTHROPIC = "/v1/messages"
OPENAI = ("/v1/chat/", "/v1/completions", "/v1/embeddings", "/v1/responses")  # its inference endpoints
MODELS = "/v1/models"  # every family's model list
API = ("/v1", OLLAMA, "/ws")  # where programs expect data, never the dashboard's HTML
GUARDED = (*API, "/metrics")  # what the admin key guards


def under(path: str, prefix: str) -> bool:
    """Whether ``path`` is ``prefix`` or below it, segment-wise (``/api`` owns ``/api/tags``, not ``/apiary``)."""
    base = prefix.rstrip("/")
    return path == base or path.startswith(base + "/")
