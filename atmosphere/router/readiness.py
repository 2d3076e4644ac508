"""Steps of the plan that read what the last probe found about each model: readiness
(does what serves it answer?) and locality (would the prompt leave the network?).

Both were decided at probe time and stored on the model (``ModelInfo.ready``,
``ModelInfo.locality``), so a check here is a dict lookup: nothing in the request path
contacts anything.
"""

from __future__ import annotations

from atmosphere.domain import Attempt, ProbeResult
from atmosphere.errors import ModelNotLocal
from atmosphere.ports import Backend

# Statuses whose models may be routed: a degraded integration still serves its ready models.
ROUTABLE = frozenset({"healthy", "degraded"})
CLOUD_SETTING = "ATMOSPHERE_ALLOW_CLOUD=true (or --allow-cloud)"
_CLOUD_SUFFIX = f"runs on a hosted service, outside this network; cloud models need {CLOUD_SETTING}"


def cloud_reason(model: str) -> str:
    return f"model {model} {_CLOUD_SUFFIX}"


def screen(backend: Backend, result: ProbeResult, native: str, allow_cloud: bool) -> Attempt | None:
    """Why this backend must not be sent ``native`` now (a skip), or None to try it.

    A model the probe did not describe is let through: the backend decides.
    """
    info = result.model_info(native)
    if info is None:
        return None
    if info.locality == "cloud" and not allow_cloud:
        return Attempt(backend.id, cloud_reason(native), "skipped")
    if not info.ready:
        return Attempt(backend.id, f"model {native} is not ready: {info.unavailable_reason or 'unavailable'}", "skipped")
    return None


def not_local(model: str, skipped: list[Attempt]) -> ModelNotLocal | None:
    """The 403 for a request whose model is served only from the cloud, when that is why nothing serves it."""
    if skipped and all(a.reason.endswith(_CLOUD_SUFFIX) for a in skipped):
        return ModelNotLocal(
            f"The model `{model}` runs on a hosted service, so the prompt would leave this network. "
            f"Atmosphere keeps prompts local by default; set {CLOUD_SETTING} to allow cloud models.",
            param="model",
        )
    return None


def attempts_before(attempts: list[Attempt], served: str, backends: list[Backend]) -> list[Attempt]:
    """Only what happened before the backend that served: skips of lower-priority backends
    that were never in line are not news to the client."""
    order = {b.id: i for i, b in enumerate(backends)}
    limit = order.get(served, len(order))
    tried = {a.backend for a in attempts if a.kind != "skipped"}
    return [a for a in attempts if a.kind != "skipped" or a.backend in tried or order.get(a.backend, -1) < limit]
