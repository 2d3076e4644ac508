"""A protocol-faithful stand-in for the LlamaFarm *server* (port 14345).

Follows shared/reference/llamafarm-api.md sections 2-7: project-scoped chat
only (no top-level `/v1/chat/completions`), FastAPI-style error bodies, nulls
stripped from answers, and the masked stream failure (HTTP 200 + apology).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from atmosphere.standins.catalog import Project, ProjectModel
from atmosphere.standins.common import (
    SSE,
    SSE_DONE,
    ChunkStream,
    count_words,
    fastapi_body_check,
    json_response,
    last_user_text,
    limit_words,
    prompt_words,
    request_json,
    split_words,
    sse,
)
from atmosphere.standins.middleware import EmulatorMiddleware, control_routes
from atmosphere.standins.state import EmulatorState

APOLOGY = (
    "I notice my previous response wasn't very helpful. Let me try again: could you "
    "rephrase your question or share a bit more detail?"
)
UPSTREAM_FAILURE = (
    "Chat service failed to generate a response: Cannot connect to host localhost:11434 "
    "ssl:default [Connect call failed ('127.0.0.1', 11434)]"
)
INTERNAL_ERROR = {"error": "InternalServerError", "message": "An unexpected error occurred"}
DESIGNER_INDEX = (
    '<!doctype html>\n<html lang="en"><head><meta charset="UTF-8" />'
    "<title>LlamaFarm Designer</title></head>"
    '<body><div id="root"></div></body></html>\n'
)
_DATA_DIR = str(Path.home() / ".llamafarm")


def reply_text(project: str, alias: str, user_text: str) -> str:
    """What every LlamaFarm emulator answer says: deterministic and self-identifying."""
    return f"Hello from the LlamaFarm emulator ({project}/{alias})! You said: {user_text}"


def _strip_none(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if v is not None}


def _model_entry(model: ProjectModel) -> dict[str, Any]:
    return _strip_none(
        {
            "name": model.name,
            "provider": model.provider,
            "model": model.model,
            "base_url": model.base_url,
            "description": model.description,
        }
    )


def _project_entry(namespace: str, project: Project) -> dict[str, Any]:
    runtime = {
        "default_model": project.default_model,
        "models": [_model_entry(m) for m in project.models],
    }
    config = {
        "version": "v1",
        "name": project.name,
        "namespace": namespace,
        "runtime": runtime,
        "prompts": [],
        "rag": {},
    }
    return {
        "namespace": namespace,
        "name": project.name,
        "config": config,
        "last_modified": project.last_modified,
    }


def _health_body(state: EmulatorState) -> dict[str, Any]:
    ollama_ok = state.fault != "unhealthy"
    ollama = {
        "name": "ollama",
        "status": "healthy" if ollama_ok else "unhealthy",
        "message": "http://localhost:11434 reachable" if ollama_ok else "http://localhost:11434 unreachable: connection refused",
        "latency_ms": 12 if ollama_ok else 1001,
        "details": {"host": "http://localhost:11434", "model_count": 4 if ollama_ok else 0},
    }
    components = [
        {"name": "server", "status": "healthy", "message": "FastAPI process responding", "latency_ms": 0},
        {"name": "storage", "status": "healthy", "message": f"{_DATA_DIR} writable", "latency_ms": 1},
        ollama,
        {"name": "universal-runtime", "status": "healthy", "message": "http://127.0.0.1:11540 reachable", "latency_ms": 3},
    ]
    seeds = [
        {
            "name": "seed:project",
            "status": "healthy",
            "message": "Model available",
            "latency_ms": 15,
            "runtime": {"provider": "ollama", "model": "llama3.2:3b"},
        }
    ]
    return {
        "status": "healthy" if ollama_ok else "unhealthy",
        "summary": ", ".join(f"{c['name']}={c['status']}" for c in components + seeds),
        "components": components,
        "seeds": seeds,
        "timestamp": int(time.time()),
    }


class _Api:
    """Handlers bound to one `EmulatorState` and the namespace its projects live in."""

    def __init__(self, state: EmulatorState, namespace: str) -> None:
        self.state = state
        self.namespace = namespace

    def _project(self, request: Request) -> Project | Response:
        namespace = request.path_params["namespace"]
        name = request.path_params["project"]
        project = self.state.find_project(name) if namespace == self.namespace else None
        if project is None:
            message = f"Project {namespace}/{name} not found"
            return json_response({"error": "ProjectNotFound", "message": message}, 404)
        return project

    async def health(self, request: Request) -> Response:
        return json_response(_health_body(self.state))

    async def liveness(self, request: Request) -> Response:
        return json_response({"status": "alive"})

    async def info(self, request: Request) -> Response:
        return json_response({"version": self.state.llamafarm_version, "data_directory": _DATA_DIR})

    async def root(self, request: Request) -> Response:
        if self.state.fault == "html":
            return HTMLResponse(DESIGNER_INDEX)
        return json_response({"message": "LlamaFarm API", "designer": "not available"})

    async def projects(self, request: Request) -> Response:
        namespace = request.path_params["namespace"]
        found = self.state.projects if namespace == self.namespace else []
        entries = [_project_entry(namespace, p) for p in found]
        return json_response({"total": len(entries), "projects": entries})

    async def project(self, request: Request) -> Response:
        project = self._project(request)
        if isinstance(project, Response):
            return project
        return json_response({"project": _project_entry(self.namespace, project)})

    async def project_models(self, request: Request) -> Response:
        project = self._project(request)
        if isinstance(project, Response):
            return project
        models = [{**_model_entry(m), "default": m.name == project.default_model} for m in project.models]
        return json_response({"total": len(models), "models": models})

    async def hf_models(self, request: Request) -> Response:
        provider = request.query_params.get("provider", "universal")
        if provider != "universal":
            detail = f"Invalid provider '{provider}'. Supported providers: universal"
            return json_response({"detail": detail}, 400)
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
        project = self._project(request)
        if isinstance(project, Response):
            return project
        alias = project.alias(body.get("model") or project.default_model)
        if alias is None:
            return json_response(INTERNAL_ERROR, 500)
        headers = request.headers
        session = headers.get("x-session-id") or ("" if "x-no-session" in headers else str(uuid.uuid4()))
        stream = body.get("stream") is True
        state = self.state
        if state.fault == "masked" and not stream:
            return json_response({"detail": UPSTREAM_FAILURE}, 500)
        messages = body["messages"]
        text = reply_text(project.name, alias.name, last_user_text(messages))
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        text, truncated = limit_words(text, limit)
        finish = "length" if truncated else "stop"
        head = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "created": int(time.time()),
            "model": alias.model,
        }
        if stream:
            return self._stream(head, text, finish, session)
        prompt_tokens = prompt_words(messages)
        completion_tokens = count_words(text)
        answer = {
            "id": head["id"],
            "object": "chat.completion",
            "created": head["created"],
            "model": alias.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        return json_response(answer, headers={"X-Session-ID": session} if session else None)

    def _stream(self, head: dict[str, Any], text: str, finish: str, session: str) -> Response:
        state = self.state
        base = {"id": head["id"], "object": "chat.completion.chunk", "created": head["created"], "model": head["model"]}
        if state.fault == "masked":
            pieces = [APOLOGY]
        else:
            pieces = split_words(text)
        chunks = []
        for index, piece in enumerate(pieces):
            delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
            chunks.append(sse({**base, "choices": [{"index": 0, "delta": delta}]}))
        if state.fault != "masked":
            last = {"index": 0, "delta": {}, "finish_reason": finish}
            chunks.append(sse({**base, "choices": [last]}))
        chunks.append(SSE_DONE)
        cut = state.cut_after if state.fault in ("cut", "stream_error") else None
        headers = {"X-Session-ID": session, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return ChunkStream(chunks, SSE, headers=headers, delay=state.chunk_delay, cut_after=cut)


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
    """Build the LlamaFarm server emulator; `state.projects` live in `namespace`."""
    state = state if state is not None else EmulatorState()
    api = _Api(state, namespace)
    project_path = "/v1/projects/{namespace}/{project}"
    routes = [
        *control_routes(state),
        Route("/", api.root, methods=["GET"]),
        Route("/health", api.health, methods=["GET"]),
        Route("/health/liveness", api.liveness, methods=["GET"]),
        Route("/info", api.info, methods=["GET"]),
        Route("/v1/models", api.hf_models, methods=["GET"]),
        Route("/v1/projects/{namespace}", api.projects, methods=["GET"]),
        Route(project_path, api.project, methods=["GET"]),
        Route(project_path + "/models", api.project_models, methods=["GET"]),
        Route(project_path + "/chat/completions", api.chat, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(EmulatorMiddleware, state=state, error500=json_response(INTERNAL_ERROR, 500))],
        exception_handlers={HTTPException: _fallback_handler(state)},
    )
    app.state.emulator = state
    return app
