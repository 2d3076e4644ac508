"""Error types, and the one place that maps them to HTTP status and the OpenAI error body."""

from __future__ import annotations

from typing import Any, Literal

from atmosphere.domain import Attempt, FailureKind


class AtmosphereError(Exception):
    """Base of errors that reach a client; carries the OpenAI error fields."""

    status: int = 500
    type: str = "server_error"
    code: str | None = None

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


class InvalidRequest(AtmosphereError):
    status = 400
    type = "invalid_request_error"


class NotFound(AtmosphereError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class Unauthorized(AtmosphereError):
    """No API key, or the wrong one, while the service requires one."""

    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class Forbidden(AtmosphereError):
    """A request the service refuses whoever sends it (a foreign web page, a foreign Host)."""

    status = 403
    type = "invalid_request_error"
    code = "forbidden"


class NotAllowedForKey(Forbidden):
    """A client key's scope leaves out this surface, path or model."""

    code = "key_not_allowed"


class KeyRateLimited(AtmosphereError):
    """A client key is over one of its limits; ``Retry-After`` says when to try again."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.headers["Retry-After"] = str(retry_after)


class MethodNotAllowed(AtmosphereError):
    status = 405
    type = "invalid_request_error"

    def __init__(self, message: str, *, allow: str | None = None):
        super().__init__(message)
        if allow:
            self.headers["Allow"] = allow


class Conflict(AtmosphereError):
    """The request is well formed but the service's state refuses it (e.g. a cap is reached)."""

    status = 409
    type = "invalid_request_error"
    code = "conflict"


class HTTPStatusError(AtmosphereError):
    """Any other HTTP-level refusal, with its status as given (e.g. from the web framework)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.type = "invalid_request_error" if status < 500 else "server_error"


class ModelNotLocal(Forbidden):
    """The model runs on a hosted service and cloud models are not allowed (local by default)."""

    code = "model_not_local"


class PayloadTooLarge(AtmosphereError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class StateNotSaved(AtmosphereError):
    """A change could not be written to the state directory, so it was not made."""

    code = "state_not_saved"


class HistoryUnavailable(AtmosphereError):
    """The usage history (or the key store) cannot be opened; requests are still served."""

    status = 503
    type = "server_error"
    code = "usage_not_recorded"


class KeysUnavailable(AtmosphereError):
    """Client keys cannot be checked or managed: their database is not open or not reachable."""

    status = 503
    type = "server_error"
    code = "keys_unavailable"


class ClientClosedRequest(AtmosphereError):
    """The client left before its answer: the upstream call was cancelled (nginx's 499)."""

    status = 499
    type = "client_closed_request"
    code = "client_closed_request"


class _AttemptsError(AtmosphereError):
    """An error after trying backends: it keeps every attempt for the caller."""

    def __init__(self, message: str, attempts: list[Attempt], **kwargs: Any):
        super().__init__(message, **kwargs)
        self.attempts = attempts


class NoBackendAvailable(_AttemptsError):
    status = 503
    code = "no_backend_available"


class HostsBusy(NoBackendAvailable):
    """Every host that could serve the model is at its concurrency limit and its queue is
    full (or the wait ran past the queue deadline): come back shortly."""

    code = "hosts_busy"

    def __init__(self, message: str, attempts: list[Attempt], *, retry_after: int = 1):
        super().__init__(message, attempts)
        self.headers = {"Retry-After": str(retry_after)}


class UpstreamError(_AttemptsError):
    status = 502
    code = "upstream_error"


class UpstreamTimeout(_AttemptsError):
    status = 504
    code = "upstream_timeout"


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
        return NoBackendAvailable(f"No backend could serve {what}. {detail}", attempts)
    if kinds <= {"unreachable", "skipped", "timeout"}:
        return UpstreamTimeout(f"Upstream timed out serving {what}. {detail}", attempts)
    return UpstreamError(f"Upstream error serving {what}. {detail}", attempts)


def unexpected_answer(exc: BaseException, *, detail: bool = False) -> str:
    """The reason given when an adapter could not digest what a backend sent (a bug or a
    backend of an unexpected shape): the exception's type, and its text where it is logged."""
    return f"unexpected answer ({type(exc).__name__}: {exc})" if detail else f"unexpected answer ({type(exc).__name__})"
