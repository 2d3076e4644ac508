"""Endpoints for running several hosts: the recent-requests log, model equivalents, and
``GET /metrics`` for Prometheus (the hosts themselves are ``api/admin/integrations.py``).

Thin like every route: parse, call the log / equivalents, shape the answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from atmosphere.api.admin.requests import history_answer, wants_history
from atmosphere.api.common import body_limit, json_response
from atmosphere.api.openai.parse import read_json, require_object
from atmosphere.errors import Conflict, InvalidRequest, StateNotSaved
from atmosphere.observe.metrics import CONTENT_TYPE, Metrics
from atmosphere.observe.requestlog import RequestLog
from atmosphere.router.equivalents import EquivalentError, Equivalents, TooManyEquivalents, check, suggest
from atmosphere.router.integrations import Integrations

router = APIRouter()
_MAX_LIMIT = 500


def _cards(request: Request) -> Integrations:
    return request.app.state.integrations  # type: ignore[no-any-return]


async def _body(request: Request) -> dict[str, Any]:
    return require_object(await read_json(request, body_limit(request)))


# --- the request log -------------------------------------------------------------------


@router.get("/v1/requests")
async def recent_requests(
    request: Request, backend: str | None = None, model: str | None = None, outcome: str | None = None, limit: str = "100"
) -> Response:
    if wants_history(request.query_params):  # filters the log has not: the usage history answers
        return await history_answer(request)
    if outcome not in (None, "", "ok", "fallback", "error"):
        raise InvalidRequest("'outcome' must be one of ok, fallback, error.", param="outcome")
    try:
        count = int(limit)
    except ValueError:
        raise InvalidRequest("'limit' must be an integer.", param="limit") from None
    if not 1 <= count <= _MAX_LIMIT:
        raise InvalidRequest(f"'limit' must be between 1 and {_MAX_LIMIT}.", param="limit")
    log: RequestLog = request.app.state.requests
    found = log.query(backend=backend or None, model=model or None, outcome=outcome or None, limit=count)
    return json_response({"requests": [entry.to_dict() for entry in found]})


# --- model equivalents -----------------------------------------------------------------


def _equivalents(request: Request) -> Equivalents:
    return request.app.state.equivalents  # type: ignore[no-any-return]


@router.get("/v1/models/equivalents")
async def list_equivalents(request: Request) -> Response:
    return json_response({"equivalents": [e.to_dict() for e in _equivalents(request).all()]})


@router.get("/v1/models/equivalents/suggestions")
async def equivalent_suggestions(request: Request) -> Response:
    return json_response({"suggestions": suggest(_cards(request).serving_models(), _equivalents(request))})


@router.post("/v1/models/equivalents")
async def accept_equivalent(request: Request) -> Response:
    data = await _body(request)
    try:
        equivalent = check(data.get("name"), data.get("members"))
    except EquivalentError as exc:
        raise InvalidRequest(str(exc), param="members" if "member" in str(exc) else "name") from None
    unknown = [k for k in equivalent.members if not _cards(request).knows(k) and k not in ("ollama", "llamafarm")]
    if unknown:
        raise InvalidRequest(f"Unknown integration id(s) in 'members': {', '.join(unknown)}.", param="members")
    try:
        await _equivalents(request).add(equivalent)
    except TooManyEquivalents as exc:  # the models file is full: the state refuses, not the request
        raise Conflict(f"{exc}.", code="too_many_equivalents") from None
    except OSError as exc:
        raise StateNotSaved(f"Could not write the models file: {exc.strerror or exc}. Nothing was changed.") from None
    return json_response({"equivalent": equivalent.to_dict()})


# --- Prometheus ------------------------------------------------------------------------


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE)
