"""Error types, and the one place that maps them to HTTP status and the OpenAI error body.

A client-facing error declares its status and code on its class line
(``class NotFound(AtmosphereError, status=404, code="not_found")``); its OpenAI ``type``
follows from the status (``error_type``) unless the class names another.
"""

from __future__ import annotations

from typing import Any, Literal

from atmosphere.domain import Attempt, FailureKind


def error_type(status: int) -> str:
    """The OpenAI error ``type`` of a status: the caller's fault below 500, ours from 500."""
    return "invalid_request_error" if status < 500 else "server_error"


class AtmosphereError(Exception):
    """Base of errors that reach a client; carries the OpenAI error fields."""

    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init_subclass__(cls, *, status: int | None = None, code: str | None = None, type: str | None = None) -> None:
        super().__init_subclass__()
        if status is not None:
            cls.status = status
            cls.type = error_type(status)
        if code is not None:
            cls.code = code
        if type is not None:
            cls.type = type

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.headers: dict[str, str] = {}  # response headers the error implies (e.g. Allow on a 405)

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(AtmosphereError, status=400): ...


class NotFound(AtmosphereError, status=404, code="not_found"): ...


class ModelNotFound(NotFound, code="model_not_found"): ...


class Unauthorized(AtmosphereError, status=401, code="invalid_api_key"):
    """No API key, or the wrong one, while the service requires one."""


class Forbidden(AtmosphereError, status=403, code="forbidden"):
    """A request the service refuses whoever sends it (a foreign web page, a foreign Host)."""


class NotAllowedForKey(Forbidden, code="key_not_allowed"):
    """A client key's scope leaves out this surface, path or model."""


class KeyRateLimited(AtmosphereError, status=429, type="rate_limit_error", code="rate_limit_exceeded"):
    """A client key is over one of its limits; ``Retry-After`` says when to try again."""

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.headers["Retry-After"] = str(retry_after)


class MethodNotAllowed(AtmosphereError, status=405):
    def __init__(self, message: str, *, allow: str | None = None):
        super().__init__(message)
        if allow:
            self.headers["Allow"] = allow


class Conflict(AtmosphereError, status=409, code="conflict"):
    """The request is well formed but the service's state refuses it (e.g. a cap is reached)."""


class HTTPStatusError(AtmosphereError):
    """Any other HTTP-level refusal, with its status as given (e.g. from the web framework)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.type = error_type(status)


class ModelNotLocal(Forbidden, code="model_not_local"):
    """The model runs on a hosted service and cloud models are not allowed (local by default)."""


class PayloadTooLarge(AtmosphereError, status=413, code="request_too_large"): ...


class StateNotSaved(AtmosphereError, code="state_not_saved"):
    """A change could not be written to the state directory, so it was not made."""


class HistoryUnavailable(AtmosphereError, status=503, code="usage_not_recorded"):
    """The usage history (or the key store) cannot be opened; requests are still served."""


class KeysUnavailable(AtmosphereError, status=503, code="keys_unavailable"):
    """Client keys cannot be checked or managed: their database is not open or not reachable."""


class ClientClosedRequest(AtmosphereError, status=499, type="client_closed_request", code="client_closed_request"):
    """The client left before its answer: the upstream call was cancelled (nginx's 499)."""


class _AttemptsError(AtmosphereError):
    """An error after trying backends: it keeps every attempt for the caller."""

    def __init__(self, message: str, attempts: list[Attempt], **kwargs: Any):
        super().__init__(message, **kwargs)
        self.attempts = attempts


class NoBackendAvailable(_AttemptsError, status=503, code="no_backend_available"): ...


class HostsBusy(NoBackendAvailable, code="hosts_busy"):
    """Every host that could serve the model is at its concurrency limit and its queue is
    full (or the wait ran past the queue deadline): come back shortly."""

    def __init__(self, message: str, attempts: list[Attempt], *, retry_after: int = 1):
        super().__init__(message, attempts)
        self.headers = {"Retry-After": str(retry_after)}


class UpstreamError(_AttemptsError, status=502, code="upstream_error"): ...


class UpstreamTimeout(_AttemptsError, status=504, code="upstream_timeout"): ...


class BackendFailure(Exception):
    """An adapter could not get a usable answer from its backend.

    ``retryable`` failures (nothing reached the client yet and another backend may
    do better) make the executor fall back; others are the caller's fault and are
    reported as they are. ``retry_after`` is the backend's own ``Retry-After`` (seconds),
    which the circuit breaker honours.
    """

    def __init__(
        self,
        reason: str,
        *,
        kind: FailureKind = "error",
        retryable: bool = True,
        status: int | None = None,
        rescan: bool = False,
        retry_after: float | None = None,
    ):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.retryable = retryable
        self.status = status
        self.rescan = rescan  # what we knew of the backend is stale (e.g. a project vanished): probe now
        self.retry_after = retry_after

    @property
    def probe_status(self) -> Literal["offline", "error"]:
        """How a probe that failed this way reads: offline when nothing answered in time."""
        return "offline" if self.kind in ("unreachable", "timeout") else "error"


def failure_from_attempts(attempts: list[Attempt], what: str) -> AtmosphereError:
    """Choose 503 / 504 / 502 for a request every backend failed, listing each reason."""
    detail = "; ".join(f"{a.backend}: {a.reason}" for a in attempts) or "no integration is enabled"
    kinds = {a.kind for a in attempts}
    if not attempts or kinds <= {"unreachable", "skipped"}:
        return NoBackendAvailable(f"No integration could serve {what}. {detail}", attempts)
    if kinds <= {"unreachable", "skipped", "timeout"}:
        return UpstreamTimeout(f"Upstream timed out serving {what}. {detail}", attempts)
    return UpstreamError(f"Upstream error serving {what}. {detail}", attempts)


def unexpected_answer(exc: BaseException, *, detail: bool = False) -> str:
    """The reason given when an adapter could not digest what a backend sent (a bug or a
    backend of an unexpected shape): the exception's type, and its text where it is logged."""
    return f"unexpected answer ({type(exc).__name__}: {exc})" if detail else f"unexpected answer ({type(exc).__name__})"
