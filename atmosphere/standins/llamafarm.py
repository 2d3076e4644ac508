"""A protocol-faithful stand-in for the LlamaFarm *server* (port 14345).

Follows shared/reference/llamafarm-api.md sections 2-7 and what a real 0.0.27 did
("Observed"): project-scoped chat only (no top-level `/v1/chat/completions`), error bodies
of both FastAPI and LlamaFarm shapes, nulls stripped from answers, projects in several
namespaces (one with `validation_error`), per-project model lists that leak `api_key`,
422 `ProjectConfigError` for a broken or vanished project, and a `/health` whose verdict
ignores the runtime (`llamafarm_health`). Chat answers per provider: `llamafarm_chat`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atmosphere.standins.catalog import Project, ProjectModel
from atmosphere.standins.common import fastapi_body_check, json_response, request_json
from atmosphere.standins.llamafarm_chat import APOLOGY, MAX_ITERATIONS_MESSAGE, UPSTREAM_FAILURE, ChatAnswers, reply_text
from atmosphere.standins.llamafarm_health import DATA_DIR, health_body
from atmosphere.standins.middleware import emulator_app
from atmosphere.standins.state import EmulatorState

__all__ = ["APOLOGY", "MAX_ITERATIONS_MESSAGE", "UPSTREAM_FAILURE", "create_llamafarm_app", "reply_text"]

# The `error500` fault's body: `server/api/errors.py`'s handler for unhandled exceptions.
INTERNAL_ERROR = {"error": "InternalServerError", "message": "An unexpected error occurred"}
DESIGNER_INDEX = (
    '<!doctype html>\n<html lang="en"><head><meta charset="UTF-8" />'
    "<title>LlamaFarm Designer</title></head>"
    '<body><div id="root"></div></body></html>\n'
)
# Defaults 0.0.27 fills into every model entry of a listed or per-project model list.
_MODEL_DEFAULTS: dict[str, Any] = {"prompts": ["default"], "tool_call_strategy": "native_api", "tools": [], "keep_loaded": False}


def _strip_none(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if v is not None}


def _model_entry(model: ProjectModel) -> dict[str, Any]:
    """A model entry as 0.0.27 lists it: schema defaults filled in, `api_key` in clear text."""
    entry = _strip_none(
        {
            "name": model.name,
            "description": model.description,
            "provider": model.provider,
            "model": model.model,
            "base_url": model.base_url,
            "api_key": model.api_key,
        }
    )
    return {**entry, **_MODEL_DEFAULTS}


def _project_entry(namespace: str, project: Project) -> dict[str, Any]:
    runtime: dict[str, Any] = {"models": [_model_entry(m) for m in project.models]}
    if project.default_model is not None:
        runtime = {"default_model": project.default_model, **runtime}
    config = {
        "version": "v1",
        "name": project.name,
        "namespace": namespace,
        "prompts": [],
        "rag": {},
        "datasets": [],
        "runtime": runtime,
    }
    entry: dict[str, Any] = {"namespace": namespace, "name": project.name, "config": config}
    if project.validation_error is not None:
        entry["validation_error"] = project.validation_error
    entry["last_modified"] = project.last_modified
    return entry


def _config_error(message: str) -> Response:
    return json_response({"error": "ProjectConfigError", "message": message, "details": None}, 422)


def _unexpected_error(request_id: str) -> Response:
    """The last-resort middleware's 500 (an unknown model alias), plain JSON even for a stream."""
    body = {"error": "Internal Server Error", "message": "An unexpected error occurred.", "request_id": request_id}
    return json_response(body, 500)


class _RequestId:
    """`asgi-correlation-id`: every server answer carries `x-request-id` (32 hex)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope["llamafarm.request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


class _Api:
    """Handlers bound to one `EmulatorState` and the namespace of projects that name none."""

    def __init__(self, state: EmulatorState, namespace: str) -> None:
        self.state = state
        self.namespace = namespace
        self.answers = ChatAnswers(state)

    def _find(self, request: Request) -> tuple[str, str, Project | None]:
        namespace = request.path_params["namespace"]
        name = request.path_params["project"]
        return namespace, name, self.state.find_project(namespace, name, self.namespace)

    def _not_found(self, namespace: str, name: str) -> Response:
        message = f"Project {namespace}/{name} not found"
        return json_response({"error": "ProjectNotFound", "message": message, "details": None}, 404)

    def _loaded(self, request: Request) -> Project | Response:
        """The project as chat and the models route load it: through the config loader."""
        namespace, name, project = self._find(request)
        if project is None:
            if self.state.missing_project_status == 404:
                return self._not_found(namespace, name)
            return _config_error(f"Directory does not exist: {DATA_DIR}/projects/{namespace}/{name}")
        if project.validation_error is not None:
            return _config_error(f"Configuration validation error: {project.validation_error}")
        return project

    async def health(self, request: Request) -> Response:
        return json_response(await health_body(self.state))

    async def liveness(self, request: Request) -> Response:
        return json_response({"status": "alive"})

    async def info(self, request: Request) -> Response:
        return json_response({"version": self.state.llamafarm_version, "data_directory": DATA_DIR})

    async def root(self, request: Request) -> Response:
        if self.state.fault == "html":
            return HTMLResponse(DESIGNER_INDEX)
        return json_response({"message": "LlamaFarm API", "designer": "not available"})

    async def projects(self, request: Request) -> Response:
        namespace = request.path_params["namespace"]
        found = [p for p in self.state.projects if (p.namespace or self.namespace) == namespace]
        entries = [_project_entry(namespace, p) for p in found]
        return json_response({"total": len(entries), "projects": entries})

    async def project(self, request: Request) -> Response:
        namespace, name, project = self._find(request)
        if project is None:
            return self._not_found(namespace, name)
        return json_response({"project": _project_entry(namespace, project)})

    async def project_models(self, request: Request) -> Response:
        project = self._loaded(request)
        if isinstance(project, Response):
            return project
        models = [{**_model_entry(m), "default": m.name == project.default_model} for m in project.models]
        return json_response({"total": len(models), "models": models})

    async def hf_models(self, request: Request) -> Response:
        provider = request.query_params.get("provider", "universal")
        if provider != "universal":
            detail = f"Invalid provider '{provider}'. Supported providers: universal"
            return json_response({"detail": detail}, 400)
        if self.state.hf_cache is None:
            detail = (
                "Cache directory not found: /root/.cache/huggingface/hub. Please use `cache_dir` argument "
                "or set `HF_HUB_CACHE` environment variable."
            )
            return json_response({"detail": detail}, 500)
        data = [
            {
                "model_id": m.model_id,
                "size_bytes": m.size_bytes,
                "size_human": m.size_human,
                "last_modified": m.last_modified,
                "revisions": m.revisions,
            }
            for m in self.state.hf_cache
        ]
        return json_response({"data": data})

    async def chat(self, request: Request) -> Response:
        body = request_json(request)
        invalid = fastapi_body_check(body, "messages")
        if invalid is not None:
            return invalid
        project = self._loaded(request)
        if isinstance(project, Response):
            return project
        alias = project.alias(body.get("model"))
        if alias is None:
            return _unexpected_error(request.scope.get("llamafarm.request_id", uuid.uuid4().hex))
        headers = request.headers
        session = headers.get("x-session-id") or ("" if "x-no-session" in headers else str(uuid.uuid4()))
        return await self.answers.answer(project, alias, body, session)


def _fallback_handler(
    state: EmulatorState,
) -> Callable[[Request, Exception], Awaitable[Response]]:
    """FastAPI's JSON 404/405, or the Designer catch-all under the `html` fault."""

    async def handle(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if state.fault == "html":
            if request.method in ("GET", "HEAD"):
                return HTMLResponse(DESIGNER_INDEX)
            return json_response({"detail": "Method Not Allowed"}, 405)
        detail = exc.detail if isinstance(exc, HTTPException) else "Internal Server Error"
        headers = exc.headers if isinstance(exc, HTTPException) else None
        return json_response({"detail": detail}, status, headers)

    return handle


def create_llamafarm_app(state: EmulatorState | None = None, namespace: str = "default") -> Starlette:
    """Build the LlamaFarm server emulator; projects that name no namespace live in `namespace`."""
    state = state if state is not None else EmulatorState()
    api = _Api(state, namespace)
    project_path = "/v1/projects/{namespace}/{project}"
    routes = [
        Route("/", api.root),
        Route("/health", api.health),
        Route("/health/liveness", api.liveness),
        Route("/info", api.info),
        Route("/v1/models", api.hf_models),
        Route("/v1/projects/{namespace}", api.projects),
        Route(project_path, api.project),
        Route(project_path + "/models", api.project_models),
        Route(project_path + "/chat/completions", api.chat, methods=["POST"]),
    ]
    error500 = json_response(INTERNAL_ERROR, 500)
    return emulator_app(state, routes, error500=error500, unrouted=_fallback_handler(state), outer=[Middleware(_RequestId)])
